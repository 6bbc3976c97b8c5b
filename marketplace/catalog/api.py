"""The annuaire's JSON API: published solutions for anyone, drafts created with a startup's token."""
from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint

from marketplace.catalog import services
from marketplace.catalog.schemas import (
    SolutionDraftOutSchema,
    SolutionOutSchema,
    SolutionPageSchema,
    SolutionQuerySchema,
    SolutionSchema,
)
from marketplace.core.errors import NotFound
from marketplace.web import get_db, settings
from marketplace.web.pagecache import for_visitors
from search.pipeline import has_words, object_ids, rank_documents
from search.tasks import rebuild_soon
from tenants.access import Actor
from tenants.models import Role, TenantKind
from tenants.web import require_token, token_of

blp = Blueprint("solutions", __name__, url_prefix="/solutions",
                description="Annuaire raisonné : les solutions publiées et leurs références")


@blp.route("")
@for_visitors
@blp.arguments(SolutionQuerySchema, location="query")
@blp.response(200, SolutionPageSchema)
def solutions(args):
    """Les solutions publiées, les plus récentes d'abord ou par pertinence pour `q` (filtre facultatif par domaine)"""
    db = get_db()
    ranked, words = None, {}
    if has_words(args["q"]):
        ranking, message = rank_documents(settings().search_dir, db, args["q"], doc_type="solution",
                                          on_unavailable=rebuild_soon)
        ranked = object_ids(ranking, "solution")
        words = {"searched": ranking.searched, "suggestion": ranking.suggestion, "message": message}
    items, total = services.published_solutions(db, args["page"], args["per_page"], args["domain"], ranked=ranked)
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"], **words}


@blp.route("/<int:solution_id>")
@for_visitors
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
@token_of(Role.member, (TenantKind.startup,), "Seuls les membres d'une startup peuvent proposer une solution.")
@blp.arguments(SolutionSchema)
@blp.response(201, SolutionDraftOutSchema)
@blp.alt_response(401, description="Jeton absent, invalide ou révoqué")
@blp.alt_response(403, description="Le jeton n'est pas celui d'un membre d'une startup")
@blp.doc(security=[{"bearer": []}])
def create(data):
    """Crée un brouillon de solution pour la startup du jeton (à soumettre depuis l'espace)"""
    return services.create_solution(get_db(), current_user, require_token().tenant, data)
