"""The guichet's pages: public programme pages, eligible communes and their CSV, the operators'
curation through real HTTP forms."""
from __future__ import annotations

import csv
import io
import re

import pytest

from marketplace.funding import eligibility
from marketplace.funding import services as funding
from marketplace.funding.models import Programme, ProgrammeStatus
from search.service import rebuild
from tests.factories import make_label, make_programme
from tests.helpers import sign_in

pytestmark = pytest.mark.usefixtures("indexed")
# The guichet's shared fixtures: indexing requests recorded (autouse), and the usual cast.


def text(response) -> str:
    return response.get_data(as_text=True)


def test_a_published_programme_page_shows_its_rules_communes_and_history(client, db, people):
    label = make_label(db, "Action Cœur de Ville", ("36044",))
    programme = make_programme(db, people.region, scope=(("include", "region", "24"), ("include", "label", label.slug),
                                                         ("exclude", "departement", "37")),
                               curation_note="⚠ Taux à vérifier dans le règlement 2027.")
    db.commit()
    page = text(client.get(f"/financements/{programme.id}"))
    assert programme.title in page and "Qui peut en bénéficier" in page
    assert "Territoire : région Centre-Val de Loire, label Action Cœur de Ville ; sauf Indre-et-Loire (37)." in page
    count = eligibility.eligible_communes_count(db, programme)
    assert f"{count:,}".replace(",", "\u202f") + " communes éligibles" in page
    assert "⚠ Taux à vérifier" in page and "jusqu'à 40\u00a0%" in page
    assert "Publié après relecture" in page  # the last five versions; all of them on the history page
    assert "Création du programme" in text(client.get(f"/financements/{programme.id}/historique"))
    # The public sees what changed, not who (staff names are not public data).
    assert people.funder.full_name not in page


def test_a_collectivite_sees_whether_it_is_eligible_and_why(client, db, people):
    programme = make_programme(db, people.region, population_below=20000)
    big = make_programme(db, people.region, title="Grandes villes", population_min=20000, population_below=None)
    db.commit()
    sign_in(client, people.mayor, people.mayor_m)
    page = text(client.get(f"/financements/{programme.id}"))
    assert f"{people.city.name} est éligible" in page
    assert "Commune de 11\u202f159 habitants (seuil : moins de 20\u202f000 habitants), région Centre-Val de Loire." in page
    page = text(client.get(f"/financements/{big.id}"))
    assert "n'est pas éligible" in page and "hors seuil" in page
    listing = text(client.get("/financements?pour=moi"))
    assert programme.title in listing and "Grandes villes" not in listing
    assert "auxquels Issoudun (36088) est éligible" in listing


def test_drafts_answer_404_except_to_their_funder_and_anct(client, db, people):
    draft = make_programme(db, people.region, status="draft")
    db.commit()
    urls = [f"/financements/{draft.id}", f"/financements/{draft.id}/communes", f"/financements/{draft.id}/communes.csv",
            f"/financements/{draft.id}/historique", f"/api/v1/programmes/{draft.id}"]
    for url in urls:
        assert client.get(url).status_code == 404, url
    for user, membership in ((people.mayor, people.mayor_m), (people.banker, people.banker_m)):
        sign_in(client, user, membership)
        for url in urls:
            assert client.get(url).status_code == 404, url
        assert client.get(f"/operateur/financements/{draft.id}/modifier").status_code == 404
    for user, membership in ((people.funder, people.funder_m), (people.curator, people.curator_m)):
        sign_in(client, user, membership)
        page = text(client.get(f"/financements/{draft.id}"))
        assert "n'est pas publié" in page
        # The public API stays public-only, whoever asks.
        assert client.get(f"/api/v1/programmes/{draft.id}").status_code == 404


def test_another_funder_cannot_edit_nor_move_a_published_programme(client, db, people):
    programme = make_programme(db, people.region)
    db.commit()
    sign_in(client, people.banker, people.banker_m)
    assert client.get(f"/financements/{programme.id}").status_code == 200
    assert client.post(f"/operateur/financements/{programme.id}/modifier", data={"title": "Piraté"}).status_code == 404
    assert client.post(f"/operateur/financements/{programme.id}/etat", data={"action": "archive"}).status_code == 404
    assert client.post(f"/operateur/financements/{programme.id}/perimetre",
                       data={"mode": "exclude", "level": "france"}).status_code == 404
    db.expire_all()
    assert db.get(Programme, programme.id).status is ProgrammeStatus.published


