"""The funding plan engine: the issue's example, the giving-way rule, loans, dates, programme caps,
and properties that hold for any plan (hypothesis)."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.funding.plan import line_from_programme
from marketplace.funding.plan.engine import (
    BP,
    Category,
    Ordering,
    PlanInput,
    PlanInputError,
    PlanLine,
    Rule,
    RuleKind,
    StateFamily,
    compute,
    euros,
    of,
)
from marketplace.funding.plan.services import rules_valid_on

DAY = dt.date(2026, 11, 22)
EURO = 100
GRANTS = frozenset({"state_grant", "eu_grant", "region_grant", "departement_grant", "other_public_grant",
                    "engineering"})
STATE = frozenset({"DETR", "DSIL", "DPV", "DSID", "FONDS_VERT"})

# The rules the migration seeds (test_the_seeded_rules_are_these checks they are the same).
RULES = [
    Rule("ETAT_80", "Plafond des dotations d'investissement de l'État", RuleKind.cap_of_eligible_cost, 8000, STATE,
         "CGCT, art. R2334-27, al. 2", dt.date(2021, 10, 6)),
    Rule("AIDES_PUBLIQUES_100", "Aides publiques au plus égales à la dépense subventionnable",
         RuleKind.cap_of_eligible_cost, 10000, GRANTS, "Décret n° 2018-514 du 25 juin 2018, art. 10",
         dt.date(2018, 10, 1)),
    Rule("MO_20", "Participation minimale du maître d'ouvrage", RuleKind.owner_min_share, 2000, GRANTS,
         "CGCT, art. L1111-10, III", dt.date(2012, 1, 1)),
    Rule("DETR_TAUX_MIN", "Taux minimal de la DETR", RuleKind.min_rate, 2000, frozenset({"DETR"}),
         "CGCT, art. R2334-27, al. 1", dt.date(2021, 10, 6)),
]


def state(label, family, rate_bp=None, amount=None, priority=100, **kw):
    return PlanLine(label, Category.state_grant, StateFamily(family), requested_rate_bp=rate_bp,
                    requested_amount_cents=amount, priority=priority, **kw)


def line(label, category, rate_bp=None, amount=None, priority=100, **kw):
    return PlanLine(label, Category(category), requested_rate_bp=rate_bp, requested_amount_cents=amount,
                    priority=priority, **kw)


def plan(lines, cost=1_000_000 * EURO, eligible=None, ordering=Ordering.priority, on=DAY):
    return PlanInput(cost, cost if eligible is None else eligible, on, tuple(lines), ordering)


def granted(result) -> dict[str, int]:
    return {r.label: r.granted_cents // EURO for r in result.lines}


def issue_example(ordering=Ordering.priority, priorities=(1, 2, 3)):
    return plan([state("DSIL", "DSIL", 5000, priority=priorities[0]),
                 state("DETR", "DETR", 4000, priority=priorities[1]),
                 line("FEDER", "eu_grant", 4000, priority=priorities[2])], ordering=ordering)


# The issue's example -------------------------------------------------------------------------------

def test_the_issue_example_ends_with_800_000_of_grants_and_200_000_for_the_city():
    result = compute(issue_example(), RULES)
    assert result.grants_cents == 800_000 * EURO
    assert result.owner_share_cents == 200_000 * EURO
    assert result.own_funds_cents == 200_000 * EURO
    assert str(result.owner_share_percent) == "20.00"
    assert granted(result) == {"DSIL": 500_000, "DETR": 300_000, "FEDER": 0}

    dsil, detr, feder = result.lines
    assert dsil.reductions == []
    # The State family is capped first: DETR, the lower priority of the two, gives 100 000 €.
    [state_cap] = detr.reductions
    assert (state_cap.code, state_cap.reference, state_cap.amount_cents) == (
        "ETAT_80", "CGCT, art. R2334-27, al. 2", 100_000 * EURO)
    assert "les subventions de l'État (DETR, DSIL, DPV, DSID, Fonds vert) totalisaient 900\u202f000\u00a0€" \
        in state_cap.explanation
    assert "plafond de 80\u00a0% de la dépense éligible" in state_cap.explanation
    assert "100\u202f000\u00a0€ retirés de cette ligne" in state_cap.explanation
    # Then all public aid within the eligible cost, then the owner's 20 %: FEDER gives way twice.
    assert [(r.code, r.reference, r.amount_cents // EURO) for r in feder.reductions] == [
        ("AIDES_PUBLIQUES_100", "Décret n° 2018-514 du 25 juin 2018, art. 10", 200_000),
        ("MO_20", "CGCT, art. L1111-10, III", 200_000),
    ]
    owner = feder.reductions[1].explanation
    assert "le maître d'ouvrage finance au moins 20\u00a0% du total des financements publics" in owner
    assert "soit 200\u202f000\u00a0€ : plafond de 800\u202f000\u00a0€" in owner
    assert "La ligne est ramenée à 0\u00a0€." in owner
    assert "priorité 3" in owner

    # Every rule is listed, binding or not, with what it removed.
    assert [(c.code, c.removed_cents // EURO) for c in result.checks] == [
        ("ETAT_80", 100_000), ("AIDES_PUBLIQUES_100", 200_000), ("MO_20", 200_000), ("DETR_TAUX_MIN", 0)]
    assert result.checks[0].explanation.endswith("100\u202f000\u00a0€ retirés : DETR (100\u202f000\u00a0€).")
    assert result.warnings == []


def test_the_giving_way_rule_decides_which_line_gives_way_never_how_much():
    # FEDER first, DETR last: now DETR gives way to every cap, then DSIL.
    by_priority = compute(issue_example(priorities=(2, 3, 1)), RULES)
    assert granted(by_priority) == {"DSIL": 400_000, "DETR": 0, "FEDER": 400_000}
    assert [r.code for r in by_priority.lines[1].reductions] == ["ETAT_80", "AIDES_PUBLIQUES_100", "MO_20"]
    assert [r.code for r in by_priority.lines[0].reductions] == ["MO_20"]

    # Order entered: the last line entered (FEDER) gives way first, priorities ignored.
    entered = compute(issue_example(Ordering.order_entered, priorities=(3, 2, 1)), RULES)
    assert granted(entered) == {"DSIL": 500_000, "DETR": 300_000, "FEDER": 0}
    assert "les dernières lignes saisies cèdent les premières" in entered.lines[2].reductions[0].explanation

    # Pro rata: every covered line gives a share of each excess.
    prorata = compute(issue_example(Ordering.proportional), RULES)
    assert all(r.reductions for r in prorata.lines)
    assert prorata.lines[0].reductions[0].amount_cents == 5_555_555  # 100 000 € × 500/900, rounded down
    for result in (by_priority, entered, prorata):
        assert result.grants_cents == 800_000 * EURO and result.owner_share_cents == 200_000 * EURO


def test_a_tie_in_priority_gives_way_from_the_line_entered_last():
    result = compute(plan([state("DSIL", "DSIL", 6000, priority=1), state("DETR", "DETR", 3000, priority=1)]),
                     RULES)
    assert granted(result) == {"DSIL": 600_000, "DETR": 200_000}


# Loans ---------------------------------------------------------------------------------------------

def test_loans_are_apart_from_grants_and_no_grant_cap_touches_them():
    result = compute(plan([state("DSIL", "DSIL", 8000), line("Prêt Banque des Territoires", "loan",
                                                                  amount=200_000 * EURO)]), RULES)
    assert granted(result) == {"DSIL": 800_000, "Prêt Banque des Territoires": 200_000}
    assert result.grants_cents == 800_000 * EURO and result.loans_cents == 200_000 * EURO
    # The loan is how the city pays its share: the owner still pays 200 000 €, none from its budget.
    assert result.owner_share_cents == 200_000 * EURO and result.own_funds_cents == 0
    assert result.lines[1].reductions == []

    alone = compute(plan([line("Prêt", "loan", rate_bp=10000), line("Fonds propres", "equity", amount=0)]), RULES)
    assert granted(alone) == {"Prêt": 1_000_000, "Fonds propres": 0}
    assert alone.grants_cents == 0 and all(not c.binding for c in alone.checks)


def test_loans_only_fill_what_the_grants_leave():
    result = compute(plan([state("DSIL", "DSIL", 8000), line("Prêt", "loan", amount=300_000 * EURO)]), RULES)
    assert granted(result) == {"DSIL": 800_000, "Prêt": 200_000}
    [reduction] = result.lines[1].reductions
    assert reduction.code == "EQUILIBRE" and reduction.amount_cents == 100_000 * EURO
    assert "ce que les subventions laissent à la charge du maître d'ouvrage, soit 200\u202f000\u00a0€" \
        in reduction.explanation


# Dates ---------------------------------------------------------------------------------------------

def test_a_rule_applies_only_within_its_validity_dates_both_included():
    temporary = Rule("FEDER_50", "Plafond d'essai", RuleKind.cap_of_eligible_cost, 5000, {"eu_grant"}, "Essai",
                     dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    lines = [line("FEDER", "eu_grant", 7000)]
    assert granted(compute(plan(lines, on=dt.date(2026, 6, 30)), [temporary])) == {"FEDER": 500_000}
    assert granted(compute(plan(lines, on=dt.date(2026, 1, 1)), [temporary])) == {"FEDER": 500_000}
    assert granted(compute(plan(lines, on=dt.date(2026, 7, 1)), [temporary])) == {"FEDER": 700_000}
    assert granted(compute(plan(lines, on=dt.date(2025, 12, 31)), [temporary])) == {"FEDER": 700_000}
    assert compute(plan(lines, on=dt.date(2026, 7, 1)), [temporary]).checks == []


def test_before_the_owner_share_rule_existed_only_the_plan_balance_holds():
    result = compute(plan([line("Région", "region_grant", 6000), line("Département", "departement_grant", 6000)],
                          on=dt.date(2011, 6, 1)), RULES)
    assert result.grants_cents == 1_000_000 * EURO and result.owner_share_cents == 0
    assert [c.code for c in result.checks] == ["EQUILIBRE"]


def test_a_newer_version_of_a_rule_replaces_the_older_one():
    old = Rule("MO_20", "Ancienne", RuleKind.owner_min_share, 2000, GRANTS, "Ancien texte", dt.date(2012, 1, 1))
    new = Rule("MO_20", "Nouvelle", RuleKind.owner_min_share, 500, GRANTS, "Nouveau texte", dt.date(2027, 1, 1))
    lines = [line("Région", "region_grant", 10000)]
    assert granted(compute(plan(lines, on=dt.date(2026, 12, 31)), [old, new])) == {"Région": 800_000}
    assert granted(compute(plan(lines, on=dt.date(2027, 1, 1)), [old, new])) == {"Région": 950_000}


# Programme caps and minimum rates --------------------------------------------------------------------

def test_the_programme_rate_and_ceiling_apply_before_the_legal_caps():
    result = compute(plan([line("Région", "region_grant", 6000, rate_max_bp=4000),
                           line("Département", "departement_grant", amount=300_000 * EURO,
                                ceiling_cents=250_000 * EURO)], eligible=800_000 * EURO), RULES)
    assert granted(result) == {"Région": 320_000, "Département": 250_000}
    [by_rate] = result.lines[0].reductions
    assert by_rate.code == "PROGRAMME_TAUX_MAX" and by_rate.amount_cents == 160_000 * EURO
    assert "au plus 40\u00a0% de la dépense éligible (800\u202f000\u00a0€), soit 320\u202f000\u00a0€" in by_rate.explanation
    [by_ceiling] = result.lines[1].reductions
    assert by_ceiling.code == "PROGRAMME_PLAFOND" and by_ceiling.amount_cents == 50_000 * EURO


def test_a_detr_line_under_its_minimum_rate_is_a_warning_not_a_cut():
    result = compute(plan([state("DETR", "DETR", 1500)]), RULES)
    assert granted(result) == {"DETR": 150_000}
    [warning] = result.warnings
    assert "sous le taux minimal de 20\u00a0%" in warning and "CGCT, art. R2334-27, al. 1" in warning


def test_amounts_from_rates_are_rounded_down_to_the_cent():
    result = compute(plan([line("Région", "region_grant", 3333)], cost=100_000_001, eligible=100_000_001), RULES)
    assert result.lines[0].granted_cents == 33_330_000  # 33,33 % of 1 000 000,01 € = 333 300,0033… €
    assert euros(result.lines[0].granted_cents) == "333\u202f300\u00a0€"
    assert euros(123_456_789) == "1\u202f234\u202f567,89\u00a0€"


def test_line_from_programme_reads_a_programme_by_its_attributes():
    programme = SimpleNamespace(id=7, title="DSIL 2026 — rénovation énergétique", plan_category="state_grant",
                                state_family="DSIL", rate_max_bp=5000, amount_ceiling_cents=None)
    made = line_from_programme(programme)
    assert (made.label, made.category, made.state_family, made.programme_id) == (
        programme.title, Category.state_grant, StateFamily.DSIL, 7)
    assert made.requested_rate_bp == 5000 and made.rate_max_bp == 5000  # asks for the maximum
    assert line_from_programme(programme, requested_amount_cents=1000).requested_amount_cents == 1000
    loan = SimpleNamespace(id=8, title="Prêt vert", plan_category=Category.loan, state_family=None,
                           rate_max_bp=None, amount_ceiling_cents=10**9)
    with pytest.raises(PlanInputError):
        line_from_programme(loan)
    assert line_from_programme(loan, requested_amount_cents=500).ceiling_cents == 10**9


def test_a_line_is_refused_when_it_is_inconsistent():
    with pytest.raises(PlanInputError):
        PlanLine("DETR sans famille", Category.state_grant, requested_rate_bp=1000)
    with pytest.raises(PlanInputError):
        PlanLine("Les deux", Category.eu_grant, requested_rate_bp=1000, requested_amount_cents=1)
    with pytest.raises(PlanInputError):
        PlanInput(100, 200, DAY, ())


def _essentials(rule: Rule) -> tuple:
    return (rule.code, rule.kind, rule.value_bp, rule.applies_to, rule.legal_reference, rule.valid_from,
            rule.valid_to)


def test_the_seeded_rules_are_these_with_their_sources(db):
    seeded = rules_valid_on(db, DAY)
    assert [_essentials(r) for r in seeded] == [_essentials(r) for r in RULES]  # in the order they apply
    assert all(r.source_url.startswith("https://www.legifrance.gouv.fr/") and r.note for r in seeded)
    # The State cap is not in force before its 2021 wording.
    assert [r.code for r in rules_valid_on(db, dt.date(2021, 10, 5))] == ["AIDES_PUBLIQUES_100", "MO_20"]


# Properties ----------------------------------------------------------------------------------------

MAX_CENTS = 10**11  # one billion euros

@st.composite
def plan_lines(draw):
    category = draw(st.sampled_from(list(Category)))
    family = draw(st.sampled_from(list(StateFamily))) if category is Category.state_grant else None
    by_rate = draw(st.booleans())
    return PlanLine(
        label=f"Ligne {draw(st.integers(0, 99))}",
        category=category,
        state_family=family,
        requested_rate_bp=draw(st.integers(0, BP)) if by_rate else None,
        requested_amount_cents=None if by_rate else draw(st.integers(0, MAX_CENTS)),
        rate_max_bp=draw(st.none() | st.integers(0, BP)),
        ceiling_cents=draw(st.none() | st.integers(0, MAX_CENTS)),
        priority=draw(st.integers(1, 5)),
    )


@st.composite
def plans(draw, on=st.just(DAY)):
    cost = draw(st.integers(0, MAX_CENTS))
    eligible = draw(st.integers(0, cost))
    return PlanInput(cost, eligible, draw(on), tuple(draw(st.lists(plan_lines(), max_size=8))),
                     draw(st.sampled_from(list(Ordering))))


def _holds_for_any_plan(p: PlanInput, result) -> None:
    for r in result.lines:
        assert 0 <= r.granted_cents <= r.requested_cents
        if r.line.rate_max_bp is not None:
            assert r.granted_cents <= of(p.eligible_cost_ht_cents, r.line.rate_max_bp)
        if r.line.ceiling_cents is not None:
            assert r.granted_cents <= r.line.ceiling_cents
        # Every cent removed is explained by one reduction.
        assert sum(red.amount_cents for red in r.reductions) == r.requested_cents - r.granted_cents
        assert all(red.amount_cents > 0 and red.explanation for red in r.reductions)
    grant_lines = [r for r in result.lines if r.line.category.is_grant]
    assert result.grants_cents == sum(r.granted_cents for r in grant_lines)
    assert result.loans_cents + result.equity_cents == sum(r.granted_cents for r in result.lines if not r.is_grant)
    assert result.grants_cents <= p.cost_ht_cents
    assert result.owner_share_cents == p.cost_ht_cents - result.grants_cents >= 0
    assert result.own_funds_cents >= 0
    assert result.public_total_cents == p.cost_ht_cents
    # Each rule removed exactly what its reductions on the lines say.
    for code in {c.code for c in result.checks}:
        assert sum(c.removed_cents for c in result.checks if c.code == code) == sum(
            red.amount_cents for _, red in result.reductions if red.code == code)


@settings(max_examples=200, deadline=None)
@given(plans())
def test_for_any_plan_the_caps_in_force_hold(p):
    result = compute(p, RULES)
    _holds_for_any_plan(p, result)
    state_total = sum(r.granted_cents for r in result.lines if r.line.state_family is not None)
    assert state_total <= of(p.eligible_cost_ht_cents, 8000)  # CGCT R2334-27: 80 % of the eligible cost
    assert result.grants_cents <= p.eligible_cost_ht_cents  # décret 2018-514 art. 10
    # CGCT L1111-10 III: the owner funds at least 20 % of the public funding total.
    assert result.owner_share_cents * BP >= 2000 * result.public_total_cents
    # The giving-way rule moves money between lines, never changes the totals.
    for other in Ordering:
        again = compute(PlanInput(p.cost_ht_cents, p.eligible_cost_ht_cents, p.on, p.lines, other), RULES)
        assert (again.grants_cents, again.loans_cents + again.equity_cents) == (
            result.grants_cents, result.loans_cents + result.equity_cents)


@settings(max_examples=100, deadline=None)
@given(plans(on=st.dates(dt.date(2010, 1, 1), dt.date(2030, 12, 31))))
def test_on_any_date_the_plan_balances_and_only_rules_in_force_bind(p):
    result = compute(p, RULES)
    _holds_for_any_plan(p, result)
    in_force = {r.code for r in RULES if r.valid_on(p.on)}
    assert {c.code for c in result.checks} - {"EQUILIBRE"} == in_force
