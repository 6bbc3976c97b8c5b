"""The guichet's JSON API: public programmes with their INSEE-coded territory, and computed
eligibility (programmes for a commune or an EPCI, communes of a programme). No token needed:
published programmes and the territory registry are open data."""
from __future__ import annotations

from flask_smorest import Blueprint, abort

from marketplace.core.errors import NotFound
from marketplace.funding import access, eligibility, services
from marketplace.funding.models import Programme
from marketplace.funding.schemas import (
    CommuneOffersSchema,
    EligibleCommunesSchema,
    EpciOffersSchema,
    PageQuerySchema,
    ProgrammeOutSchema,
    ProgrammePageSchema,
    ProgrammeQuerySchema,
)
from marketplace.funding.services import ProgrammeFilters
from marketplace.web import get_db, settings
from marketplace.web.pagecache import for_visitors
from search.pipeline import has_words, object_ids, rank_documents
from search.tasks import rebuild_soon
from tenants.access import Actor
from tenants.territories import services as territories

blp = Blueprint("programmes", __name__, url_prefix="/programmes",
                description="Guichet des financements : programmes publiés, leurs appels et leur éligibilité calculée")
territory_blp = Blueprint("territory_programmes", __name__, url_prefix="/territories",
                          description="Éligibilité calculée d'une commune ou d'un EPCI aux programmes publiés")


def _unknown(field: str, message: str):
    abort(422, message="Certaines valeurs envoyées sont invalides.", errors={"query": {field: [message]}})


@blp.route("")
@for_visitors
@blp.arguments(ProgrammeQuerySchema, location="query")
@blp.response(200, ProgrammePageSchema)
def programmes(args):
    """Les programmes publiés, par intitulé ou par pertinence pour `q`, avec filtres (thématique, financeur, aide, territoire)

    `commune` (code INSEE) et `epci` (SIREN) donnent les programmes auxquels ce territoire est
    éligible, calculés exactement ; `region` et `departement` (codes INSEE) ceux dont le
    périmètre inclut tout ce territoire."""
    db = get_db()
    filters = ProgrammeFilters(theme=args["theme"], funder_level=args["funder_level"], aid_type=args["aid_type"],
                               beneficiary=args["beneficiary"], state_family=args["state_family"],
                               region=args["region"], departement=args["departement"])
    if args["region"] and territories.get_region(db, args["region"]) is None:
        _unknown("region", f"Aucune région n'a le code INSEE « {args['region']} ».")
    if args["departement"] and territories.get_departement(db, args["departement"]) is None:
        _unknown("departement", f"Aucun département n'a le code INSEE « {args['departement']} ».")
    ids: set[int] | None = None
    if args["commune"]:
        commune = territories.get_commune(db, args["commune"])
        if commune is None:
            _unknown("commune", f"Aucune commune n'a le code INSEE « {args['commune']} ».")
        ids = {o.programme_id for o in eligibility.offers_for_commune(db, commune)}
    if args["epci"]:
        epci = territories.get_epci(db, args["epci"])
        if epci is None:
            _unknown("epci", f"Aucun EPCI n'a le SIREN « {args['epci']} ».")
        found = {o.programme_id for o in eligibility.offers_for_epci(db, epci)}
        ids = found if ids is None else ids & found
    filters.ids = sorted(ids) if ids is not None else None
    words: dict = {}
    if has_words(args["q"]):
        ranking, message = rank_documents(settings().search_dir, db, args["q"], doc_type="programme",
                                          on_unavailable=rebuild_soon)
        filters.ranked = object_ids(ranking, "programme")
        words = {"searched": ranking.searched, "suggestion": ranking.suggestion, "message": message}
    items, total = services.published_programmes(db, filters, args["page"], args["per_page"])
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"], **words}


def _public(programme_id: int) -> Programme:
    try:
        # Public programmes only, whoever asks: the API is the public guichet, not a workspace.
        return access.get_visible_programme(get_db(), programme_id, Actor.anonymous())
    except NotFound:
        abort(404, message=f"Aucun programme publié n'a l'identifiant {programme_id}.")


@blp.route("/<int:programme_id>")
@for_visitors
@blp.response(200, ProgrammeOutSchema)
@blp.alt_response(404, description="Programme inconnu ou non publié")
def programme(programme_id):
    """Un programme publié (ou clos) : ses règles d'éligibilité (périmètre codé INSEE), ses appels,
    le nombre exact de communes éligibles"""
    db = get_db()
    found = _public(programme_id)
    found._scope_names = eligibility.scope_names(db, found.scope)
    found._eligible_communes = eligibility.eligible_communes_count(db, found)
    return found


@blp.route("/<int:programme_id>/communes")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, EligibleCommunesSchema)
@blp.alt_response(404, description="Programme inconnu ou non publié")
def programme_communes(args, programme_id):
    """Les communes éligibles à un programme, par département puis par nom (calcul exact)"""
    found = _public(programme_id)
    items, total = eligibility.eligible_communes_page(get_db(), found, args["page"], args["per_page"])
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


def _offers_page(offers, args):
    start = (args["page"] - 1) * args["per_page"]
    page = eligibility.with_programmes(get_db(), offers[start:start + args["per_page"]])
    return [{"programme": p, "reasons": o.reasons, "reason": o.reason, "to_check": o.to_check} for p, o in page]


@territory_blp.route("/communes/<string:insee>/programmes")
@territory_blp.arguments(PageQuerySchema, location="query")
@territory_blp.response(200, CommuneOffersSchema)
@territory_blp.alt_response(404, description="Commune inconnue")
def commune_programmes(args, insee):
    """Les programmes publiés auxquels une commune est éligible, et pourquoi"""
    db = get_db()
    commune = territories.get_commune(db, insee)
    if commune is None:
        abort(404, message=f"Aucune commune n'a le code INSEE « {insee} ».")
    offers = eligibility.offers_for_commune(db, commune)
    return {"commune": commune, "total": len(offers), "items": _offers_page(offers, args)}


@territory_blp.route("/epci/<string:siren>/programmes")
@territory_blp.arguments(PageQuerySchema, location="query")
@territory_blp.response(200, EpciOffersSchema)
@territory_blp.alt_response(404, description="EPCI inconnu")
def epci_programmes(args, siren):
    """Les programmes publiés auxquels un EPCI est éligible (au moins une commune membre dans le
    périmètre), et pourquoi"""
    db = get_db()
    epci = territories.get_epci(db, siren)
    if epci is None:
        abort(404, message=f"Aucun EPCI n'a le SIREN « {siren} ».")
    offers = eligibility.offers_for_epci(db, epci)
    return {"epci": epci, "total": len(offers), "items": _offers_page(offers, args)}
