"""The edge of projects: the project form (a cost typed in euros as people type it, themes from the
taxonomy, the commune as text resolved by the view), the digest threshold, the need and a startup's
answer."""
from __future__ import annotations

from marshmallow import fields, post_load, validate

from marketplace.core import taxonomy
from marketplace.core.schemas import BaseSchema, Euros, object_id
from marketplace.core.schemas import length as _length
from marketplace.projects.models import ProjectStage, ProjectStatus

# The checkboxes of the form send these several times: parse_form(multi=...) makes them lists.
LIST_FIELDS = ("themes", "contacts")


def _choice(enum, error: str):
    return fields.String(validate=validate.OneOf([e.value for e in enum], error=error))


class ProjectFormSchema(BaseSchema):
    title = fields.String(required=True, validate=_length(200, 3),
                          error_messages={"required": "Donnez un titre au projet."})
    description = fields.String(load_default="", validate=_length(5000))
    themes = fields.List(fields.String(validate=validate.OneOf(list(taxonomy.DOMAINS), error="Thème inconnu.")),
                         load_default=list, validate=validate.Length(max=5, error="5 thèmes au plus."))
    # Resolved by the view (``resolve_territory``): what a person types, "Gien (45155)", "45500 Gien"…
    commune = fields.String(required=True, validate=_length(200),
                            error_messages={"required": "Indiquez la commune où le projet se réalise."})
    cost_ht_cents = Euros(data_key="cost", load_default=None)
    planned_start = fields.Date(load_default=None)
    stage = _choice(ProjectStage, "Étape inconnue.")
    status = _choice(ProjectStatus, "Statut inconnu.")
    contact_ids = fields.List(object_id(), data_key="contacts", load_default=list)

    @post_load
    def _enums(self, data, **kw):
        data["stage"] = ProjectStage(data.get("stage") or ProjectStage.idea.value)
        data["status"] = ProjectStatus(data.get("status") or ProjectStatus.active.value)
        data["themes"] = list(dict.fromkeys(data.get("themes") or []))
        data["contact_ids"] = list(dict.fromkeys(data.get("contact_ids") or []))
        return data


class ThresholdFormSchema(BaseSchema):
    threshold = fields.Integer(required=True, validate=validate.Range(min=0, max=100, error="Une note entre 0 et 100."),
                               error_messages={"required": "Indiquez une note entre 0 et 100."})


class NeedFormSchema(BaseSchema):
    need_text = fields.String(required=True, validate=_length(3000, 20),
                              error_messages={"required": "Dites aux startups ce que vous cherchez."})


class AnswerFormSchema(BaseSchema):
    solution_id = object_id(required=True, error_messages={"required": "Choisissez une de vos solutions publiées."})
    message = fields.String(required=True, validate=_length(3000, 20),
                            error_messages={"required": "Écrivez quelques lignes à la collectivité."})
