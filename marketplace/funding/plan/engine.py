"""The funding plan engine: integer arithmetic on cents, no database, no Flask.

Input: the project's cost HT, its eligible (subsidisable) cost HT, a date (which rules apply), the
lines of the plan and the rule that decides which line gives way when a cap binds. Output: what
each line obtains, every reduction with the rule, the article and the amount it removed, the
totals, and the list of rules checked.

The steps, in this order (each one only ever lowers amounts, so a cap met at one step stays met):

1. **Each line on its own.** Requested amount = the amount typed, or the requested rate × the
   eligible cost. Then the programme's maximum rate (× the eligible cost) and its ceiling.
2. **The legal caps**, the rules valid on the plan's date (``Rule.valid_on``), narrowest first:
   caps on a share of the eligible cost (State grants ≤ 80 %, CGCT R2334-27, then all public aid
   ≤ 100 %, décret 2018-514 art. 10), then caps on a share of the project cost, then the owner's
   minimum share (CGCT L1111-10 III); see ``_application_order``. When a cap binds, the excess is
   removed from the lines it covers, in the plan's giving-way order (``Ordering``).
3. **Minimum rates** (DETR ≥ 20 %, CGCT R2334-27) are warnings: a cap may leave a line under it,
   and only the prefect decides whether such a grant is still given.
4. **Balance.** A plan never finances more than the cost: grants are held to the cost even when
   no legal rule is valid on the date, and loans and equity fill at most what the grants leave.

Loans and equity are not grants: no grant cap covers them (the seeded rules list grant categories
only). They are how the owner pays its share, since the owner repays the loan, so they are shown
apart, inside the owner's share.

Rounding: every amount derived from a rate is rounded **down** to the cent
(``amount × bp // 10 000``), so a grant never exceeds its cap by a fraction of a cent; the
owner's minimum share is rounded **up** for the same reason. No float is used anywhere.

Public funding total (CGCT L1111-10 III): "la participation minimale du maître d'ouvrage est de
20 % du montant total des financements apportés par des personnes publiques". The owner is itself
a public person and Passerelle has no private co-funding line, so that total is the whole cost HT:
the grants, plus what the owner pays (from its budget or by borrowing). The owner's share of at
least 20 % of it means grants of at most 80 % of the cost: the issue's example, 1 000 000 € with
DSIL 50 %, DETR 40 % and FEDER 40 %, ends with 800 000 € of grants and 200 000 € for the city.
"""
from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from marketplace.core.money import BP, euros, pct, percent, rate


class PlanInputError(ValueError):
    """A plan the engine cannot compute (the schemas catch these first, with French messages)."""


class Category(enum.StrEnum):
    state_grant = "state_grant"
    eu_grant = "eu_grant"
    region_grant = "region_grant"
    departement_grant = "departement_grant"
    other_public_grant = "other_public_grant"
    # Engineering credits (Banque des Territoires, ANCT) pay for studies of the project: public
    # money spent on its cost, so they count as grants in the public caps.
    engineering = "engineering"
    loan = "loan"
    equity = "equity"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]

    @property
    def is_grant(self) -> bool:
        return self not in (Category.loan, Category.equity)


CATEGORY_LABELS = {
    Category.state_grant: "Subvention de l'État",
    Category.eu_grant: "Fonds européens (FEDER, FSE+, LEADER…)",
    Category.region_grant: "Subvention de la Région",
    Category.departement_grant: "Subvention du Département",
    Category.other_public_grant: "Autre subvention publique",
    Category.engineering: "Crédits d'ingénierie",
    Category.loan: "Prêt",
    Category.equity: "Apport en fonds propres",
}


class StateFamily(enum.StrEnum):
    """State investment grants. The 2026 budget bill proposed merging DETR, DSIL and DPV into one
    fund: a new family is one line here plus the rules that name it."""

    DETR = "DETR"
    DSIL = "DSIL"
    DPV = "DPV"
    DSID = "DSID"
    FONDS_VERT = "FONDS_VERT"

    @property
    def label(self) -> str:
        return "Fonds vert" if self is StateFamily.FONDS_VERT else self.value


