"""Computed eligibility: programmes for a commune or an EPCI (with reasons), communes of a programme
(exact, checked against the territory registry itself)."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from marketplace.core.errors import ServiceError
from marketplace.funding import eligibility, labels, territory
from marketplace.funding import services as funding
from marketplace.funding.models import Programme
from tenants.territories.models import Commune, Epci
from tests.factories import make_city, make_epci, make_label, make_programme

pytestmark = pytest.mark.usefixtures("indexed")

ISSOUDUN, GIEN, CHATEAUROUX, VITRE, TOURS = "36088", "45155", "36044", "35360", "37261"


def offered(db, insee: str) -> set[int]:
    return {o.programme_id for o in eligibility.offers_for_commune(db, db.get(Commune, insee))}


def test_done_when_centre_val_de_loire_communes_under_20000(db):
    """The issue's example: offered to Issoudun and Gien, not to Châteauroux nor to Vitré; the
    count of eligible communes equals the one computed from the registry itself."""
    programme = make_programme(db, scope=(("include", "region", "24"),), population_below=20000)
    assert db.get(Commune, ISSOUDUN).population == 11159 and db.get(Commune, GIEN).population == 13459
    assert db.get(Commune, CHATEAUROUX).population == 42963
    assert programme.id in offered(db, ISSOUDUN)
    assert programme.id in offered(db, GIEN)
    assert programme.id not in offered(db, CHATEAUROUX)
    assert programme.id not in offered(db, VITRE)

    expected = db.scalar(select(func.count()).select_from(Commune)
                         .where(Commune.region_code == "24", Commune.population < 20000))
    assert expected > 1500
    assert eligibility.eligible_communes_count(db, programme) == expected
    codes = eligibility.eligible_insee_codes(db, programme)
    assert len(codes) == expected and ISSOUDUN in codes and CHATEAUROUX not in codes


def test_the_reasons_say_population_region_and_label_in_french(db):
    label = make_label(db, "Action Cœur de Ville", (CHATEAUROUX,))
    programme = make_programme(db, scope=(("include", "region", "24"), ("include", "label", label.slug)),
                               population_below=None)
    offer = next(o for o in eligibility.offers_for_commune(db, db.get(Commune, CHATEAUROUX))
                 if o.programme_id == programme.id)
    assert offer.reason == ("commune de 42\u202f963 habitants, région Centre-Val de Loire, "
                            "labellisée Action Cœur de Ville")
    bounded = make_programme(db, scope=(("include", "departement", "36"),), population_below=20000)
    issoudun = next(o for o in eligibility.offers_for_commune(db, db.get(Commune, ISSOUDUN))
                    if o.programme_id == bounded.id)
    assert issoudun.reasons == ["commune de 11\u202f159 habitants (seuil : moins de 20\u202f000 habitants)",
                                "Indre (département 36)"]


def test_exclusions_remove_a_departement_from_a_region(db):
    programme = make_programme(db, scope=(("include", "region", "Centre-Val de Loire"),
                                          ("exclude", "departement", "37")), population_below=None)
    assert programme.id in offered(db, CHATEAUROUX)
    assert programme.id not in offered(db, TOURS)
    expected = db.scalar(select(func.count()).select_from(Commune)
                         .where(Commune.region_code == "24", Commune.departement_code != "37"))
    assert eligibility.eligible_communes_count(db, programme) == expected
    verdict = eligibility.check_commune(db, programme, db.get(Commune, TOURS))
    assert not verdict.eligible
    assert verdict.blockers == ["exclue du périmètre : Indre-et-Loire (37)"]


def test_an_epci_scope_covers_all_its_member_communes(db):
    metropole = db.get(Epci, "243600327")  # Châteauroux Métropole
    programme = make_programme(db, scope=(("include", "epci", metropole.siren),), population_below=None,
                               beneficiary_kinds=["commune", "epci"])
    members = set(db.scalars(select(Commune.insee).where(Commune.epci_siren == metropole.siren)))
    assert len(members) > 5
    assert set(eligibility.eligible_insee_codes(db, programme)) == members
    assert programme.id in offered(db, CHATEAUROUX)
    assert programme.id not in offered(db, ISSOUDUN)  # a neighbour, in another EPCI
    # Named by its name too.
    by_name = make_programme(db, scope=(("include", "epci", "CA Châteauroux Métropole"),), population_below=None)
    assert by_name.scope[0].code == metropole.siren


def test_excluding_an_epci_keeps_communes_outside_any_epci(db):
    """NOT (epci_siren IN …) is NULL for a commune without EPCI: the query must not drop it."""
    loner = db.scalar(select(Commune).where(Commune.epci_siren.is_(None)).order_by(Commune.insee))
    programme = make_programme(db, scope=(("include", "departement", loner.departement_code),
                                          ("exclude", "epci", "243600327")), population_below=None)
    assert loner.insee in eligibility.eligible_insee_codes(db, programme)
    assert programme.id in offered(db, loner.insee)


def test_a_commune_list_and_a_label(db):
    label = make_label(db, "Petites Villes de Demain (extrait)", (ISSOUDUN, GIEN))
    listed = make_programme(db, scope=(("include", "commune", f"{VITRE}, {CHATEAUROUX}"),), population_below=None)
    labelled = make_programme(db, scope=(("include", "label", label.name),), population_below=None)
    assert set(eligibility.eligible_insee_codes(db, listed)) == {VITRE, CHATEAUROUX}
    assert set(eligibility.eligible_insee_codes(db, labelled)) == {ISSOUDUN, GIEN}
    assert labelled.id in offered(db, GIEN) and labelled.id not in offered(db, VITRE)
    # Uploading a new list changes the eligibility at once.
    labels.upload_label_communes(db, _user(db), label, f"code_insee\n{VITRE}\n")
    assert set(eligibility.eligible_insee_codes(db, labelled)) == {VITRE}
    assert labelled.id in offered(db, VITRE) and labelled.id not in offered(db, GIEN)


def test_a_collectivite_sees_a_new_programme_and_a_new_label_on_its_next_visit(db):
    """Its offers are kept between visits at one eligibility generation: a programme published (a
    new generation) or a label's new list (which moves no generation) shows on the next one."""
    city = make_city(db, GIEN)
    label = make_label(db, "Petites Villes de Demain (extrait)", (ISSOUDUN,))
    labelled = make_programme(db, scope=(("include", "label", label.name),), population_below=None)
    first = {o.programme_id for o in eligibility.offers_for_tenant(db, city)}
    assert labelled.id not in first
    assert {o.programme_id for o in eligibility.offers_for_tenant(db, city)} == first
    labels.upload_label_communes(db, _user(db), label, f"code_insee\n{GIEN}\n")
    reasons = {o.programme_id: o.reason for o in eligibility.offers_for_tenant(db, city)}
    assert labelled.id in reasons and "labellisée Petites Villes de Demain (extrait)" in reasons[labelled.id]
    regional = make_programme(db, scope=(("include", "region", "24"),), population_below=20000)
    assert regional.id in {o.programme_id for o in eligibility.offers_for_tenant(db, city)}
    assert {o.programme_id for o in eligibility.offers_for_tenant(db, city)} == \
        {o.programme_id for o in eligibility.offers_for_commune(db, db.get(Commune, GIEN))}


