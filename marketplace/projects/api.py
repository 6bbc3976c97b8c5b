"""POST /api/v1/matching/preview: the programmes and calls a project could get, ranked, with why —
computed, never stored. Public: it reads published programmes and the territory registry only."""
from __future__ import annotations

from flask_smorest import Blueprint, abort
from marshmallow import fields, validate

from marketplace.core.clock import today
from marketplace.core.schemas import BaseSchema, Euros, length
from marketplace.core.taxonomy import DOMAINS
from marketplace.projects import store
from marketplace.web import get_db
from tenants.territories.models import Commune

blp = Blueprint("matching", __name__, url_prefix="/matching",
                description="Rapprochement : les financements qu'un projet peut obtenir, classés et expliqués")


class PreviewSchema(BaseSchema):
    title = fields.String(required=True, validate=length(200, 3))
    description = fields.String(load_default="", validate=length(5000))
    commune_insee = fields.String(required=True, validate=validate.Regexp(r"^(\d{5}|2[AB]\d{3})$",
                                                                          error="Code INSEE de commune à 5 caractères."))
    cost_ht = Euros(load_default=None, allow_none=True, metadata={"description": "Coût du projet, en euros HT"})
    themes = fields.List(fields.String(validate=validate.OneOf(list(DOMAINS), error="Thème inconnu.")),
                         load_default=list, validate=validate.Length(max=10, error="10 thèmes au plus."))
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50, error="Entre 1 et 50."))


class MatchSchema(BaseSchema):
    target = fields.String(metadata={"description": "« programme:12 » ou « call:34 »"})
    programme_id = fields.Integer()
    call_id = fields.Integer(allow_none=True)
    title = fields.String()
    url = fields.String()
    score = fields.Integer(metadata={"description": "Note de 0 à 100"})
    explanation = fields.String()
    closes_on = fields.Date(allow_none=True)


class PreviewAnswerSchema(BaseSchema):
    commune = fields.String()
    eligible_programmes = fields.Integer()
    model = fields.Boolean(metadata={"description": "Faux : classement sans modèle des projets financés"})
    matches = fields.List(fields.Nested(MatchSchema))


@blp.route("/preview", methods=["POST"])
@blp.arguments(PreviewSchema)
@blp.response(200, PreviewAnswerSchema)
def preview(data):
    """Les programmes et appels ouverts auxquels la commune est éligible, classés pour ce projet, avec l'explication

    Rien n'est enregistré. La note combine la proximité du texte, les projets semblables déjà financés
    par le programme, les thèmes, le montant et la date de clôture."""
    db = get_db()
    commune = db.get(Commune, data["commune_insee"].upper())
    if commune is None:
        abort(422, message="Certaines valeurs envoyées sont invalides.",
              errors={"json": {"commune_insee": [f"Aucune commune n'a le code INSEE « {data['commune_insee']} »."]}})
    result = store.preview(db, title=data["title"], description=data["description"], commune=commune,
                           cost_ht_cents=data["cost_ht"], themes=data["themes"], on=today(), limit=data["limit"])
    return result