class Ordering(enum.StrEnum):
    """Which line gives way first when a cap binds. The plan's user chooses it."""

    # Lower priority number keeps its money first; the highest number gives way first; on a tie,
    # the line entered last gives way first.
    priority = "priority"
    # The line entered last gives way first.
    order_entered = "order_entered"
    # Every covered line gives way in proportion to its amount (cents left over by the rounding
    # are taken from the lines entered last).
    proportional = "proportional"

    @property
    def label(self) -> str:
        return ORDERING_LABELS[self]


ORDERING_LABELS = {
    Ordering.priority: "Par priorité : la ligne de plus petit numéro garde son financement en premier, "
                       "celle du plus grand numéro cède la première",
    Ordering.order_entered: "Par ordre de saisie : la dernière ligne saisie cède la première",
    Ordering.proportional: "Au prorata : chaque ligne concernée cède en proportion de son montant",
}


class RuleKind(enum.StrEnum):
    # The covered lines together get at most value × the eligible cost.
    cap_of_eligible_cost = "cap_of_eligible_cost"
    # The covered lines together get at most value × the project cost.
    cap_of_project_cost = "cap_of_project_cost"
    # The owner pays at least value × the public funding total (the cost, see the module doc), so
    # the covered lines together get at most the cost less that share.
    owner_min_share = "owner_min_share"
    # A covered line that obtains something obtains at least value × the eligible cost (a warning).
    min_rate = "min_rate"

    @property
    def label(self) -> str:
        return {"cap_of_eligible_cost": "Plafond en part de la dépense éligible",
                "cap_of_project_cost": "Plafond en part du coût du projet",
                "owner_min_share": "Participation minimale du maître d'ouvrage",
                "min_rate": "Taux minimal"}[self.value]


# Narrowest first: see the module docstring.
_KIND_ORDER = [RuleKind.cap_of_eligible_cost, RuleKind.cap_of_project_cost, RuleKind.owner_min_share,
               RuleKind.min_rate]
KNOWN_TARGETS = {c.value for c in Category} | {f.value for f in StateFamily}
GRANT_CATEGORIES = {c for c in Category if c.is_grant}


@dataclass(frozen=True)
class Rule:
    """A cap or a minimum, with its legal reference and its validity (both dates inclusive)."""

    code: str
    label: str
    kind: RuleKind
    value_bp: int
    applies_to: frozenset[str]  # categories ("eu_grant") and/or State families ("DETR")
    legal_reference: str
    valid_from: dt.date
    valid_to: dt.date | None = None
    source_url: str = ""
    note: str = ""

    def __post_init__(self):
        object.__setattr__(self, "kind", RuleKind(self.kind))
        object.__setattr__(self, "applies_to", frozenset(self.applies_to))
        if not 0 <= self.value_bp <= BP:
            raise PlanInputError(f"{self.code}: value_bp must be between 0 and {BP}")
        unknown = self.applies_to - KNOWN_TARGETS
        if unknown:
            raise PlanInputError(f"{self.code}: unknown categories or families {sorted(unknown)}")
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise PlanInputError(f"{self.code}: valid_to before valid_from")

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def covers(self, line: PlanLine) -> bool:
        return line.category.value in self.applies_to or (
            line.state_family is not None and line.state_family.value in self.applies_to)

    @property
    def scope_label(self) -> str:
        """What the rule covers, for the explanations: 'les subventions de l'État (DETR, DSIL…)'."""
        categories = {c for c in Category if c.value in self.applies_to}
        if categories == GRANT_CATEGORIES:
            return "les subventions"
        parts = []
        families = [f.label for f in StateFamily if f.value in self.applies_to]
        if families:
            parts.append(f"les subventions de l'État ({', '.join(families)})")
        parts += [f"les lignes « {c.label} »" for c in Category if c in categories]
        return " et ".join(parts)


