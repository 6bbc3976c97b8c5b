"""HTML forms validated by marshmallow schemas: the same per-field messages as the API."""
from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import EXCLUDE, Schema, ValidationError


class FormResult:
    def __init__(self, data: dict[str, Any] | None, errors: dict[str, str], raw: dict[str, str]):
        self.data = data or {}
        self.errors = errors
        self.raw = raw

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_error(self, field: str | None, message: str) -> None:
        self.errors[field or "_form"] = message


def parse_form(schema: Schema) -> FormResult:
    raw = {k: v for k, v in request.form.items() if k != "csrf_token"}
    # Empty inputs are "not given", so optional fields get their defaults and required ones say so.
    cleaned = {k: v.strip() if isinstance(v, str) else v for k, v in raw.items()}
    cleaned = {k: v for k, v in cleaned.items() if v != ""}
    try:
        data = schema.load(cleaned, unknown=EXCLUDE)
    except ValidationError as exc:
        errors = {k: (v[0] if isinstance(v, list) else str(v)) for k, v in exc.normalized_messages().items()}
        return FormResult(None, errors, raw)
    return FormResult(data, {}, raw)


def empty_form() -> FormResult:
    return FormResult(None, {}, {})
