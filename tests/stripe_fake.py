"""A local HTTP server that answers the parts of Stripe's API Passerelle uses, with Stripe's JSON
shapes, error format and idempotency keys, and that signs webhooks exactly as Stripe does
(``Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.payload")``).

The product talks to it through the real ``stripe`` library (``STRIPE_API_BASE``): only the server
differs. It keeps its objects in memory; helpers play what a person does on Stripe's pages
(complete a Checkout, cancel a subscription) and build the events Stripe would send.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


def _nest(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding ("line_items[0][price]=…") back into objects and lists."""
    root: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node):
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


class FakeStripe:
    def __init__(self, webhook_secret: str = "whsec_test_passerelle"):
        self.webhook_secret = webhook_secret
        self.objects: dict[str, dict[str, dict]] = {k: {} for k in (
            "customers", "products", "prices", "checkout_sessions", "subscriptions", "invoices", "invoiceitems")}
        self.idempotent: dict[str, tuple[int, dict]] = {}
        self.requests: list[tuple[str, str, dict, dict]] = []  # method, path, body, headers
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # Running ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> FakeStripe:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    # What a person does on Stripe ------------------------------------------------------------------

    def complete_checkout(self, session_id: str, at: int | None = None) -> dict:
        """The customer pays: the subscription exists, active; returns the completed session."""
        with self._lock:
            session = self.objects["checkout_sessions"][session_id]
            price = self.objects["prices"][session["line_items"][0]["price"]]
            now = at or int(time.time())
            subscription = {"id": self.new_id("sub"), "object": "subscription", "customer": session["customer"],
                            "status": "active", "created": now, "cancel_at_period_end": False,
                            "metadata": session.get("subscription_data", {}).get("metadata", {}),
                            "items": {"object": "list", "data": [{
                                "id": self.new_id("si"), "object": "subscription_item", "price": price,
                                "current_period_end": now + 30 * 86400, "quantity": 1}]}}
            self.objects["subscriptions"][subscription["id"]] = subscription
            session.update(status="complete", subscription=subscription["id"], payment_status="paid")
            return dict(session)

    def set_subscription(self, subscription_id: str, **changes) -> dict:
        with self._lock:
            self.objects["subscriptions"][subscription_id].update(changes)
            return dict(self.objects["subscriptions"][subscription_id])

    def event(self, type_: str, obj: dict, created: int | None = None, event_id: str | None = None) -> dict:
        return {"id": event_id or self.new_id("evt"), "object": "event", "api_version": "2026-10-28.endive",
                "created": created or int(time.time()), "livemode": False, "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None}, "type": type_, "data": {"object": obj}}

    def sign(self, payload: bytes, timestamp: int | None = None, secret: str | None = None) -> str:
        timestamp = timestamp or int(time.time())
        signed = f"{timestamp}.".encode() + payload
        digest = hmac.new((secret or self.webhook_secret).encode(), signed, hashlib.sha256).hexdigest()
        return f"t={timestamp},v1={digest}"

    def webhook(self, event: dict, **sign) -> tuple[bytes, dict]:
        payload = json.dumps(event).encode()
        return payload, {"Stripe-Signature": self.sign(payload, **sign), "Content-Type": "application/json"}

    def count(self, kind: str) -> int:
        return len(self.objects[kind])

    # The API -------------------------------------------------------------------------------------------

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body: dict, replayed: bool = False):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Request-Id", fake.new_id("req"))
                if replayed:
                    self.send_header("Idempotent-Replayed", "true")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, message: str, code: str = "resource_missing",
                       type_: str = "invalid_request_error"):
                self._answer(status, {"error": {"type": type_, "code": code, "message": message}})

            def _route(self, method: str):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                params = _nest(parse_qsl(url.query, keep_blank_values=True) + parse_qsl(raw, keep_blank_values=True))
                if not (self.headers.get("Authorization") or "").startswith("Bearer sk_test_"):
                    return self._error(401, "Invalid API Key provided", "api_key_invalid", "invalid_request_error")
                key = self.headers.get("Idempotency-Key")
                fake.requests.append((method, url.path, params, dict(self.headers)))
                if method == "POST" and key and key in fake.idempotent:
                    status, body = fake.idempotent[key]
                    return self._answer(status, body, replayed=True)
                with fake._lock:
                    status, body = fake.dispatch(method, url.path, params)
                if method == "POST" and key and status < 500:
                    fake.idempotent[key] = (status, body)
                self._answer(status, body)

            def do_GET(self):  # noqa: N802
                self._route("GET")

            def do_POST(self):  # noqa: N802
                self._route("POST")

        return Handler

    def dispatch(self, method: str, path: str, p: dict) -> tuple[int, dict]:
        o = self.objects
        now = int(time.time())
        if method == "GET" and path == "/v1/prices":
            keys = p.get("lookup_keys") or []
            keys = keys if isinstance(keys, list) else [keys]
            data = [x for x in o["prices"].values() if x.get("lookup_key") in keys]
            return 200, {"object": "list", "data": data, "has_more": False, "url": "/v1/prices"}
        if method == "POST" and path == "/v1/products":
            product = {"id": self.new_id("prod"), "object": "product", "name": p["name"], "active": True,
                       "metadata": p.get("metadata", {}), "created": now}
            o["products"][product["id"]] = product
            return 200, product
        if method == "POST" and path == "/v1/prices":
            if p.get("lookup_key") and any(x.get("lookup_key") == p["lookup_key"] for x in o["prices"].values()):
                return 400, {"error": {"type": "invalid_request_error", "code": "lookup_key_exists",
                                       "message": "A price with this lookup key already exists."}}
            price = {"id": self.new_id("price"), "object": "price", "product": p["product"], "currency": p["currency"],
                     "unit_amount": int(p["unit_amount"]), "lookup_key": p.get("lookup_key"), "active": True,
                     "recurring": {"interval": p["recurring"]["interval"], "interval_count": 1},
                     "type": "recurring", "metadata": p.get("metadata", {})}
            o["prices"][price["id"]] = price
            return 200, price
        if method == "POST" and path == "/v1/customers":
            customer = {"id": self.new_id("cus"), "object": "customer", "name": p.get("name"), "email": p.get("email"),
                        "metadata": p.get("metadata", {}), "created": now}
            o["customers"][customer["id"]] = customer
            return 200, customer
        if method == "POST" and path == "/v1/checkout/sessions":
            if p.get("customer") not in o["customers"]:
                return 400, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                       "message": f"No such customer: '{p.get('customer')}'", "param": "customer"}}
            session = {"id": self.new_id("cs_test"), "object": "checkout.session", "mode": p["mode"],
                       "customer": p["customer"], "client_reference_id": p.get("client_reference_id"),
                       "line_items": p["line_items"], "metadata": p.get("metadata", {}),
                       "subscription_data": p.get("subscription_data", {}), "status": "open", "subscription": None,
                       "payment_method_types": p.get("payment_method_types"), "success_url": p["success_url"],
                       "url": f"https://checkout.stripe.test/c/pay/{now}"}
            session["url"] += "/" + session["id"]
            o["checkout_sessions"][session["id"]] = session
            return 200, session
        if method == "POST" and path == "/v1/billing_portal/sessions":
            return 200, {"id": self.new_id("bps"), "object": "billing_portal.session", "customer": p["customer"],
                         "url": f"https://billing.stripe.test/p/session/{p['customer']}", "return_url": p["return_url"]}
        if method == "GET" and path.startswith("/v1/subscriptions/"):
            found = o["subscriptions"].get(path.rsplit("/", 1)[1])
            if found is None:
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                       "message": "No such subscription"}}
            return 200, found
        if method == "GET" and path == "/v1/invoices":
            data = [i for i in o["invoices"].values() if i["customer"] == p.get("customer")]
            return 200, {"object": "list", "data": data, "has_more": False, "url": "/v1/invoices"}
        if method == "POST" and path == "/v1/invoiceitems":
            item = {"id": self.new_id("ii"), "object": "invoiceitem", "customer": p["customer"],
                    "amount": int(p["amount"]), "currency": p["currency"], "description": p.get("description"),
                    "invoice": None, "metadata": p.get("metadata", {})}
            o["invoiceitems"][item["id"]] = item
            return 200, item
        if method == "POST" and path == "/v1/invoices":
            pending = [i for i in o["invoiceitems"].values() if i["customer"] == p["customer"] and i["invoice"] is None]
            invoice = {"id": self.new_id("in"), "object": "invoice", "customer": p["customer"], "status": "draft",
                       "collection_method": p.get("collection_method"), "days_until_due": int(p.get("days_until_due") or 0),
                       "total": sum(i["amount"] for i in pending), "number": None, "created": now,
                       "metadata": p.get("metadata", {}), "hosted_invoice_url": None,
                       "lines": {"object": "list", "data": pending}}
            for item in pending:
                item["invoice"] = invoice["id"]
            o["invoices"][invoice["id"]] = invoice
            return 200, invoice
        m = re.fullmatch(r"/v1/invoices/([^/]+)/send", path)
        if method == "POST" and m:
            invoice = o["invoices"].get(m.group(1))
            if invoice is None:
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                       "message": "No such invoice"}}
            invoice.update(status="open", number=f"PASS-{len(o['invoices']):04d}",
                           hosted_invoice_url=f"https://invoice.stripe.test/{invoice['id']}")
            return 200, invoice
        return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                               "message": f"Unrecognized request URL ({method}: {path})."}}
