"""GET /api/v1/search: the same search as the pages, in JSON."""
from __future__ import annotations

from flask import request
from flask_smorest import Blueprint
from marshmallow import fields, validate

from marketplace.core.schemas import BaseSchema
from marketplace.web import get_db, settings
from marketplace.web.pagecache import for_visitors
from search.facets import FACETS, filters_from_args
from search.query import SORTS, SearchRequest
from search.service import run_search
from search.tasks import rebuild_soon

blp = Blueprint("search_api", __name__, url_prefix="/search",
                description="Recherche plein texte (solutions ; programmes et appels à venir)")


def _values(fieldname: str):
    _, _, title, labels = FACETS[fieldname]
    return fields.List(fields.String(validate=validate.OneOf(list(labels), error="Valeur inconnue.")),
                       load_default=list, metadata={"description": f"{title} : {', '.join(labels)} (répétable)"})


class SearchArgs(BaseSchema):
    q = fields.String(load_default="", validate=validate.Length(max=200, error="200 caractères au plus."))
    sort = fields.String(load_default="pertinence", validate=validate.OneOf(list(SORTS), error="Tri inconnu."))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1000, error="Entre 1 et 1000."))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100, error="Entre 1 et 100."))
    type = _values("type")
    domain = _values("domains")
    deployed_size = _values("deployed_sizes")
    verified = _values("verified")
    size = _values("sizes")
    hosting = _values("hosting")
    price_model = _values("price_model")
    exact = fields.Boolean(load_default=False, metadata={
        "description": "Les mots tels que tapés, sans correction même quand aucun document ne les contient tous"})


class HitSchema(BaseSchema):
    id = fields.String()
    type = fields.String()
    object_id = fields.Integer()
    title = fields.String()
    summary = fields.String()
    snippet = fields.String(metadata={"description": "Extrait HTML échappé, mots trouvés entre <mark>"})
    url = fields.String()
    owner = fields.String()
    domains = fields.List(fields.String())
    hosting = fields.String()
    price_model = fields.String()
    verified = fields.Boolean()
    verified_count = fields.Integer()
    deployments = fields.Integer()


class FacetValueSchema(BaseSchema):
    value = fields.String()
    count = fields.Integer()
    selected = fields.Boolean()


class SearchResultSchema(BaseSchema):
    total = fields.Integer()
    page = fields.Integer(attribute="request.page")
    pages = fields.Integer()
    hits = fields.List(fields.Nested(HitSchema))
    facets = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(FacetValueSchema)))
    suggestion = fields.String(allow_none=True, metadata={"description": "« Vouliez-vous dire » : requête corrigée"})
    broadened = fields.Boolean(metadata={"description": "Aucun document ne contient tous les mots : ceux qui en ont le plus"})
    complete = fields.Integer(metadata={"description": "Nombre de résultats contenant tous les mots (classés en premier)"})
    corrected_from = fields.String(allow_none=True, metadata={"description": "La requête tapée, quand une requête corrigée a été cherchée"})
    searched = fields.String(allow_none=True, metadata={"description": "La requête corrigée effectivement cherchée"})
    degraded = fields.Boolean(metadata={"description": "Index indisponible : recherche simplifiée"})
    message = fields.String(allow_none=True)


@blp.route("")
@for_visitors
@blp.arguments(SearchArgs, location="query")
@blp.response(200, SearchResultSchema)
def search(args):
    """Recherche plein texte en français avec facettes, filtres, tris et suggestions"""
    req = SearchRequest(q=args["q"], filters=filters_from_args(request.args, api=True), sort=args["sort"],
                        page=args["page"], per_page=args["per_page"], correct=not args["exact"])
    return run_search(settings().search_dir, get_db(), req, on_unavailable=rebuild_soon)
