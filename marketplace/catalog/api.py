"""The annuaire's JSON API: published solutions for anyone, drafts created with a startup's token."""
from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint, abort

from marketplace.catalog import services
from marketplace.catalog.schemas import (
    SolutionDraftOutSchema,
    SolutionOutSchema,
    SolutionPageSchema,
    SolutionQuerySchema,
    SolutionSchema,
)
from marketplace.core.errors import NotFound
from marketplace.web import get_db
from tenants.access import Actor
from tenants.models import Role, TenantKind
from tenants.web import require_token

blp = Blueprint("solutions", __name__, url_prefix="/solutions",
                description="Annuaire raisonné : les solutions publiées et leurs références")


@blp.route("")
@blp.arguments(SolutionQuerySchema, location="query")
@blp.response(200, SolutionPageSchema)
def solutions(args):
    """Les solutions publiées, les plus récentes d'abord (filtre facultatif par domaine)"""
    items, total = services.published_solutions(get_db(), args["page"], args["per_page"], args["domain"])
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


@blp.route("/<int:solution_id>")
@blp.response(200, SolutionOutSchema)
@blp.alt_response(404, description="Solution inconnue ou non publiée")
def solution(solution_id):
    """Une solution publiée, avec ses références (vérifiées ou déclarées)"""
    try:
        # Published only, whoever asks: the API is the public annuaire, not the owner's workspace.
        return services.get_visible_solution(get_db(), solution_id, Actor.anonymous())
    except NotFound:
        raise NotFound(f"Aucune solution publiée n'a l'identifiant {solution_id}.") from None


@blp.route("", methods=["POST"])
@blp.arguments(SolutionSchema)
@blp.response(201, SolutionDraftOutSchema)
@blp.doc(security=[{"bearer": []}])
def create(data):
    """Crée un brouillon de solution pour la startup du jeton (à soumettre depuis l'espace)"""
    membership = require_token()
    if membership.tenant.kind is not TenantKind.startup or not membership.role.at_least(Role.member):
        abort(403, message="Seuls les membres d'une startup peuvent proposer une solution.")
    return services.create_solution(get_db(), current_user, membership.tenant, data)