def test_the_eligible_communes_page_and_its_csv(client, db, people):
    programme = make_programme(db, people.region, scope=(("include", "departement", "36"),), population_below=20000)
    db.commit()
    page = text(client.get(f"/financements/{programme.id}/communes"))
    expected = eligibility.eligible_communes_count(db, programme)
    assert f"{expected:,}".replace(",", "\u202f") + " communes" in page
    assert page.count("<tr><td>") == 50  # the first page
    assert "Issoudun" in text(client.get(f"/financements/{programme.id}/communes?page=3"))
    filtered = text(client.get(f"/financements/{programme.id}/communes?departement=45"))
    assert "Aucune commune éligible dans ce département." in filtered
    response = client.get(f"/financements/{programme.id}/communes.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Code INSEE" and len(rows) - 1 == expected
    assert ["36088", "Issoudun", "11159"] == rows[[r[0] for r in rows].index("36088")][:3]


def test_a_funder_writes_a_programme_through_the_forms_and_anct_publishes_it(client, db, people):
    sign_in(client, people.funder, people.funder_m)
    form = {"title": "Rénovation des écoles rurales", "summary": "Subvention aux travaux des écoles des petites communes.",
            "funders": "Région Centre-Val de Loire", "funder_level": "region", "aid_types": ["subvention"],
            "themes": ["energie-batiments"], "beneficiary_kinds": ["commune", "epci"], "epci_kinds": ["CC"],
            "population_below": "20000", "rate_max": "40", "amount_ceiling": "150 000", "recurrence": "one_off",
            "closes_on": "2031-03-31", "source_url": "https://www.centre-valdeloire.fr/", "licence": "Licence Ouverte 2.0"}
    response = client.post("/operateur/financements/nouveau", data=form)
    assert response.status_code == 302 and "/perimetre" in response.headers["Location"]
    programme = db.query(Programme).filter_by(title="Rénovation des écoles rurales").one()
    assert (programme.rate_max_bp, programme.amount_ceiling_cents, programme.population_below) == (4000, 15_000_000, 20000)
    assert programme.owner_tenant_id == people.region.id and programme.epci_kinds == ["CC"]
    # The territory, by name and by code; a wrong value is answered on the field, in French.
    scope_url = f"/operateur/financements/{programme.id}/perimetre"
    assert client.post(scope_url, data={"mode": "include", "level": "region", "value": "Centre-Val de Loire"}).status_code == 302
    bad = client.post(scope_url, data={"mode": "exclude", "level": "departement", "value": "Atlantide"})
    assert bad.status_code == 422 and "Aucun département ne correspond à « Atlantide »" in text(bad)
    assert client.post(scope_url, data={"mode": "exclude", "level": "departement", "value": "37"}).status_code == 302
    page = text(client.get(scope_url + "?commune=Tours+(37000)+—+37261"))
    assert "Tours (37261) n&#39;est pas éligible" in page and "exclue du périmètre : Indre-et-Loire" in page
    # Submitted by its funder, published by ANCT.
    client.post(f"/operateur/financements/{programme.id}/etat", data={"action": "submit"})
    db.expire_all()
    assert db.get(Programme, programme.id).status is ProgrammeStatus.in_review
    refused = client.post(f"/operateur/financements/{programme.id}/etat", data={"action": "publish"}, follow_redirects=True)
    assert "Seule l&#39;équipe de l&#39;ANCT relit et publie les programmes." in text(refused)  # a flash: escaped
    sign_in(client, people.curator, people.curator_m)
    queue = text(client.get("/operateur/financements/"))
    assert "À relire" in queue and "Rénovation des écoles rurales" in queue
    client.post(f"/operateur/financements/{programme.id}/etat", data={"action": "publish"})
    db.expire_all()
    assert db.get(Programme, programme.id).status is ProgrammeStatus.published
    history = text(client.get(f"/financements/{programme.id}/historique"))
    assert people.curator.full_name in history and people.funder.full_name in history  # ANCT sees who
    assert "Périmètre : exclusion du département Indre-et-Loire" in history


def test_form_errors_are_answered_per_field_in_french(client, db, people):
    sign_in(client, people.funder, people.funder_m)
    response = client.post("/operateur/financements/nouveau", data={"title": "X", "rate_max": "abc"})
    page = text(response)
    assert response.status_code == 400
    assert "Entre 3 et 200 caractères." in page and "Pourcentage attendu (ex. : 40 ou 40,5)." in page
    assert "Indiquez la source officielle du programme." in page


def test_the_operator_pages_have_a_label_for_every_input(client, db, people):
    programme = make_programme(db, people.region, status="draft")
    db.commit()
    sign_in(client, people.funder, people.funder_m)
    for url in ("/operateur/financements/nouveau", f"/operateur/financements/{programme.id}/modifier",
                f"/operateur/financements/{programme.id}/perimetre", "/operateur/financements/labels",
                f"/operateur/financements/{programme.id}/appels/nouveau", "/financements"):
        page = text(client.get(url))
        for input_id in re.findall(r'<(?:input|select|textarea)[^>]*id="([^"]+)"', page):
            assert f'for="{input_id}"' in page, f"{url}: {input_id} has no label"


def test_a_label_upload_reports_unknown_codes_on_the_page(client, db, people):
    sign_in(client, people.curator, people.curator_m)
    response = client.post("/operateur/financements/labels", data={"name": "Petites Villes de Demain"})
    assert response.status_code == 302
    label_url = response.headers["Location"]
    upload = io.BytesIO("code_insee\n36088\n99999\n45155\n".encode("cp1252"))
    page = text(client.post(label_url, data={"upload": "1", "file": (upload, "pvd.csv")},
                            content_type="multipart/form-data"))
    assert "Fichier lu : 2 communes reconnues" in page
    assert "ligne 3 : code INSEE « 99999 » inconnu du référentiel" in page
    assert "Gien (45155)" in page and "Issoudun (36088)" in page
    # Another funder cannot manage ANCT's label.
    sign_in(client, people.banker, people.banker_m)
    assert client.get(label_url).status_code == 404


def test_calls_are_added_opened_and_shown_on_the_programme_page(client, db, people):
    programme = make_programme(db, people.region)
    db.commit()
    sign_in(client, people.funder, people.funder_m)
    response = client.post(f"/operateur/financements/{programme.id}/appels/nouveau",
                           data={"kind": "aap", "title": "Appel à projets 2027", "closes_on": "2031-06-30",
                                 "url": "https://www.centre-valdeloire.fr/"})
    assert response.status_code == 302
    db.expire_all()
    call = db.get(Programme, programme.id).calls[0]
    client.post(f"/operateur/financements/appels/{call.id}/etat", data={"action": "publish"})
    client.get("/")  # a fresh request
    sign_in(client, people.mayor, people.mayor_m)
    page = text(client.get(f"/financements/{programme.id}"))
    assert f'id="appel-{call.id}"' in page and "Appel à projets 2027" in page and "30 juin 2031" in page


def test_the_nav_links_to_the_guichet(client, db, people):
    page = text(client.get("/"))
    assert 'href="/financements"' in page
    sign_in(client, people.funder, people.funder_m)
    assert 'href="/operateur/financements/"' in text(client.get("/espace/"))


def test_a_funder_name_with_a_comma_survives_the_edit_form(client, db, people):
    programme = make_programme(db, people.region, status="draft",
                               funders=["Ministère de la Culture, DRAC Centre-Val de Loire", "Région Centre-Val de Loire"])
    db.commit()
    sign_in(client, people.funder, people.funder_m)
    page = client.get(f"/operateur/financements/{programme.id}/modifier").get_data(as_text=True)
    shown = re.search(r'<textarea[^>]*name="funders"[^>]*>([^<]*)</textarea>', page).group(1)
    assert shown == "Ministère de la Culture, DRAC Centre-Val de Loire\nRégion Centre-Val de Loire"
    form = {"title": programme.title, "summary": programme.summary, "funders": shown, "funder_level": "region",
            "aid_types": ["subvention"], "themes": ["energie-batiments"], "beneficiary_kinds": ["commune"],
            "recurrence": "permanent", "source_url": programme.source_url}
    response = client.post(f"/operateur/financements/{programme.id}/modifier", data=form)
    assert response.status_code == 302, re.findall(r"fr-error-text\">([^<]*)", response.get_data(as_text=True))
    db.expire_all()
    assert db.get(Programme, programme.id).funders == ["Ministère de la Culture, DRAC Centre-Val de Loire",
                                                      "Région Centre-Val de Loire"]


def test_a_draft_call_stays_out_of_the_public_page_and_history(client, db, people):
    programme = make_programme(db, people.region)
    funding.create_call(db, people.funder, programme, {"title": "Appel confidentiel 2027", "closes_on": None})
    db.commit()
    for url in (f"/financements/{programme.id}", f"/financements/{programme.id}/historique"):
        assert "Appel confidentiel 2027" not in text(client.get(url))
    sign_in(client, people.funder, people.funder_m)
    assert "Appel « Appel confidentiel 2027 » créé (brouillon)" in text(client.get(f"/financements/{programme.id}/historique"))


def test_a_programme_archived_leaves_the_words_results_before_the_index_learns_it(client, db, settings, people):
    """The index still holds it (its follower has not run): the guichet's list keeps only what is
    published now, and counts only that."""
    kept = make_programme(db, people.region, title="Aqueducs et fontaines du Berry")
    gone = make_programme(db, people.region, title="Aqueducs anciens à restaurer")
    db.commit()
    rebuild(settings.search_dir, db)
    page = text(client.get("/financements?q=aqueducs"))
    assert kept.title in page and gone.title in page
    funding.archive(db, people.funder, gone)
    db.commit()
    page = text(client.get("/financements?q=aqueducs"))
    assert kept.title in page and gone.title not in page
    assert "<strong>1</strong> programme publié" in page
    data = client.get("/api/v1/programmes?q=aqueducs").get_json()
    assert [p["id"] for p in data["items"]] == [kept.id] and data["total"] == 1
