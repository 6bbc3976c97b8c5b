"""Group purchases in the JSON API: the open ones and their live figures (public), a collectivité's
commitment with its personal token (PUT to commit or change, DELETE to withdraw; both idempotent)."""
from __future__ import annotations

import functools

from flask_login import current_user
from flask_smorest import Blueprint

from marketplace.core.errors import NotFound
from marketplace.purchasing import services
from marketplace.purchasing.schemas import (
    CommitmentInSchema,
    CommitmentOutSchema,
    PurchaseOutSchema,
    PurchasePageSchema,
    PurchaseQuerySchema,
)
from marketplace.web import get_db
from marketplace.web.pagecache import for_visitors
from tenants.access import Actor
from tenants.models import Role, TenantKind
from tenants.web import require_token, token_of

blp = Blueprint("group_purchases", __name__, url_prefix="/group-purchases",
                description="Achats groupés (groupements de commandes) : les chiffres en direct, l'engagement "
                            "d'une collectivité")

CITY_MEMBERS = (Role.member, (TenantKind.collectivite,), "Seuls les membres d'une collectivité s'engagent.")


def as_dict(purchase, result=None) -> dict:
    db = get_db()
    result = result if result is not None else services.figures(db, purchase)
    answer = services.procedure(db, purchase, result)
    next_tier = None
    if result.next_tier is not None:
        next_tier = {"tier": result.next_tier, "units_missing": result.units_to_next,
                     "cities_missing": result.cities_to_next, "unit_price_ht_cents": result.next_unit_price_ht_cents}
    return {"id": purchase.id, "title": purchase.title, "status": purchase.status.value, "deadline": purchase.deadline,
            "coordinator": purchase.coordinator.name, "solution_id": purchase.solution_id, "unit": purchase.unit,
            "unit_label": purchase.unit_label, "list_price_ht_cents": purchase.list_price_ht_cents,
            "tiers": purchase.tiers, "min_units": purchase.min_units, "min_cities": purchase.min_cities,
            "member_count": result.member_count, "total_units": result.total_units,
            "current_tier": result.current_tier, "unit_price_ht_cents": result.unit_price_ht_cents,
            "total_ht_cents": result.total_ht_cents, "saving_ht_cents": result.saving_ht_cents,
            "next_tier": next_tier, "procedure": answer.as_dict() if answer else None,
            "url": f"/achats-groupes/{purchase.id}"}


def _public(purchase_id: int):
    try:
        return services.get_visible(get_db(), purchase_id, Actor.anonymous())
    except NotFound:
        raise NotFound(f"Aucun achat groupé public n'a l'identifiant {purchase_id}.") from None


def _known_purchase(view):
    """Placed above ``@blp.arguments``: an unknown purchase is 404 before the body is read."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        _public(kwargs["purchase_id"])
        return view(*args, **kwargs)

    return wrapper


@blp.route("")
@for_visitors
@blp.arguments(PurchaseQuerySchema, location="query")
@blp.response(200, PurchasePageSchema)
def purchases(args):
    """Les achats groupés (ouverts par défaut), date limite la plus proche d'abord"""
    rows, total = services.public_purchases(get_db(), status=args["status"], solution_id=args["solution_id"],
                                            page=args["page"], per_page=args["per_page"])
    results = services.figures_many(get_db(), rows)
    return {"items": [as_dict(p, r) for p, r in zip(rows, results)], "total": total, "page": args["page"], "per_page": args["per_page"]}


@blp.route("/<int:purchase_id>")
@for_visitors
@blp.response(200, PurchaseOutSchema)
@blp.alt_response(404, description="Achat groupé inconnu ou pas encore ouvert")
def purchase(purchase_id):
    """Un achat groupé et ses chiffres en direct : volume, palier, prix, procédure requise"""
    return as_dict(_public(purchase_id))


@blp.route("/<int:purchase_id>/commitment", methods=["PUT"])
@token_of(*CITY_MEMBERS)
@_known_purchase
@blp.arguments(CommitmentInSchema)
@blp.response(200, CommitmentOutSchema)
@blp.alt_response(401, description="Jeton absent, invalide ou révoqué")
@blp.alt_response(403, description="Le jeton n'est pas celui d'un membre d'une collectivité")
@blp.doc(security=[{"bearer": []}])
def put_commitment(data, purchase_id):
    """Engage la collectivité du jeton pour cette quantité, ou change la quantité (idempotent)"""
    found = _public(purchase_id)
    membership = require_token()
    mine, created = services.commit(get_db(), current_user, membership.tenant, found, data["quantity"])
    result = services.figures(get_db(), found)
    share = next((s for s in result.shares if s.key == membership.tenant_id), None)
    return {"purchase_id": found.id, "quantity": mine.quantity, "created": created,
            "amount_ht_cents": share.amount_ht_cents if share else 0}


@blp.route("/<int:purchase_id>/commitment", methods=["DELETE"])
@token_of(*CITY_MEMBERS)
@blp.response(204)
@blp.alt_response(401, description="Jeton absent, invalide ou révoqué")
@blp.alt_response(403, description="Le jeton n'est pas celui d'un membre d'une collectivité")
@blp.doc(security=[{"bearer": []}])
def delete_commitment(purchase_id):
    """Retire l'engagement de la collectivité du jeton (rien à retirer n'est pas une erreur)"""
    found = _public(purchase_id)
    services.withdraw(get_db(), current_user, require_token().tenant, found)
    return None
