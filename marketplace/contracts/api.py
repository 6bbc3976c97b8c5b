"""POST /api/v1/procurement/procedure: which procedures a need allows, and why. Public: it reads the
law's thresholds, nothing of anyone's."""
from __future__ import annotations

from flask_smorest import Blueprint

from marketplace.contracts import procedure
from marketplace.contracts.schemas import ProcedureAnswerSchema, ProcedureQuerySchema
from marketplace.web import get_db

blp = Blueprint("procurement", __name__, url_prefix="/procurement",
                description="Commande publique : les procédures qu'un besoin permet, selon les seuils en vigueur")


@blp.route("/procedure", methods=["POST"])
@blp.arguments(ProcedureQuerySchema)
@blp.response(200, ProcedureAnswerSchema)
def decide(data):
    """Les procédures possibles pour un besoin, la recommandée, et pour chacune la règle et son article

    Le montant est celui du besoin entier (tous lots, toute la durée ; pour un groupement de commandes,
    la somme des besoins des membres), en euros HT. Les seuils sont ceux en vigueur à la date de
    lancement de la consultation ; un seuil « inférieur à » n'est respecté que strictement en dessous.
    """
    return procedure.procedures_for(get_db(), data["amount_ht"], data["nature"], data["innovative"],
                                    data["launch_date"]).as_dict()
