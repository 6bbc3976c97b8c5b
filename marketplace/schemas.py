"""Marshmallow at the edge: French error messages for every field type, once."""
from __future__ import annotations

from marshmallow import Schema, fields

_FRENCH = {
    "required": "Ce champ est obligatoire.",
    "null": "Ce champ ne peut pas être vide.",
    "invalid": "Valeur invalide.",
    "validator_failed": "Valeur invalide.",
}
fields.Field.default_error_messages.update(_FRENCH)
fields.String.default_error_messages.update({"invalid": "Texte attendu."})
fields.Integer.default_error_messages.update({"invalid": "Nombre entier attendu.", "too_large": "Nombre trop grand."})
fields.Number.default_error_messages.update({"invalid": "Nombre attendu.", "too_large": "Nombre trop grand."})
fields.Boolean.default_error_messages.update({"invalid": "Vrai ou faux attendu."})
fields.Email.default_error_messages.update({"invalid": "Adresse électronique invalide."})
fields.DateTime.default_error_messages.update({"invalid": "Date et heure invalides."})
fields.Date.default_error_messages.update({"invalid": "Date invalide (AAAA-MM-JJ)."})
fields.List.default_error_messages.update({"invalid": "Liste attendue."})
Schema.error_messages = {
    "unknown": "Champ inconnu.",
    "type": "Données invalides : un objet est attendu.",
}


class BaseSchema(Schema):
    pass