@dataclass(frozen=True)
class PlanLine:
    """One funding line: a programme (or a loan) and what the owner asks of it."""

    label: str
    category: Category
    state_family: StateFamily | None = None
    requested_rate_bp: int | None = None  # of the eligible cost
    requested_amount_cents: int | None = None
    rate_max_bp: int | None = None  # the programme's maximum rate, of the eligible cost
    ceiling_cents: int | None = None  # the programme's ceiling
    priority: int = 100
    programme_id: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "category", Category(self.category))
        if self.state_family is not None:
            object.__setattr__(self, "state_family", StateFamily(self.state_family))
        if (self.category is Category.state_grant) != (self.state_family is not None):
            raise PlanInputError(f"{self.label}: a State grant names its family, and only a State grant does")
        if (self.requested_rate_bp is None) == (self.requested_amount_cents is None):
            raise PlanInputError(f"{self.label}: give a requested rate or a requested amount, not both")
        for name in ("requested_rate_bp", "rate_max_bp"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= BP:
                raise PlanInputError(f"{self.label}: {name} must be between 0 and {BP}")
        for name in ("requested_amount_cents", "ceiling_cents"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise PlanInputError(f"{self.label}: {name} must not be negative")

    @property
    def kind_label(self) -> str:
        if self.state_family is not None:
            return f"État — {self.state_family.label}"
        return self.category.label

    def as_dict(self) -> dict[str, Any]:
        """The stored and API form of a line (plain JSON types)."""
        return {
            "label": self.label, "category": self.category.value,
            "state_family": self.state_family.value if self.state_family else None,
            "requested_rate_bp": self.requested_rate_bp, "requested_amount_cents": self.requested_amount_cents,
            "rate_max_bp": self.rate_max_bp, "ceiling_cents": self.ceiling_cents, "priority": self.priority,
            "programme_id": self.programme_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanLine:
        return cls(**{k: data.get(k) for k in ("label", "category", "state_family", "requested_rate_bp",
                                               "requested_amount_cents", "rate_max_bp", "ceiling_cents",
                                               "programme_id")},
                   priority=data.get("priority") if data.get("priority") is not None else 100)


def line_from_programme(programme: Any, requested_rate_bp: int | None = None,
                        requested_amount_cents: int | None = None, priority: int = 100) -> PlanLine:
    """A plan line for a funding programme (duck-typed: ``title``, ``id``, ``plan_category``,
    ``state_family``, ``rate_max_bp``, ``amount_ceiling_cents``).

    With neither a rate nor an amount, the line asks for the programme's maximum rate: what a city
    asks for first, before the caps speak.
    """
    rate_max = getattr(programme, "rate_max_bp", None)
    if requested_rate_bp is None and requested_amount_cents is None:
        if rate_max is None:
            raise PlanInputError(f"{programme.title}: no maximum rate, give a requested rate or amount")
        requested_rate_bp = rate_max
    family = getattr(programme, "state_family", None)
    return PlanLine(
        label=programme.title,
        category=Category(_plain(programme.plan_category)),
        state_family=StateFamily(_plain(family)) if family else None,
        requested_rate_bp=requested_rate_bp,
        requested_amount_cents=requested_amount_cents,
        rate_max_bp=rate_max,
        ceiling_cents=getattr(programme, "amount_ceiling_cents", None),
        priority=priority,
        programme_id=getattr(programme, "id", None),
    )


def _plain(value: Any) -> str:
    # The programmes' own enums (or plain strings) carry the same values as ours.
    return str(getattr(value, "value", value))


@dataclass(frozen=True)
class PlanInput:
    cost_ht_cents: int
    eligible_cost_ht_cents: int
    on: dt.date
    lines: tuple[PlanLine, ...]
    ordering: Ordering = Ordering.priority

    def __post_init__(self):
        object.__setattr__(self, "ordering", Ordering(self.ordering))
        object.__setattr__(self, "lines", tuple(self.lines))
        if self.cost_ht_cents < 0 or self.eligible_cost_ht_cents < 0:
            raise PlanInputError("costs must not be negative")
        if self.eligible_cost_ht_cents > self.cost_ht_cents:
            raise PlanInputError("the eligible cost cannot exceed the project cost")


# Results ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reduction:
    """What one rule removed from one line, and why, in French."""

    code: str  # a rule's code, or PROGRAMME_TAUX_MAX, PROGRAMME_PLAFOND, EQUILIBRE
    label: str
    reference: str
    amount_cents: int
    explanation: str


@dataclass
class LineResult:
    index: int  # position in the plan as entered
    line: PlanLine
    requested_cents: int
    granted_cents: int
    reductions: list[Reduction] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.line.label

    @property
    def is_grant(self) -> bool:
        return self.line.category.is_grant

    @property
    def removed_cents(self) -> int:
        return self.requested_cents - self.granted_cents


@dataclass(frozen=True)
class RuleCheck:
    """One rule checked against the plan: its limit, the total it found, what it removed."""

    code: str
    label: str
    reference: str
    limit_cents: int | None  # None for a minimum rate
    total_before_cents: int
    removed_cents: int
    explanation: str
    source_url: str = ""
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None

    @property
    def binding(self) -> bool:
        return self.removed_cents > 0


@dataclass
class PlanResult:
    cost_ht_cents: int
    eligible_cost_ht_cents: int
    on: dt.date
    ordering: Ordering
    lines: list[LineResult]
    checks: list[RuleCheck]
    warnings: list[str]

    @property
    def grants_cents(self) -> int:
        return sum(r.granted_cents for r in self.lines if r.is_grant)

    @property
    def state_grants_cents(self) -> int:
        return sum(r.granted_cents for r in self.lines if r.line.category is Category.state_grant)

    @property
    def loans_cents(self) -> int:
        return sum(r.granted_cents for r in self.lines if r.line.category is Category.loan)

    @property
    def equity_cents(self) -> int:
        return sum(r.granted_cents for r in self.lines if r.line.category is Category.equity)

    @property
    def owner_share_cents(self) -> int:
        """What the owner pays: the cost less the grants (loans and equity included)."""
        return self.cost_ht_cents - self.grants_cents

    @property
    def own_funds_cents(self) -> int:
        """The part of the owner's share paid from its own budget (neither borrowed nor equity)."""
        return self.owner_share_cents - self.loans_cents - self.equity_cents

    @property
    def public_total_cents(self) -> int:
        """The public funding total of CGCT L1111-10 III: grants plus the owner's share."""
        return self.grants_cents + self.owner_share_cents

    @property
    def owner_share_percent(self) -> Decimal:
        return percent(self.owner_share_cents, self.public_total_cents)

    @property
    def grants_percent(self) -> Decimal:
        return percent(self.grants_cents, self.cost_ht_cents)

    @property
    def reductions(self) -> list[tuple[LineResult, Reduction]]:
        return [(r, red) for r in self.lines for red in r.reductions]

    def as_dict(self) -> dict[str, Any]:
        return {
            "cost_ht_cents": self.cost_ht_cents, "eligible_cost_ht_cents": self.eligible_cost_ht_cents,
            "date": self.on.isoformat(), "ordering": self.ordering.value,
            "lines": [{"index": r.index, **r.line.as_dict(), "kind_label": r.line.kind_label,
                       "requested_cents": r.requested_cents,
                       "granted_cents": r.granted_cents,
                       "reductions": [vars(red).copy() for red in r.reductions]} for r in self.lines],
            "totals": {"grants_cents": self.grants_cents, "state_grants_cents": self.state_grants_cents,
                       "loans_cents": self.loans_cents, "equity_cents": self.equity_cents,
                       "owner_share_cents": self.owner_share_cents, "own_funds_cents": self.own_funds_cents,
                       "public_total_cents": self.public_total_cents,
                       "owner_share_percent": str(self.owner_share_percent)},
            "rules": [{"code": c.code, "label": c.label, "reference": c.reference, "limit_cents": c.limit_cents,
                       "total_before_cents": c.total_before_cents, "removed_cents": c.removed_cents,
                       "explanation": c.explanation} for c in self.checks],
            "warnings": list(self.warnings),
        }


def of(amount_cents: int, bp: int) -> int:
    """bp of an amount, rounded down to the cent."""
    return amount_cents * bp // BP


# The computation ---------------------------------------------------------------------------------

def applicable_rules(rules: Iterable[Rule], day: dt.date) -> list[Rule]:
    """The rules valid on ``day``, in the order they apply. Two versions of one code valid on the
    same day is a data error: the later ``valid_from`` wins (the newer text)."""
    by_code: dict[str, Rule] = {}
    for rule in rules:
        if rule.valid_on(day) and (rule.code not in by_code or rule.valid_from > by_code[rule.code].valid_from):
            by_code[rule.code] = rule
    return sorted(by_code.values(), key=_application_order)


def _application_order(rule: Rule) -> tuple:
    # Narrowest first: by kind (see the module docstring), then a rule on some State families
    # (the 80 % of R2334-27) before a rule on whole categories (the 100 % of décret 2018-514),
    # then by code. Only the explanations depend on it: every cap holds at the end whatever the order.
    on_families_only = rule.applies_to <= {f.value for f in StateFamily}
    return (_KIND_ORDER.index(rule.kind), 0 if on_families_only else 1, rule.code)


def compute(plan: PlanInput, rules: Iterable[Rule]) -> PlanResult:
    eligible, cost = plan.eligible_cost_ht_cents, plan.cost_ht_cents
    results = [_line_on_its_own(i, line, eligible) for i, line in enumerate(plan.lines)]
    checks: list[RuleCheck] = []
    warnings: list[str] = []

    for rule in applicable_rules(rules, plan.on):
        covered = [r for r in results if rule.covers(r.line)]
        if rule.kind is RuleKind.min_rate:
            checks.append(_check_min_rate(rule, covered, eligible, warnings))
            continue
        if rule.kind is RuleKind.cap_of_eligible_cost:
            limit = of(eligible, rule.value_bp)
            limit_text = (f"plafond de {rate(rule.value_bp)} de la dépense éligible ({euros(eligible)}), "
                          f"soit {euros(limit)}")
        elif rule.kind is RuleKind.cap_of_project_cost:
            limit = of(cost, rule.value_bp)
            limit_text = f"plafond de {rate(rule.value_bp)} du coût du projet ({euros(cost)}), soit {euros(limit)}"
        else:  # owner_min_share: the owner's share is rounded up, so the cap is rounded down
            limit = of(cost, BP - rule.value_bp)
            limit_text = (f"le maître d'ouvrage finance au moins {rate(rule.value_bp)} du total des financements "
                          f"publics ({euros(cost)}), soit {euros(cost - limit)} : plafond de {euros(limit)}")
        checks.append(_cap(rule.code, rule.label, rule.legal_reference, covered, limit, limit_text, plan.ordering,
                           scope=rule.scope_label, rule=rule))

    # Balance: grants never exceed the cost (this binds only when no public-aid cap is valid on the
    # date); loans and equity fill at most what the grants leave.
    grants = [r for r in results if r.is_grant]
    balance_checks = [_cap("EQUILIBRE", "Équilibre du plan de financement", "", grants, cost,
                           f"elles ne peuvent dépasser le coût du projet, soit {euros(cost)}", plan.ordering,
                           scope="les subventions")]
    others = [r for r in results if not r.is_grant]
    left = cost - sum(r.granted_cents for r in grants)
    balance_checks.append(_cap("EQUILIBRE", "Équilibre du plan de financement", "", others, left,
                               "ils ne financent que ce que les subventions laissent à la charge du maître "
                               f"d'ouvrage, soit {euros(left)}", plan.ordering,
                               scope="les prêts et apports en fonds propres"))
    checks.extend(c for c in balance_checks if c.binding)
    return PlanResult(cost, eligible, plan.on, plan.ordering, results, checks, warnings)


def _line_on_its_own(index: int, line: PlanLine, eligible: int) -> LineResult:
    if line.requested_amount_cents is not None:
        requested = line.requested_amount_cents
    else:
        requested = of(eligible, line.requested_rate_bp)
    result = LineResult(index, line, requested, requested)
    if line.rate_max_bp is not None:
        cap = of(eligible, line.rate_max_bp)
        if result.granted_cents > cap:
            removed = result.granted_cents - cap
            result.reductions.append(Reduction(
                "PROGRAMME_TAUX_MAX", "Taux maximal du programme", f"Règlement du programme « {line.label} »",
                removed,
                f"Le programme finance au plus {rate(line.rate_max_bp)} de la dépense éligible "
                f"({euros(eligible)}), soit {euros(cap)} : {euros(removed)} retirés de cette ligne."))
            result.granted_cents = cap
    if line.ceiling_cents is not None and result.granted_cents > line.ceiling_cents:
        removed = result.granted_cents - line.ceiling_cents
        result.reductions.append(Reduction(
            "PROGRAMME_PLAFOND", "Plafond du programme", f"Règlement du programme « {line.label} »", removed,
            f"L'aide du programme est plafonnée à {euros(line.ceiling_cents)} : {euros(removed)} retirés de "
            f"cette ligne."))
        result.granted_cents = line.ceiling_cents
    return result


def _giving_way_order(covered: list[LineResult], ordering: Ordering) -> list[LineResult]:
    if ordering is Ordering.priority:
        return sorted(covered, key=lambda r: (r.line.priority, r.index), reverse=True)
    return sorted(covered, key=lambda r: r.index, reverse=True)


def _shares(covered: list[LineResult], excess: int, ordering: Ordering) -> dict[int, int]:
    """How much each covered line gives up so that ``excess`` cents are removed in all."""
    taken = {r.index: 0 for r in covered}
    left = excess
    if ordering is Ordering.proportional:
        total = sum(r.granted_cents for r in covered)
        for r in covered:
            taken[r.index] = excess * r.granted_cents // total
        left = excess - sum(taken.values())
    for r in _giving_way_order(covered, ordering):
        if left == 0:
            break
        more = min(left, r.granted_cents - taken[r.index])
        taken[r.index] += more
        left -= more
    return taken


def _why(r: LineResult, ordering: Ordering) -> str:
    if ordering is Ordering.priority:
        return f"les lignes de plus grand numéro de priorité cèdent les premières (priorité {r.line.priority})"
    if ordering is Ordering.order_entered:
        return "les dernières lignes saisies cèdent les premières"
    return "chaque ligne cède au prorata de son montant"


def _cap(code: str, label: str, reference: str, covered: list[LineResult], limit: int, limit_text: str,
         ordering: Ordering, *, scope: str, rule: Rule | None = None) -> RuleCheck:
    """Hold the covered lines to ``limit`` in all, taking the excess in the giving-way order."""
    total = sum(r.granted_cents for r in covered)
    cited = f"{label} ({reference})" if reference else label
    extra = {"source_url": rule.source_url, "valid_from": rule.valid_from, "valid_to": rule.valid_to} if rule else {}
    if total <= limit:
        return RuleCheck(code, label, reference, limit, total, 0,
                         f"{cited} : respecté ({scope} : {euros(total)} ; {limit_text}).", **extra)
    excess = total - limit
    shares = _shares(covered, excess, ordering)
    touched = []
    for r in covered:
        removed = shares[r.index]
        if removed == 0:
            continue
        r.granted_cents -= removed
        touched.append(f"{r.label} ({euros(removed)})")
        zero = " La ligne est ramenée à 0\u00a0€." if r.granted_cents == 0 else ""
        r.reductions.append(Reduction(
            code, label, reference, removed,
            f"{cited} : {scope} totalisaient {euros(total)} ; {limit_text}. {euros(removed)} retirés de cette "
            f"ligne sur un dépassement de {euros(excess)}, car {_why(r, ordering)}.{zero}"))
    return RuleCheck(code, label, reference, limit, total, excess,
                     f"{cited} : {scope} totalisaient {euros(total)} ; {limit_text}. {euros(excess)} retirés : "
                     + ", ".join(touched) + ".", **extra)


def _check_min_rate(rule: Rule, covered: list[LineResult], eligible: int, warnings: list[str]) -> RuleCheck:
    minimum = of(eligible, rule.value_bp)
    below = [r for r in covered if 0 < r.granted_cents < minimum]
    for r in below:
        warnings.append(
            f"{r.label} : {euros(r.granted_cents)}, soit {pct(percent(r.granted_cents, eligible))} de la dépense "
            f"éligible, sous le taux minimal de {rate(rule.value_bp)} ({rule.label}, {rule.legal_reference}). "
            f"Le préfet peut refuser une subvention à ce taux : vérifiez avec ses services.")
    text = (f"{rule.label} ({rule.legal_reference}) : " +
            ("respecté." if not below else f"{len(below)} ligne(s) sous {rate(rule.value_bp)}, voir les avertissements."))
    return RuleCheck(rule.code, rule.label, rule.legal_reference, None,
                     sum(r.granted_cents for r in covered), 0, text, rule.source_url, rule.valid_from, rule.valid_to)
