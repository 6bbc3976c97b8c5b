"""The interview as a city officer goes through it: step by step, the preview beside it, then Word."""
from __future__ import annotations

import html
import io
import re

from docx import Document
from sqlalchemy import select

from marketplace.contracts.models import ContractDocument, ProcurementThreshold
from marketplace.core.db import all_tenants
from tenants.models import Role
from tests.factories import make_anct, make_city, make_member, make_solution, make_startup, make_user
from tests.helpers import sign_in


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _signed_in_city(client, db, role=Role.member):
    city = make_city(db, "45155")
    user, membership = make_member(db, city, role)
    solution = make_solution(db, make_startup(db, "Lumio Territoires"), status="published",
                             contact_name="Léa Martin")
    db.commit()
    sign_in(client, user, membership)
    return city, solution


def test_a_city_answers_the_partnership_step_by_step_and_gets_two_word_contracts(client, db):
    city, solution = _signed_in_city(client, db)
    page = text_of(client.get(f"/espace/contrats/?solution={solution.id}"))
    assert "Partenariat d'innovation" in page and "le titulaire est prérempli" in page
    start = client.post("/espace/contrats/nouveau", data={"kit": "partenariat-innovation", "title": "Éclairage",
                                                          "solution_id": solution.id})
    draft_url = start.headers["Location"]
    first = text_of(client.get(draft_url))
    assert 'value="Ville de Gien"' in first and "Étape 1 sur 6" in first and "Aperçu" in first

    steps = [
        {"buyer_name": "Ville de Gien", "buyer_siren": "214501553", "buyer_representative": "Mme Fournier, maire"},
        {"object": "Piloter l'éclairage public.", "sourcing": "Aucune offre ne pilote l'existant.",
         "start_date": "2026-09-01", "ccag": "tic"},
        {"partners-0-name": "Lumio Territoires", "partners-0-siren": "912345675",
         "partners-0-representative": "Léa Martin", "partners-1-name": "Civiweb", "partners-1-siren": "901234567",
         "partners-1-representative": "Karim Haddad"},
        {"phases-0-kind": "rd", "phases-0-objectives": "Prototype", "phases-0-duration_months": "6",
         "phases-0-amount_ht": "40 000", "phases-1-kind": "acquisition", "phases-1-objectives": "Déploiement",
         "phases-1-duration_months": "18", "phases-1-amount_ht": "120 000",
         "performance_levels": "40 % d'économie.", "max_acquisition_cost": "150 000",
         "stop_compensation": "La phase en cours est payée."},
        {"ip_regime": "licence", "open_data": "on", "data_return_days": "30"},
        {"payment_days": "30", "penalty_per_day": "100", "court": "tribunal administratif d'Orléans"},
    ]
    # A mistake first: the step stays, says what is wrong, and keeps what was typed.
    wrong = client.post(draft_url + "?etape=3", data={**steps[3], "phases-1-amount_ht": "beaucoup"})
    assert wrong.status_code == 400 and "Montant attendu" in text_of(wrong)
    for i, data in enumerate(steps):
        response = client.post(f"{draft_url}?etape={i}", data=data)
        assert response.status_code == 302, (i, text_of(response)[-1500:])
    assert response.headers["Location"].endswith("/verifier")
    review = text_of(client.get(response.headers["Location"]))
    assert "Générer 2 documents" in review and "Civiweb" in review

    # The live preview follows what is typed, before anything is saved.
    live = client.post(f"{draft_url}/apercu?etape=1", data={**steps[1], "object": "Un objet tout neuf."})
    assert live.status_code == 200 and "Un objet tout neuf." in text_of(live)

    done = text_of(client.post(draft_url + "/generer", follow_redirects=True))
    assert "2 documents générés" in done
    with all_tenants(db, because="the test reads what was generated"):
        docs = db.scalars(select(ContractDocument).order_by(ContractDocument.id)).all()
    assert [d.title for d in docs] == ["Contrat de partenariat d'innovation — Lumio Territoires",
                                       "Contrat de partenariat d'innovation — Civiweb"]
    word = client.get(f"/espace/contrats/documents/{docs[1].id}.docx")
    assert word.status_code == 200 and 'filename="contrat-de-partenariat' in word.headers["Content-Disposition"]
    text = "\n".join(p.text for p in Document(io.BytesIO(word.data)).paragraphs)
    assert "et Civiweb (SIREN 901234567)" in text and "Article 1 — Objet du contrat" in text
    pdf = client.get(f"/espace/contrats/documents/{docs[0].id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    check = text_of(client.get(f"/espace/contrats/documents/{docs[0].id}?verifier=1"))
    assert "le texte est identique" in check

    # The next document of the same purchase starts from these answers.
    dossier_id = docs[0].dossier_id
    again = client.post(f"/espace/contrats/dossiers/{dossier_id}/brouillons", data={"kit": "achat-innovant"})
    page = text_of(client.get(again.headers["Location"]))
    assert 'value="Mme Fournier, maire"' in page


def test_a_refused_achat_innovant_says_the_rule_on_the_review_page(client, db):
    _signed_in_city(client, db)
    start = client.post("/espace/contrats/nouveau", data={"kit": "achat-innovant", "title": "Capteurs"})
    draft_url = start.headers["Location"]
    client.post(draft_url + "?etape=0", data={"buyer_name": "Ville de Gien", "buyer_representative": "La maire"})
    client.post(draft_url + "?etape=1", data={"object": "Capteurs.", "nature": "supplies", "amount_ht": "120 000",
                                              "launch_date": "2026-06-01", "duration_months": "12", "ccag": "tic"})
    client.post(draft_url + "?etape=2", data={"innovation_reason": "Nouveau.", "market_comparison": "Comparé."})
    client.post(draft_url + "?etape=3", data={"supplier_name": "Mobicité", "supplier_siren": "923456784",
                                              "supplier_representative": "Paul Renard"})
    client.post(draft_url + "?etape=4", data={"data_return_days": "30", "payment_days": "30",
                                              "court": "tribunal administratif d'Orléans"})
    review = text_of(client.get(draft_url + "/verifier"))
    assert "supérieur au seuil de l'achat innovant" in review and "R2122-9-1" in review
    refused = client.post(draft_url + "/generer", follow_redirects=True)
    assert "supérieur au seuil de l'achat innovant" in text_of(refused) and "documents générés" not in text_of(refused)


def test_a_viewer_reads_the_documents_but_is_not_offered_to_write(client, db):
    from tests.factories import make_contract_document

    city, _ = _signed_in_city(client, db, Role.viewer)
    doc = make_contract_document(db, city)
    db.commit()
    page = text_of(client.get("/espace/contrats/"))
    assert "Commencer" not in page and "Votre rôle de lecteur" not in page  # there is a dossier to read
    assert client.get(f"/espace/contrats/documents/{doc.id}.docx").status_code == 200
    assert client.post("/espace/contrats/nouveau", data={"kit": "achat-innovant"}).status_code == 403


def test_anct_publishes_a_new_version_and_a_platform_admin_moves_a_threshold(client, db):
    anct = make_anct(db)
    curator, membership = make_member(db, anct, Role.member)
    db.commit()
    sign_in(client, curator, membership)
    listing = text_of(client.get("/operateur/modeles/"))
    template_id = int(re.search(r'/operateur/modeles/(\d+)">Achat innovant', listing).group(1))
    form = text_of(client.get(f"/operateur/modeles/{template_id}/nouvelle-version"))
    assert "Questionnaire (TOML)" in form
    broken = client.post(f"/operateur/modeles/{template_id}/nouvelle-version",
                         data={"change_note": "Essai", "questionnaire": "title = 'x'\n[[steps]]\n",
                               "document_contrat": "x", "document_note": "y"})
    assert broken.status_code == 422 and "aucun document" in text_of(broken)

    admin = make_user(db, platform_admin=True)
    admin_membership = make_member(db, anct, Role.admin)[1]
    admin_membership.user = admin
    db.commit()
    sign_in(client, admin, admin_membership)
    row = db.scalar(select(ProcurementThreshold).where(ProcurementThreshold.code == "achat_innovant"))
    response = client.post(f"/operateur/seuils/{row.id}/nouvelle-valeur",
                           data={"amount_ht": "150 000", "valid_from": "2027-01-01", "legal_reference": "R2122-9-1"})
    assert response.status_code == 302
    answer = client.post("/api/v1/procurement/procedure", json={
        "amount_ht": 120000, "nature": "services", "innovative": True, "launch_date": "2027-02-01"}).json
    assert answer["recommended"] == "achat_innovant"
    earlier = client.post("/api/v1/procurement/procedure", json={
        "amount_ht": 120000, "nature": "services", "innovative": True, "launch_date": "2026-12-01"}).json
    assert earlier["recommended"] == "mapa"  # a consultation launched before the change keeps the old rule
