"""POST /api/v1/funding-plans: compute a funding plan. Nothing is stored, so no token is needed."""
from __future__ import annotations

from flask_smorest import Blueprint

from marketplace.funding.plan import services
from marketplace.funding.plan.schemas import PlanComputeSchema, PlanResultSchema
from marketplace.web import get_db

blp = Blueprint("funding_plans", __name__, url_prefix="/funding-plans",
                description="Plans de financement : ce que chaque financeur apporte une fois les plafonds "
                            "appliqués (calcul seul, rien n'est enregistré)")


@blp.route("", methods=["POST"])
@blp.arguments(PlanComputeSchema)
@blp.response(200, PlanResultSchema)
def compute(data):
    """Calcule un plan de financement

    Montants en centimes d'euro HT, taux en points de base (4000 = 40 %) de la dépense éligible.
    Chaque ligne demande un taux (`requested_rate_bp`) ou un montant (`requested_amount_cents`) ;
    le calcul applique le taux maximal et le plafond du programme, puis les règles en vigueur à
    la date donnée (plafond de 80 % des dotations de l'État, CGCT R2334-27 ; aides publiques au
    plus égales à la dépense subventionnable, décret 2018-514 ; participation minimale de 20 % du
    maître d'ouvrage, CGCT L1111-10). Chaque réduction est expliquée, avec son article. Les prêts
    et apports en fonds propres sont à part : ils financent la part du maître d'ouvrage.
    """
    return services.compute(get_db(), services.plan_input(data)).as_dict()