def test_an_intercommunalite_sees_a_new_programme_and_a_member_s_new_label_on_its_next_visit(db):
    """An EPCI's offers are kept the same way: a member commune put on a label's list (no new
    generation) and a programme published both show on the next visit, with the reasons of now."""
    metropole = db.get(Epci, "243600327")  # Châteauroux Métropole: Châteauroux is a member, Gien is not
    tenant = make_epci(db)
    assert tenant.epci_siren == metropole.siren
    label = make_label(db, "Petites Villes de Demain (extrait)", (GIEN,))
    labelled = make_programme(db, scope=(("include", "label", label.name),), population_below=None,
                              beneficiary_kinds=["commune", "epci"])
    first = {o.programme_id for o in eligibility.offers_for_tenant(db, tenant)}
    assert labelled.id not in first
    assert {o.programme_id for o in eligibility.offers_for_tenant(db, tenant)} == first
    labels.upload_label_communes(db, _user(db), label, f"code_insee\n{CHATEAUROUX}\n")
    offer = next(o for o in eligibility.offers_for_tenant(db, tenant) if o.programme_id == labelled.id)
    assert offer.covered_members == 1 and "labellisée Petites Villes de Demain (extrait)" in offer.reasons
    regional = make_programme(db, scope=(("include", "region", "24"),), population_below=None,
                              beneficiary_kinds=["epci"])
    assert regional.id in {o.programme_id for o in eligibility.offers_for_tenant(db, tenant)}
    labels.upload_label_communes(db, _user(db), label, f"code_insee\n{GIEN}\n")
    assert labelled.id not in {o.programme_id for o in eligibility.offers_for_tenant(db, tenant)}


