"""Marshmallow at the edge: French error messages for every field type, the bounds every input gets,
and the fields the domains share — once."""
from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate

from marketplace.core import money
from marketplace.core.text import clean_text, format_int_fr

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


# What every input gets, whatever the schema (bad input answers a field error, never a 500):
# - text without control characters nor lone surrogates (a NUL breaks PostgreSQL and the exports;
#   "\udfff" in JSON cannot be encoded);
# - integers far from the database's limits (an id or an amount ≥ 2⁶³ overflows SQLite and
#   PostgreSQL alike; the fields with a meaning give their own, tighter range);
# - dates between 1900 and 2100 (a closing date on 9999-12-31 broke every calendar that showed it).
MAX_INTEGER = 10**15
FIRST_YEAR, LAST_YEAR = 1900, 2100

_string_deserialize = fields.String._deserialize
_integer_validated = fields.Integer._validated
_date_deserialize = fields.Date._deserialize


def _clean_string(self, value, attr, data, **kwargs):
    return clean_text(_string_deserialize(self, value, attr, data, **kwargs))


# "20 000" as people type it: thousands grouped by a space, a no-break or a narrow no-break space.
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+")


def _bounded_integer(self, value):
    if isinstance(value, str) and _GROUPED.fullmatch(value.strip()):
        value = re.sub(r"[ \u00a0\u202f\u2009]", "", value.strip())
    number = _integer_validated(self, value)
    if number is not None and abs(number) > MAX_INTEGER:
        raise self.make_error("too_large", input=value)
    return number


def _bounded_date(self, value, attr, data, **kwargs):
    day = _date_deserialize(self, value, attr, data, **kwargs)
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValidationError(f"Date entre {FIRST_YEAR} et {LAST_YEAR} attendue.")
    return day


fields.String._deserialize = _clean_string
fields.Integer._validated = _bounded_integer
fields.Date._deserialize = _bounded_date


class BaseSchema(Schema):
    pass


# Fields shared by every domain's schemas -----------------------------------------------------------

def search_words():
    """``q`` of a list that can be searched: the words, through the one query pipeline."""
    return fields.String(load_default="", validate=validate.Length(max=200, error="200 caractères au plus."),
                         metadata={"description": "Mots recherchés (français : pluriels, synonymes, fautes de frappe) ; "
                                                  "avec des mots, les résultats sont classés par pertinence"})


class RankedPageSchema(BaseSchema):
    """What a searched list says about its words."""
    searched = fields.String(allow_none=True, metadata={
        "description": "Requête corrigée effectivement cherchée, quand aucun résultat ne contenait tous les mots tapés"})
    suggestion = fields.String(allow_none=True, metadata={"description": "« Vouliez-vous dire » : requête corrigée"})
    message = fields.String(allow_none=True, metadata={"description": "Index indisponible : recherche simplifiée"})


def length(maximum: int, minimum: int | None = None) -> validate.Length:
    if minimum:
        return validate.Length(min=minimum, max=maximum, error=f"Entre {minimum} et {maximum} caractères.")
    return validate.Length(max=maximum, error=f"{format_int_fr(maximum)} caractères au plus.")


class StringList(fields.List):
    """A list of short texts; a form sends one text, comma- or line-separated ("GTFS, NeTEx")."""

    def __init__(self, max_items: int = 20, item_length: int = 60, separators: str = r"[,;\n]", **kw):
        super().__init__(fields.String(validate=length(item_length)), **kw)
        self.max_items = max_items
        self.separators = separators

    def _deserialize(self, value, attr, data, **kw):
        if isinstance(value, str):
            value = [part.strip() for part in re.split(self.separators, value)]
        if isinstance(value, list):
            # Duplicates and blanks are noise, not errors.
            seen, cleaned = set(), []
            for item in value:
                if isinstance(item, str) and item.strip() and item.strip().lower() not in seen:
                    seen.add(item.strip().lower())
                    cleaned.append(item.strip())
            value = cleaned
        result = super()._deserialize(value, attr, data, **kw)
        if len(result) > self.max_items:
            raise ValidationError(f"{self.max_items} éléments au plus.")
        return result


class Euros(fields.Field):
    """An amount typed in euros ("1 200 000,50 €", "1200.5") → integer cents HT. Never a float."""

    def _deserialize(self, value, attr, data, **kw):
        try:
            return money.parse_euros(value)
        except money.MoneyError as exc:
            raise ValidationError(str(exc)) from None

    def _serialize(self, value, attr, obj, **kw):
        return None if value is None else money.euros_input(value)


class Percent(fields.Field):
    """A rate typed in percent ("40", "40,5 %") → basis points (4050). Never a float."""

    def _deserialize(self, value, attr, data, **kw):
        try:
            return money.parse_rate(value)
        except money.MoneyError as exc:
            raise ValidationError(str(exc)) from None


def cents(**kw) -> fields.Integer:
    """An amount in integer cents, as the JSON API takes it."""
    return fields.Integer(validate=validate.Range(0, money.MAX_CENTS, error="Montant en centimes entre 0 et 10^12."),
                          strict=True, **kw)


def basis_points(**kw) -> fields.Integer:
    """A rate in basis points (0 to 10 000 = 100 %), as the JSON API takes it."""
    return fields.Integer(validate=validate.Range(0, money.BP, error="Taux en points de base, entre 0 et 10 000 (100 %)."),
                          strict=True, **kw)


# Integer columns are 32-bit on PostgreSQL: an id past this names nothing (and must not reach SQL).
ID_MAX = 2**31 - 1
PAGE_MAX = 10_000


def object_id(**kw) -> fields.Integer:
    return fields.Integer(validate=validate.Range(1, ID_MAX, error="Identifiant inconnu."), **kw)


def page_number(**kw) -> fields.Integer:
    kw.setdefault("load_default", 1)
    return fields.Integer(validate=[validate.Range(min=1, error="Page 1 au moins."),
                                    validate.Range(max=PAGE_MAX, error=f"{format_int_fr(PAGE_MAX)} pages au plus.")],
                          **kw)
