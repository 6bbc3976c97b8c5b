"""HTML forms validated by marshmallow schemas: the same per-field messages as the API.

The parsed form is kept for the request (``g.form``): when a service refuses the action, the edge
puts the refusal on its field and renders the page again (``marketplace.web.on_refusal``).
"""
from __future__ import annotations

from typing import Any

from flask import g, request
from marshmallow import EXCLUDE, Schema, ValidationError


class FormResult:
    def __init__(self, data: dict[str, Any] | None, errors: dict[str, str], raw: dict[str, str]):
        self.data = data or {}
        self.errors = errors
        self.raw = raw

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_error(self, field: str | None, message: str) -> None:
        self.errors[field or "_form"] = message


def parse_form(schema: Schema, multi: tuple[str, ...] = ()) -> FormResult:
    """``multi`` names the fields sent several times (a group of checkboxes): they arrive as lists."""
    raw: dict = {k: v for k, v in request.form.items() if k != "csrf_token" and k not in multi}
    for name in multi:
        raw[name] = [v for v in request.form.getlist(name) if v.strip()]
    # Empty inputs are "not given", so optional fields get their defaults and required ones say so.
    cleaned = {k: v.strip() if isinstance(v, str) else v for k, v in raw.items()}
    cleaned = {k: v for k, v in cleaned.items() if v != "" and v != []}
    try:
        data = schema.load(cleaned, unknown=EXCLUDE)
    except ValidationError as exc:
        errors = {k: first_message(v) for k, v in exc.normalized_messages().items()}
        g.form = FormResult(None, errors, raw)
    else:
        g.form = FormResult(data, {}, raw)
    return g.form


def first_message(messages) -> str:
    # A list field's errors are keyed by item index ({0: ["Domaine inconnu."]}): show the first.
    while isinstance(messages, (list, dict)) and messages:
        messages = messages[0] if isinstance(messages, list) else next(iter(messages.values()))
    return str(messages)


def empty_form() -> FormResult:
    return FormResult(None, {}, {})