def _user(db):
    from tests.factories import make_user

    return make_user(db)


def test_beneficiary_kinds_decide_who_is_offered(db):
    only_epci = make_programme(db, scope=(("include", "france", ""),), population_below=None,
                               beneficiary_kinds=["epci"])
    assert only_epci.id not in offered(db, CHATEAUROUX)
    assert eligibility.eligible_communes_count(db, only_epci) == 0
    metropole = db.get(Epci, "243600327")
    assert only_epci.id in {o.programme_id for o in eligibility.offers_for_epci(db, metropole)}
    verdict = eligibility.check_commune(db, only_epci, db.get(Commune, CHATEAUROUX))
    assert "le programme ne s'adresse pas aux communes" in verdict.blockers


def test_epci_kinds_and_epci_population_bounds(db):
    metropole = db.get(Epci, "243600327")  # a communauté d'agglomération
    assert metropole.kind == "CA"
    for_cc = make_programme(db, scope=(("include", "region", "24"),), population_below=None,
                            beneficiary_kinds=["commune", "epci"], epci_kinds=["CC"])
    for_small = make_programme(db, scope=(("include", "region", "24"),), population_below=None,
                               beneficiary_kinds=["epci"], epci_population_below=50000)
    for_any = make_programme(db, scope=(("include", "region", "24"),), population_below=None,
                             beneficiary_kinds=["epci"])
    ids = {o.programme_id for o in eligibility.offers_for_epci(db, metropole)}
    assert for_any.id in ids and for_cc.id not in ids
    assert (for_small.id in ids) is (metropole.population < 50000)
    verdict = eligibility.check_epci(db, for_cc, metropole)
    assert verdict.blockers == ["communauté d'agglomération : type non retenu (le programme retient : "
                                "communauté de communes)"]
    # A CC of the région is offered the CC programme.
    cc = db.scalar(select(Epci).join(Commune, Commune.epci_siren == Epci.siren)
                   .where(Epci.kind == "CC", Commune.region_code == "24").limit(1))
    assert for_cc.id in {o.programme_id for o in eligibility.offers_for_epci(db, cc)}


def test_an_epci_is_eligible_when_one_member_is_covered_and_the_reasons_say_how_many(db):
    metropole = db.get(Epci, "243600327")
    members = db.scalar(select(func.count()).select_from(Commune).where(Commune.epci_siren == metropole.siren))
    label = make_label(db, "Action Cœur de Ville", (CHATEAUROUX,))
    acv = make_programme(db, scope=(("include", "label", label.slug),), population_below=None,
                         beneficiary_kinds=["commune", "epci"])
    offer = next(o for o in eligibility.offers_for_epci(db, metropole) if o.programme_id == acv.id)
    assert offer.covered_members == 1 and offer.member_count == members
    assert f"1 commune membre sur {members} dans le périmètre" in offer.reasons
    assert "labellisée Action Cœur de Ville" in offer.reasons
    regional = make_programme(db, scope=(("include", "region", "24"),), population_below=None,
                              beneficiary_kinds=["epci"])
    offer = next(o for o in eligibility.offers_for_epci(db, metropole) if o.programme_id == regional.id)
    assert offer.reasons[0].startswith("intercommunalité (communauté d'agglomération) de ")
    assert offer.reasons[1:] == ["toutes ses communes membres dans le périmètre", "région Centre-Val de Loire"]
    # Excluding the EPCI itself removes every member.
    excluded = make_programme(db, scope=(("include", "region", "24"), ("exclude", "epci", metropole.siren)),
                              population_below=None, beneficiary_kinds=["epci"])
    assert excluded.id not in {o.programme_id for o in eligibility.offers_for_epci(db, metropole)}


def test_tenants_are_offered_by_their_commune_or_their_epci(db):
    city = make_city(db, ISSOUDUN)
    epci_tenant = make_epci(db)
    programme = make_programme(db, scope=(("include", "region", "24"),), population_below=20000,
                               beneficiary_kinds=["commune", "epci"])
    assert programme.id in {o.programme_id for o in eligibility.offers_for_tenant(db, city)}
    assert programme.id in {o.programme_id for o in eligibility.offers_for_tenant(db, epci_tenant)}
    assert eligibility.check_tenant(db, programme, city).eligible


