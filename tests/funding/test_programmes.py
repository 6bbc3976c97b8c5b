"""Programmes: curation draft → in review → published → closed → archived, versions with who and
when, ownership, the daily closing job, the search providers, the plan's duck-typed face."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from marketplace.core.audit import AuditEvent
from marketplace.core.errors import NotFound, ServiceError
from marketplace.funding import access, eligibility, labels, territory, versions
from marketplace.funding import services as funding
from marketplace.funding.indexing import load_call, load_programme
from marketplace.funding.models import CallStatus, FundingEvent, Programme, ProgrammeStatus, ProgrammeVersion
from tenants.access import Actor
from tests.factories import PROGRAMME_DATA, make_label, make_operator, make_programme

pytestmark = pytest.mark.usefixtures("indexed")


def events(db, programme) -> list[FundingEvent]:
    return list(db.scalars(select(AuditEvent.event_type).where(AuditEvent.object_type == "programmes",
                                                               AuditEvent.object_id == str(programme.id))
                           .order_by(AuditEvent.id)))


def test_anct_staff_are_curators_and_funders_are_not(db, people):
    assert people.viewer(db, people.curator, people.curator_m).is_curator  # ANCT member, not admin
    assert people.viewer(db, people.admin, people.admin_m).is_curator
    funder = people.viewer(db, people.funder, people.funder_m)
    assert funder.is_funder and not funder.is_curator
    mayor = people.viewer(db, people.mayor, people.mayor_m)
    assert not mayor.is_funder and not mayor.is_curator


def test_a_programme_is_published_after_review_and_every_step_is_versioned_and_audited(db, people, indexed):
    programme = funding.create_programme(db, people.funder, people.region, PROGRAMME_DATA)
    territory.add_scope(db, people.funder, programme, include=True, level="region", value="24")
    funding.submit(db, people.funder, programme)
    assert programme.status is ProgrammeStatus.in_review and indexed == []
    curator = people.viewer(db, people.curator, people.curator_m)
    message = funding.apply_action(db, people.curator, curator, programme, "publish")
    assert programme.status is ProgrammeStatus.published and "est publié" in message
    assert indexed == [("programme", programme.id)]
    funding.close(db, people.funder, programme)
    funding.archive(db, people.funder, programme)
    assert programme.status is ProgrammeStatus.archived
    assert events(db, programme) == [FundingEvent.programme_created, FundingEvent.programme_scope_changed, FundingEvent.programme_submitted,
                                     FundingEvent.programme_published, FundingEvent.programme_closed, FundingEvent.programme_archived]
    versions = list(db.scalars(select(ProgrammeVersion).where(ProgrammeVersion.programme_id == programme.id)
                               .order_by(ProgrammeVersion.number)))
    assert [v.number for v in versions] == [1, 2, 3, 4, 5, 6] and programme.version == 6
    assert [v.actor_id for v in versions] == [people.funder.id] * 3 + [people.curator.id] + [people.funder.id] * 2
    assert versions[0].summary == "Création du programme"
    assert versions[1].summary == "Périmètre : ajout de la région Centre-Val de Loire"
    assert versions[3].snapshot["status"] == "published" and versions[3].snapshot["scope"] == [["+", "region", "24"]]
    assert all(v.at is not None for v in versions)


def test_illegal_transitions_are_refused_in_french(db, people):
    draft = make_programme(db, people.region, status="draft")
    with pytest.raises(ServiceError, match="n'attend pas de relecture"):
        funding.publish(db, people.curator, draft)
    with pytest.raises(ServiceError, match="Seul un programme publié peut être clos"):
        funding.close(db, people.funder, draft)
    published = make_programme(db, people.region)
    with pytest.raises(ServiceError, match="Seul un brouillon"):
        funding.submit(db, people.funder, published)
    with pytest.raises(ServiceError, match="Seul un programme archivé"):
        funding.restore(db, people.funder, published)
    # Only ANCT publishes, even its owner cannot.
    in_review = make_programme(db, people.region, status="in_review")
    funder = people.viewer(db, people.funder, people.funder_m)
    with pytest.raises(ServiceError, match="Seule l'équipe de l'ANCT"):
        funding.apply_action(db, people.funder, funder, in_review, "publish")
    assert in_review.status is ProgrammeStatus.in_review


def test_sending_back_needs_a_comment_that_the_funder_reads(db, people):
    programme = make_programme(db, people.region, status="in_review")
    with pytest.raises(ServiceError) as refused:
        funding.send_back(db, people.curator, programme, "  ")
    assert refused.value.field == "comment"
    funding.send_back(db, people.curator, programme, "Précisez le taux maximal.")
    assert programme.status is ProgrammeStatus.draft and programme.review_comment == "Précisez le taux maximal."
    assert programme.versions[0].summary == "Renvoyé en brouillon : Précisez le taux maximal."


def test_an_edit_is_versioned_with_its_fields_and_reindexed_when_public(db, people, indexed):
    programme = make_programme(db, people.region)
    changed = funding.update_programme(db, people.funder, programme, {**PROGRAMME_DATA, "rate_max_bp": 5000,
                                                                      "title": "Nouveau titre"})
    assert changed == ["Intitulé", "Taux maximal"]
    assert indexed == [("programme", programme.id)]
    assert funding.update_programme(db, people.funder, programme, {**PROGRAMME_DATA, "rate_max_bp": 5000,
                                                                   "title": "Nouveau titre"}) == []
    history = versions.history(db, programme)
    assert history[0].version.summary == "Modification : intitulé, taux maximal"
    assert history[0].version.actor_id == people.funder.id
    assert ("Taux maximal", "40 %", "50 %") in history[0].changes
    assert ("Intitulé", PROGRAMME_DATA["title"], "Nouveau titre") in history[0].changes


def test_another_funder_cannot_see_a_draft_nor_edit_a_programme(db, people):
    draft = make_programme(db, people.region, status="draft")
    published = make_programme(db, people.region)
    banker = people.viewer(db, people.banker, people.banker_m)
    mayor = people.viewer(db, people.mayor, people.mayor_m)
    for viewer in (banker, mayor, Actor.anonymous()):
        with pytest.raises(NotFound):
            access.get_visible_programme(db, draft.id, viewer)
        with pytest.raises(NotFound):
            access.get_editable_programme(db, published.id, viewer)
    assert access.get_visible_programme(db, published.id, banker) is published
    # Its owner and ANCT do.
    owner = people.viewer(db, people.funder, people.funder_m)
    curator = people.viewer(db, people.curator, people.curator_m)
    assert access.get_editable_programme(db, draft.id, owner) is draft
    assert access.get_editable_programme(db, draft.id, curator) is draft


def test_only_operators_create_programmes(db, people):
    with pytest.raises(ServiceError, match="Seuls les financeurs"):
        funding.create_programme(db, people.mayor, people.city, PROGRAMME_DATA)


def test_publication_needs_a_territory(db, people):
    programme = make_programme(db, people.region, status="draft", scope=())
    with pytest.raises(ServiceError, match="Définissez d'abord le périmètre"):
        funding.submit(db, people.funder, programme)


def test_the_daily_job_closes_past_deadline_programmes_but_not_permanent_ones(db, people, indexed):
    past = make_programme(db, people.region, recurrence="one_off", closes_on=dt.date(2026, 12, 31))
    permanent = make_programme(db, people.region, recurrence="permanent", closes_on=None)
    future = make_programme(db, people.region, recurrence="one_off", closes_on=dt.date(2027, 1, 31))
    # A permanent programme whose date passed anyway (set in the data, not by the form) stays open.
    permanent.closes_on = dt.date(2026, 1, 1)
    db.flush()
    assert funding.close_expired(db, on=dt.date(2027, 1, 1)) == 1
    assert past.status is ProgrammeStatus.closed
    assert permanent.status is ProgrammeStatus.published and future.status is ProgrammeStatus.published
    assert ("programme", past.id) in indexed
    closing = past.versions[0]
    assert closing.actor_id is None and closing.summary.startswith("Clos automatiquement")
    event = db.scalars(select(AuditEvent).where(AuditEvent.event_type == FundingEvent.programme_closed,
                                                AuditEvent.object_id == str(past.id))).one()
    assert event.actor_id is None and event.data["automatic"] is True
    # No longer offered; idempotent.
    assert past.id not in {o.programme_id for o in eligibility.offers_for_commune(db, people.city.commune)}
    assert funding.close_expired(db, on=dt.date(2027, 1, 1)) == 0


def test_the_job_closes_calls_past_their_date(db, people):
    programme = make_programme(db, people.region)
    call = funding.create_call(db, people.funder, programme, {"title": "Appel 2026", "closes_on": dt.date(2030, 3, 31)})
    funding.apply_call_action(db, people.funder, call, "publish")
    assert call.status is CallStatus.published
    assert funding.close_expired(db, on=dt.date(2030, 4, 1)) == 1
    assert call.status is CallStatus.closed and programme.status is ProgrammeStatus.published


def test_the_closing_job_runs_on_the_queue(db, people, app, redis):
    from marketplace.funding.tasks import close_expired_programmes
    from tests.helpers import run_jobs

    programme = make_programme(db, people.region, recurrence="one_off", closes_on=dt.date(2030, 1, 31))
    programme.closes_on = dt.date(2020, 1, 31)  # time passed
    db.commit()
    close_expired_programmes.enqueue(connection=redis)
    run_jobs(redis)
    db.expire_all()
    assert db.get(Programme, programme.id).status is ProgrammeStatus.closed


def test_the_job_is_scheduled_by_the_cron(app):
    from jobs import periodic_jobs
    from marketplace.funding.tasks import close_expired_programmes

    assert (close_expired_programmes.spec.func, "20 0 * * *") in [(spec.func, spec.cron) for spec in periodic_jobs()]


def test_reopening_needs_a_future_closing_date(db, people):
    programme = make_programme(db, people.region, recurrence="one_off", closes_on=dt.date(2030, 1, 1))
    funding.close(db, people.funder, programme)
    programme.closes_on = dt.date(2020, 1, 1)
    with pytest.raises(ServiceError, match="repoussez-la"):
        funding.reopen(db, people.funder, programme)
    programme.closes_on = dt.date(2031, 1, 1)
    funding.reopen(db, people.funder, programme)
    assert programme.status is ProgrammeStatus.published


def test_calls_open_only_on_a_published_programme(db, people, indexed):
    draft = make_programme(db, people.region, status="draft")
    call = funding.create_call(db, people.funder, draft, {"title": "Appel à projets 2027", "closes_on": dt.date(2031, 6, 30)})
    with pytest.raises(ServiceError, match="Publiez d'abord le programme"):
        funding.apply_call_action(db, people.funder, call, "publish")
    published = make_programme(db, people.region)
    call = funding.create_call(db, people.funder, published, {"title": "AMI 2027", "kind": "ami",
                                                               "closes_on": dt.date(2031, 6, 30)})
    assert funding.apply_call_action(db, people.funder, call, "publish") == "Appel « AMI 2027 » ouvert."
    assert ("call", call.id) in indexed
    assert published.versions[0].summary == "Appel « AMI 2027 » ouvert"
    with pytest.raises(ServiceError, match="Un appel s'ouvre depuis un brouillon"):
        funding.apply_call_action(db, people.funder, call, "publish")


def test_the_search_providers_return_none_for_drafts(db, people):
    draft = make_programme(db, people.region, status="draft")
    in_review = make_programme(db, people.region, status="in_review")
    closed = make_programme(db, people.region, status="closed")
    published = make_programme(db, people.region, themes=["eclairage-public"], funders=["État", "ADEME"])
    assert load_programme(db, draft.id) is None and load_programme(db, in_review.id) is None
    assert load_programme(db, closed.id) is None and load_programme(db, 999_999) is None
    doc = load_programme(db, published.id)
    assert doc["id"] == f"programme:{published.id}" and doc["type"] == "programme"
    assert doc["domains"] == ["eclairage-public"] and doc["url"] == f"/financements/{published.id}"
    assert doc["owner"] == "État, ADEME" and "rénovation" in doc["body"]
    draft_call = funding.create_call(db, people.funder, draft, {"title": "Appel brouillon", "closes_on": None})
    assert load_call(db, draft_call.id) is None
    call = funding.create_call(db, people.funder, published, {"title": "Appel ouvert", "closes_on": dt.date(2031, 1, 1)})
    assert load_call(db, call.id) is None  # still a draft
    funding.apply_call_action(db, people.funder, call, "publish")
    call_doc = load_call(db, call.id)
    assert call_doc["type"] == "call" and call_doc["url"] == f"/financements/{published.id}#appel-{call.id}"
    assert call_doc["domains"] == ["eclairage-public"]


def test_the_document_paths_match_the_routes(app):
    from marketplace.funding.indexing import PROGRAMME_PATH

    with app.test_request_context():
        from flask import url_for

        assert url_for("funding.programme", programme_id=7) == PROGRAMME_PATH.format(id=7)


def test_the_plan_reads_a_duck_typed_face(db, people):
    from marketplace.funding.plan.engine import line_from_programme

    detr = make_programme(db, make_operator(db, "Préfecture"), funder_level="state", state_family="DETR",
                          rate_min_bp=2000, rate_max_bp=8000, aid_types=["subvention"])
    feder = make_programme(db, people.region, funder_level="eu", aid_types=["subvention"], rate_max_bp=6000)
    loan = make_programme(db, people.bank, funder_level="banque_des_territoires", aid_types=["pret"],
                          rate_max_bp=None, amount_ceiling_cents=None)
    engineering = make_programme(db, people.bank, funder_level="agency", aid_types=["ingenierie"])
    other_state = make_programme(db, people.region, funder_level="state", aid_types=["subvention"])
    assert (detr.plan_category, detr.state_family, detr.rate_max_bp) == ("state_grant", "DETR", 8000)
    assert feder.plan_category == "eu_grant" and loan.plan_category == "loan"
    assert engineering.plan_category == "engineering" and other_state.plan_category == "other_public_grant"
    line = line_from_programme(detr)
    assert line.requested_rate_bp == 8000 and line.programme_id == detr.id and line.label == detr.title
    assert line_from_programme(feder, requested_amount_cents=100_000).ceiling_cents == PROGRAMME_DATA["amount_ceiling_cents"]


def test_a_state_family_needs_a_state_subsidy(db, people):
    from marketplace.funding.schemas import ProgrammeFormSchema

    errors = ProgrammeFormSchema().validate({**_form(), "funder_level": "region", "state_family": "DSIL"})
    assert errors["state_family"] == ["Seul un programme de l'État relève d'une dotation de l'État."]


def _form() -> dict:
    return {"title": "DSIL 2027", "summary": "Soutien à l'investissement local des communes.", "funders": "État",
            "funder_level": "state", "aid_types": ["subvention"], "beneficiary_kinds": ["commune"],
            "recurrence": "recurring", "source_url": "https://www.collectivites-locales.gouv.fr/"}


def test_the_form_schema_turns_percent_and_euros_into_integers_and_answers_in_french(db):
    from marketplace.funding.schemas import ProgrammeFormSchema

    data = ProgrammeFormSchema().load({**_form(), "rate_min": "20", "rate_max": "40,5 %",
                                       "amount_ceiling": "1 500 000,50", "population_below": "20000"})
    assert data["rate_min_bp"] == 2000 and data["rate_max_bp"] == 4050
    assert data["amount_ceiling_cents"] == 150_000_050 and data["funders"] == ["État"]
    errors = ProgrammeFormSchema().validate({**_form(), "rate_min": "60", "rate_max": "140",
                                             "population_min": "5000", "population_below": "2000",
                                             "recurrence": "permanent", "closes_on": "2027-01-01"})
    assert errors["rate_max"] == ["Un taux est compris entre 0 et 100 %."]
    assert errors["closes_on"] == ["Un programme permanent n'a pas de date de clôture."]
    assert errors["population_below"] == ["Le seuil haut doit être supérieur au seuil bas."]
    errors = ProgrammeFormSchema().validate({"title": "x"})
    assert errors["title"] == ["Entre 3 et 200 caractères."]
    assert errors["source_url"] == ["Indiquez la source officielle du programme."]
    assert errors["aid_types"] == ["Choisissez au moins un élément."]


def test_labels_upload_reports_unknown_codes_with_line_numbers(db, people):
    label = make_label(db, "Petites Villes de Demain", (), owner=people.anct)
    text = "code_insee;nom\n36088;Issoudun\n99999;Nulle part\n1053;Bourg-en-Bresse (zéro perdu)\nabc;?\n36088;doublon\n\n2A004;Ajaccio\n"
    report = labels.upload_label_communes(db, people.curator, label, text)
    assert report.codes == ["36088", "01053", "2A004"]
    assert report.unknown == [(3, "99999")] and report.invalid == [(5, "abc")] and report.duplicates == 1
    assert report.problems == ["ligne 3 : code INSEE « 99999 » inconnu du référentiel",
                               "ligne 5 : « abc » n'est pas un code INSEE"]
    assert labels.label_commune_count(db, label) == 3
    # A new upload replaces the list; a file with nothing recognised changes nothing.
    report = labels.upload_label_communes(db, people.curator, label, "36044\n")
    assert (report.added, report.removed) == (1, 3)
    with pytest.raises(ServiceError, match="Aucun code INSEE reconnu"):
        labels.upload_label_communes(db, people.curator, label, "insee\n00000\n")
    assert labels.label_commune_count(db, label) == 1
    event = db.scalars(select(AuditEvent).where(AuditEvent.event_type == FundingEvent.label_communes_uploaded)
                       .order_by(AuditEvent.id)).all()[0]
    assert event.actor_id == people.curator.id and event.data["unknown"] == ["99999"]


def test_scope_values_are_resolved_by_code_or_name_with_french_errors(db, people):
    programme = make_programme(db, people.region, status="draft", scope=())
    territory.add_scope(db, people.funder, programme, include=True, level="departement", value="Indre")
    with pytest.raises(ServiceError, match="Déjà dans le périmètre : Indre"):
        territory.add_scope(db, people.funder, programme, include=False, level="departement", value="36")
    with pytest.raises(ServiceError, match="Codes INSEE inconnus : 99999"):
        territory.add_scope(db, people.funder, programme, include=True, level="commune", value="36044, 99999")
    with pytest.raises(ServiceError, match="Plusieurs communes correspondent, donnez le code INSEE"):
        territory.add_scope(db, people.funder, programme, include=True, level="commune", value="Saint-Martin")
    with pytest.raises(ServiceError, match="Aucun label"):
        territory.add_scope(db, people.funder, programme, include=True, level="label", value="Inexistant")
    rows = territory.add_scope(db, people.funder, programme, include=True, level="commune", value="36044 45155").rows
    assert [r.code for r in rows] == ["36044", "45155"]
    territory.remove_scope(db, people.funder, programme, rows[0].id)
    assert {s.code for s in programme.scope} == {"36", "45155"}
    assert programme.versions[0].summary == "Périmètre : retrait de la commune Châteauroux"
