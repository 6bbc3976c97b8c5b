"""The procedure a need allows: thresholds as data, compared as the law says, dated by the launch."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from marketplace.contracts import services
from marketplace.contracts.models import ProcurementThreshold
from marketplace.contracts.procedure import Threshold, decide, procedures_for
from tests.factories import make_user


def ask(client, **body):
    payload = {"amount_ht": 50000, "nature": "services", "innovative": False, "launch_date": "2026-05-01",
               "buyer_kind": "commune", **body}
    return client.post("/api/v1/procurement/procedure", json=payload)


def test_fifty_thousand_euros_of_services_need_no_competition_from_april_2026_but_did_before(client):
    after = ask(client, launch_date="2026-05-01").json
    assert after["recommended"] == "dispense" and after["thresholds_as_of"] == "2026-05-01"
    dispense = next(a for a in after["allowed"] if a["procedure"] == "dispense")
    assert dispense["article"] == "R2122-8"
    assert "(60\u202f000\u00a0€ HT, art. R2122-8 CCP, pour les consultations lancées à partir du 1er avril 2026)" \
        in dispense["rule"]
    before = ask(client, launch_date="2026-03-01").json
    assert before["recommended"] == "mapa"
    assert "dispense" not in {a["procedure"] for a in before["allowed"]}
    refused = next(r for r in before["not_allowed"] if r["procedure"] == "dispense")
    assert "supérieur au seuil de dispense" in refused["rule"] and "40\u202f000\u00a0€ HT" in refused["rule"]


def test_an_innovative_purchase_of_120_000_euros_is_refused_the_achat_innovant_with_its_rule(client):
    answer = ask(client, amount_ht=120000, innovative=True).json
    assert "achat_innovant" not in {a["procedure"] for a in answer["allowed"]}
    rule = next(r["rule"] for r in answer["not_allowed"] if r["procedure"] == "achat_innovant")
    assert rule == ("Montant de 120\u202f000\u00a0€ HT supérieur au seuil de l'achat innovant "
                    "(100\u202f000\u00a0€ HT, art. R2122-9-1 CCP)")
    assert answer["recommended"] == "mapa"
    ninety = ask(client, amount_ht=90000, innovative=True).json
    assert ninety["recommended"] == "achat_innovant"
    assert "partenariat_innovation" in {a["procedure"] for a in ninety["allowed"]}


def test_the_eu_threshold_of_2026_calls_for_a_formal_procedure(client):
    under = ask(client, amount_ht="215 999,99").json
    assert under["recommended"] == "mapa"
    at = ask(client, amount_ht=216000).json
    assert at["recommended"] == "appel_offres" and "mapa" not in {a["procedure"] for a in at["allowed"]}
    assert "égal au seuil européen" in next(r["rule"] for r in at["not_allowed"] if r["procedure"] == "mapa")
    works = ask(client, amount_ht=99999, nature="works", launch_date="2026-02-01").json
    assert works["recommended"] == "dispense"


@pytest.mark.parametrize("body, field", [
    ({"amount_ht": -1}, "amount_ht"), ({"amount_ht": "beaucoup"}, "amount_ht"), ({"nature": "conseil"}, "nature"),
    ({"launch_date": "2031-01-01"}, "launch_date"), ({"buyer_kind": "pays"}, "buyer_kind"),
])
def test_a_question_the_law_cannot_answer_is_a_clear_error(client, body, field):
    response = ask(client, **body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"], response.json


cents = st.integers(min_value=1, max_value=10**11)


@settings(max_examples=300, deadline=None)
@given(amount=cents, dispense=cents, eu=cents, innovation=cents, innovative=st.booleans())
def test_the_recommended_procedure_is_always_allowed_and_thresholds_are_strict(amount, dispense, eu, innovation,
                                                                               innovative):
    day = dt.date(2026, 5, 1)
    thresholds = {"dispense": Threshold("dispense", dispense, "R2122-8", day, None),
                  "eu_threshold": Threshold("eu_threshold", eu, "R2124-1", day, None),
                  "achat_innovant": Threshold("achat_innovant", innovation, "R2122-9-1", day, None)}
    answer = decide(amount, "services", innovative, day, thresholds)
    allowed = {a.procedure for a in answer.allowed}
    assert answer.recommended in allowed and "appel_offres" in allowed
    assert ("dispense" in allowed) == (amount < dispense)
    assert ("mapa" in allowed) == (amount < eu)
    assert ("achat_innovant" in allowed) == (innovative and amount < innovation)
    assert allowed.isdisjoint({r.procedure for r in answer.refused})


def test_a_threshold_changed_applies_at_once_in_the_same_transaction(db):
    """Thresholds are read once per transaction; superseding one forgets what was read."""
    day = dt.date(2026, 9, 1)
    assert procedures_for(db, 55_000_00, "services", False, day).recommended == "dispense"
    current = db.scalar(select(ProcurementThreshold).where(ProcurementThreshold.code == "dispense",
                                                           ProcurementThreshold.in_force_on(day))
                        .order_by(ProcurementThreshold.valid_from.desc()))
    services.supersede_threshold(db, make_user(db), current, {"valid_from": dt.date(2026, 8, 1), "amount_ht": 50_000_00,
                                                              "legal_reference": "R2122-8 CCP (test)"})
    assert procedures_for(db, 55_000_00, "services", False, day).recommended == "mapa"