def test_only_published_programmes_are_offered(db):
    draft = make_programme(db, status="draft")
    closed = make_programme(db, status="closed")
    assert draft.id not in offered(db, ISSOUDUN) and closed.id not in offered(db, ISSOUDUN)
    # The verdict of one programme still explains the rules (for its owner's preview).
    assert eligibility.check_commune(db, draft, db.get(Commune, ISSOUDUN)).eligible


def test_the_fast_lookup_agrees_with_the_exact_query(db):
    """For varied rules, 'programmes for a commune' and 'communes of a programme' give the same pairs."""
    label = make_label(db, "Liste d'essai", (CHATEAUROUX, GIEN, VITRE))
    programmes = [
        make_programme(db, scope=(("include", "france", ""),), population_min=10000, population_below=50000),
        make_programme(db, scope=(("include", "region", "24"), ("exclude", "commune", GIEN)), population_below=None),
        make_programme(db, scope=(("include", "label", label.slug), ("exclude", "region", "53")), population_below=None),
        make_programme(db, scope=(("include", "departement", "36"), ("include", "departement", "45"),
                                  ("exclude", "epci", "243600327")), population_below=15000),
        make_programme(db, scope=(("include", "epci", "243600327"),), population_min=1000, population_below=None),
    ]
    for insee in (ISSOUDUN, GIEN, CHATEAUROUX, VITRE, TOURS, "36202", "45234"):
        commune = db.get(Commune, insee)
        fast = {o.programme_id for o in eligibility.offers_for_commune(db, commune)} & {p.id for p in programmes}
        exact = {p.id for p in programmes if insee in set(eligibility.eligible_insee_codes(db, p))}
        slow = {p.id for p in programmes if eligibility.check_commune(db, p, commune).eligible}
        assert fast == exact == slow, insee


def test_the_csv_of_eligible_communes_reads_back(db):
    programme = make_programme(db, scope=(("include", "departement", "36"),), population_below=20000)
    text = eligibility.eligible_communes_csv(db, programme)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == eligibility.CSV_HEADER
    body = rows[1:]
    assert len(body) == eligibility.eligible_communes_count(db, programme)
    issoudun = next(r for r in body if r[0] == ISSOUDUN)
    assert issoudun[1:4] == ["Issoudun", "11159", "36"] and issoudun[6] == "Centre-Val de Loire"
    assert all(int(r[2]) < 20000 and r[3] == "36" for r in body)


def test_rules_in_words(db):
    label = make_label(db, "Action Cœur de Ville", (CHATEAUROUX,))
    programme = make_programme(db, scope=(("include", "region", "24"), ("include", "label", label.slug),
                                          ("exclude", "departement", "37")),
                               beneficiary_kinds=["commune", "epci"], epci_kinds=["CC", "CA"], population_min=2000)
    sentences = eligibility.describe_rules(db, programme)
    assert sentences[0] == ("Territoire : région Centre-Val de Loire, label Action Cœur de Ville ; "
                            "sauf Indre-et-Loire (37).")
    assert "Communes d'au moins 2\u202f000 et de moins de 20\u202f000 habitants (population municipale INSEE)." \
        in sentences
    assert ("Intercommunalités (communauté de communes, communauté d'agglomération) : éligibles si au moins une "
            "commune membre est dans le territoire.") in sentences


def test_a_programme_without_territory_is_open_to_no_one(db):
    programme = make_programme(db, status="draft", scope=())
    assert eligibility.eligible_communes_count(db, programme) == 0
    assert not eligibility.check_commune(db, programme, db.get(Commune, ISSOUDUN)).eligible
    with pytest.raises(ServiceError, match="périmètre"):
        funding.submit(db, _user(db), programme)
    assert isinstance(programme, Programme)


def test_the_in_memory_index_follows_every_change_and_forgets_rolled_back_ones(db):
    programme = make_programme(db, scope=(("include", "region", "24"),), population_below=None)
    assert programme.id in offered(db, CHATEAUROUX)
    before = eligibility.current_token(db)
    # A change inside a savepoint: the index is rebuilt from the session's own view...
    savepoint = db.begin_nested()
    funding.close(db, _user(db), programme)
    assert eligibility.current_token(db) != before
    assert programme.id not in offered(db, CHATEAUROUX)
    savepoint.rollback()
    # ...and the rollback restores the old token with the old data: the index built from the
    # rolled-back state is not trusted any more.
    assert eligibility.current_token(db) == before
    assert programme.id in offered(db, CHATEAUROUX)
    territory.add_scope(db, _user(db), programme, include=False, level="departement", value="36")
    assert programme.id not in offered(db, CHATEAUROUX)
