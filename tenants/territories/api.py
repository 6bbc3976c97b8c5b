"""Territory registry API: public open data, no sign-in needed."""
from __future__ import annotations

from flask_smorest import Blueprint, abort

from marketplace.web import get_db
from tenants.territories import services
from tenants.territories.schemas import CommuneQuerySchema, CommuneSchema, CommuneSummarySchema, EpciSchema

blp = Blueprint("territories", __name__, url_prefix="/territories",
                description="Référentiel des territoires (INSEE, Licence Ouverte)")


@blp.route("/communes")
@blp.arguments(CommuneQuerySchema, location="query")
@blp.response(200, CommuneSummarySchema(many=True))
def communes(args):
    """Autocomplétion des communes par nom (sans accents) ou code postal, les plus peuplées d'abord"""
    return services.search_communes(get_db(), args["q"], args["limit"])


@blp.route("/communes/<string:insee>")
@blp.response(200, CommuneSchema)
@blp.alt_response(404, description="Commune inconnue")
def commune(insee):
    """Une commune : population, codes postaux, département, région, EPCI"""
    found = services.get_commune(get_db(), insee)
    if found is None:
        abort(404, message=f"Aucune commune n'a le code INSEE « {insee} ».")
    return found


@blp.route("/epci/<string:siren>")
@blp.response(200, EpciSchema)
@blp.alt_response(404, description="EPCI inconnu")
def epci(siren):
    """Un EPCI à fiscalité propre et ses communes membres"""
    found = services.get_epci(get_db(), siren)
    if found is None:
        abort(404, message=f"Aucun EPCI n'a le SIREN « {siren} ».")
    return found
