"""A kit's questionnaire: its steps and questions, read from TOML, and what a person answers.

A question has a name, a French label and help, a type and bounds::

    [[steps]]
    key = "objet"
    title = "L'objet du contrat"

    [[steps.fields]]
    name = "amount_ht"
    label = "Montant estimé du besoin (€ HT)"
    type = "money"          # text, textarea, money, integer, date, boolean, choice, table
    required = true
    min = 1
    when = "innovative"     # asked only when this holds: "name", "not name", "name == 'value'"
    prefill = "solution.name"

A ``table`` question has ``columns`` (questions of the other types) and ``min_rows``/``max_rows``; a
form sends its cells as ``name-<row>-<column>``. Answers are plain JSON: money in integer cents HT,
dates ISO, tables as lists of dicts. Questions hidden by their condition are neither asked nor kept.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from marketplace.core import money
from marketplace.core.text import clean_text

TYPES = {"text", "textarea", "money", "integer", "date", "boolean", "choice", "table"}
_CONDITION = re.compile(r"^\s*(not\s+)?([a-z_][a-z0-9_]*)\s*(?:(==|!=)\s*'([^']*)')?\s*$")
MAX_ROWS = 50


class QuestionnaireError(ValueError):
    """The questionnaire text itself is wrong (an operator's new version): said in French."""


@dataclass(frozen=True)
class Question:
    name: str
    label: str
    type: str
    help: str = ""
    required: bool = False
    min: float | None = None
    max: float | None = None
    options: tuple[tuple[str, str], ...] = ()
    when: str = ""
    prefill: str = ""
    default: Any = None
    columns: tuple[Question, ...] = ()
    min_rows: int = 0
    max_rows: int = MAX_ROWS

    def shown(self, answers: dict[str, Any]) -> bool:
        return holds(self.when, answers)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    intro: str
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class DocumentSpec:
    key: str
    title: str  # a Jinja expression-free title pattern: "{partner}" is replaced by the partner's name
    per: str = ""  # a table question: one copy of the document per row (one contract per partner)


@dataclass(frozen=True)
class Questionnaire:
    title: str
    summary: str
    procedure: str
    steps: tuple[Step, ...]
    documents: tuple[DocumentSpec, ...]

    @property
    def questions(self) -> list[Question]:
        return [q for step in self.steps for q in step.questions]

    def question(self, name: str) -> Question | None:
        return next((q for q in self.questions if q.name == name), None)


def holds(condition: str, answers: dict[str, Any]) -> bool:
    if not condition:
        return True
    m = _CONDITION.match(condition)
    if not m:
        raise QuestionnaireError(f"Condition illisible : « {condition} ».")
    negate, name, op, value = m.groups()
    current = answers.get(name)
    if op == "==":
        result = str(current) == value
    elif op == "!=":
        result = str(current) != value
    else:
        result = bool(current)
    return not result if negate else result


def _question(raw: dict, where: str, nested: bool = False) -> Question:
    try:
        name, label, kind = raw["name"], raw["label"], raw.get("type", "text")
    except KeyError as missing:
        raise QuestionnaireError(f"{where} : « {missing.args[0]} » manque.") from None
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise QuestionnaireError(f"{where} : nom « {name} » invalide (lettres minuscules, chiffres, _).")
    if kind not in TYPES or (nested and kind == "table"):
        raise QuestionnaireError(f"{where} : type « {kind} » inconnu.")
    options = tuple((str(v), str(text)) for v, text in raw.get("options", []))
    if kind == "choice" and not options:
        raise QuestionnaireError(f"{where} : une question à choix donne ses « options ».")
    columns = tuple(_question(c, f"{where}, colonne {i + 1}", nested=True) for i, c in enumerate(raw.get("columns", [])))
    if kind == "table" and not columns:
        raise QuestionnaireError(f"{where} : un tableau donne ses « columns ».")
    if raw.get("when"):
        holds(raw["when"], {})  # a readable condition
    return Question(name, label, kind, raw.get("help", ""), bool(raw.get("required")), raw.get("min"), raw.get("max"),
                    options, raw.get("when", ""), raw.get("prefill", ""), raw.get("default"), columns,
                    int(raw.get("min_rows", 0)), min(int(raw.get("max_rows", MAX_ROWS)), MAX_ROWS))


@functools.lru_cache(maxsize=64)
def parse(text: str) -> Questionnaire:
    """The questionnaire of a kit's TOML text; parsed once per process and text (the result is
    frozen), a refusal raised each time."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise QuestionnaireError(f"Questionnaire illisible (TOML) : {exc}.") from None
    steps = []
    names: set[str] = set()
    for i, step in enumerate(raw.get("steps", [])):
        questions = tuple(_question(q, f"Étape {i + 1}, question {j + 1}") for j, q in enumerate(step.get("fields", [])))
        for q in questions:
            if q.name in names:
                raise QuestionnaireError(f"La question « {q.name} » est posée deux fois.")
            names.add(q.name)
        steps.append(Step(step.get("key", f"etape-{i + 1}"), step.get("title", f"Étape {i + 1}"), step.get("intro", ""),
                          questions))
    if not steps:
        raise QuestionnaireError("Le questionnaire n'a aucune étape.")
    documents = tuple(DocumentSpec(d["key"], d["title"], d.get("per", "")) for d in raw.get("documents", []))
    if not documents:
        raise QuestionnaireError("Le questionnaire ne déclare aucun document (« [[documents]] »).")
    for d in documents:
        if d.per and (names.isdisjoint({d.per})):
            raise QuestionnaireError(f"Le document « {d.key} » est fait par ligne de « {d.per} », question inconnue.")
    return Questionnaire(raw.get("title", ""), raw.get("summary", ""), raw.get("procedure", ""), tuple(steps),
                         documents)


# Reading answers -------------------------------------------------------------------------------

def _read(question: Question, raw: Any) -> tuple[Any, str | None]:
    """A typed value from what a form sent, or (None, the French error)."""
    if question.type == "boolean":
        return raw in (True, "1", "on", "oui", "true"), None
    text = clean_text(str(raw)).strip() if raw is not None else ""
    if text == "":
        if question.required:
            return None, "Ce champ est obligatoire."
        return question.default if question.type != "table" else [], None
    if question.type in ("text", "textarea"):
        limit = int(question.max or (200 if question.type == "text" else 10_000))
        if len(text) > limit:
            return None, f"{limit} caractères au plus."
        return text if question.type == "textarea" else " ".join(text.split()), None
    if question.type == "money":
        try:
            cents = money.parse_euros(text)
        except money.MoneyError as exc:
            return None, str(exc)
        if question.min is not None and cents < question.min * 100:
            return None, f"Au moins {money.euros(int(question.min * 100))} HT."
        if question.max is not None and cents > question.max * 100:
            return None, f"Au plus {money.euros(int(question.max * 100))} HT."
        return cents, None
    if question.type == "integer":
        digits = re.sub(r"[\s\u00a0\u202f]", "", text)
        if not re.fullmatch(r"-?\d{1,9}", digits):
            return None, "Nombre entier attendu."
        number = int(digits)
        if question.min is not None and number < question.min:
            return None, f"Au moins {int(question.min)}."
        if question.max is not None and number > question.max:
            return None, f"Au plus {int(question.max)}."
        return number, None
    if question.type == "date":
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return None, "Date attendue (jj/mm/aaaa)."
        if not 1990 <= day.year <= 2100:
            return None, "Date entre 1990 et 2100."
        return day.isoformat(), None
    if question.type == "choice":
        if text not in dict(question.options):
            return None, "Choix inconnu."
        return text, None
    return None, "Type de question inconnu."


def read_form(questionnaire: Questionnaire, step: Step | None, form: dict[str, Any],
              answers: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The answers after a step's form (``step`` None: every step), and the errors by field name.

    ``form`` maps names to the values sent (a table's cells as ``name-<row>-<column>``); the answers
    of other steps are kept. A question hidden by its condition is dropped."""
    updated = dict(answers)
    errors: dict[str, str] = {}
    steps = [step] if step is not None else list(questionnaire.steps)
    for current in steps:
        for question in current.questions:
            if question.type == "table":
                rows, row_errors = _read_table(question, form)
                updated[question.name] = rows
                errors.update(row_errors)
            else:
                value, error = _read(question, form.get(question.name))
                updated[question.name] = value
                if error:
                    errors[question.name] = error
    for question in questionnaire.questions:
        if not question.shown(updated):
            updated.pop(question.name, None)
            errors.pop(question.name, None)
            for key in [k for k in errors if k.startswith(question.name + "-")]:
                errors.pop(key)
    return updated, errors


def _read_table(question: Question, form: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows, errors = [], {}
    indexes = sorted({int(m.group(1)) for key in form
                      if (m := re.fullmatch(rf"{question.name}-(\d{{1,2}})-[a-z0-9_]+", key))})
    for i in indexes[:question.max_rows]:
        cells = {c.name: form.get(f"{question.name}-{i}-{c.name}") for c in question.columns}
        if all(v in (None, "") for v in cells.values()):
            continue  # the blank row a form offers
        row, n = {}, len(rows)
        for column in question.columns:
            value, error = _read(column, cells[column.name])
            row[column.name] = value
            if error:
                errors[f"{question.name}-{n}-{column.name}"] = error
        rows.append(row)
    if len(rows) < question.min_rows:
        errors[question.name] = (f"Au moins {question.min_rows} ligne{'s' if question.min_rows > 1 else ''} "
                                 f"(« {question.label} »).")
    return rows, errors


def missing(questionnaire: Questionnaire, answers: dict[str, Any]) -> dict[str, str]:
    """Every error of the whole questionnaire on stored answers (before generating)."""
    form: dict[str, Any] = {}
    for question in questionnaire.questions:
        value = answers.get(question.name)
        if question.type == "table":
            for i, row in enumerate(value or []):
                for column in question.columns:
                    form[f"{question.name}-{i}-{column.name}"] = as_input(column, row.get(column.name))
        else:
            form[question.name] = as_input(question, value)
    return read_form(questionnaire, None, form, answers)[1]


def as_input(question: Question, value: Any) -> str:
    """A stored answer as a form shows it again ("1 200,50" for money)."""
    if value is None:
        return ""
    if question.type == "money":
        return money.euros_input(value)
    if question.type == "boolean":
        return "on" if value else ""
    return str(value)


def defaults(questionnaire: Questionnaire) -> dict[str, Any]:
    """Every question's neutral answer, so that templates may test any of them."""
    values: dict[str, Any] = {}
    for q in questionnaire.questions:
        values[q.name] = [] if q.type == "table" else (False if q.type == "boolean" else q.default)
    return values


@dataclass
class Prefill:
    """What Passerelle already knows, by dotted key ("buyer.name"), for the questions' ``prefill``."""

    values: dict[str, Any] = field(default_factory=dict)

    def apply(self, questionnaire: Questionnaire, answers: dict[str, Any]) -> dict[str, Any]:
        filled = dict(answers)
        for question in questionnaire.questions:
            if question.prefill and filled.get(question.name) in (None, "", []):
                value = self.values.get(question.prefill)
                if value not in (None, ""):
                    filled[question.name] = value
        return filled
