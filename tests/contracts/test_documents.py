"""Generated contracts, read back from the DOCX and the PDF a city would send to its lawyer."""
from __future__ import annotations

import io

import pytest
from docx import Document
from pypdf import PdfReader

from marketplace.contracts import document, services
from marketplace.core.db import bound_to_tenant
from marketplace.core.errors import ServiceError
from tenants.models import Role
from tests.factories import GROUP_MEMBERS, make_city, make_member, make_solution, make_startup

PARTNERS = [{"name": "Lumio Territoires", "siren": "912345675", "representative": "Léa Martin, présidente"},
            {"name": "Civiweb", "siren": "901234567", "representative": "Karim Haddad, gérant"}]
PARTNERSHIP = {
    "buyer_representative": "Mme Isabelle Fournier, maire, par délibération du 12 mars 2026",
    "object": "Concevoir puis acquérir un pilotage de l'éclairage public qui adapte l'intensité à la présence.",
    "sourcing": "Douze solutions examinées en 2025 : aucune ne pilote les luminaires existants sans les remplacer.",
    "start_date": "2026-09-01", "ccag": "tic", "partners": PARTNERS,
    "phases": [{"kind": "rd", "objectives": "Prototype sur 20 points lumineux", "duration_months": 6,
                "amount_ht": 4_000_000},
               {"kind": "acquisition", "objectives": "Déploiement sur 800 points lumineux", "duration_months": 18,
                "amount_ht": 12_000_000}],
    "performance_levels": "Économie d'énergie d'au moins 40 % mesurée sur six mois.",
    "max_acquisition_cost": 15_000_000, "ip_regime": "licence", "open_data": True, "data_return_days": 30,
    "personal_data": False, "payment_days": 30, "penalty_per_day": 10_000, "court": "tribunal administratif d'Orléans",
}


@pytest.fixture
def gien(db):
    city = make_city(db, "45155")
    user, membership = make_member(db, city, Role.member)
    db.flush()
    with bound_to_tenant(db, city.id):
        yield city, user


def _interview(db, city, user, slug, answers, solution=None):
    dossier = services.create_dossier(db, user, city, "Éclairage public", solution)
    draft = services.start_draft(db, user, dossier, services.published_template(db, slug),
                                 services.prefill_values(city, solution))
    draft.answers = {**draft.answers, **answers}
    return draft


def _docx_text(doc) -> str:
    data = document.to_docx(doc.title, doc.blocks, doc.created_at)
    word = Document(io.BytesIO(data))
    cells = [cell.text for table in word.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in word.paragraphs] + cells), word


def test_a_two_phase_partnership_with_two_partners_gives_two_contracts_with_identical_terms(db, gien):
    city, user = gien
    draft = _interview(db, city, user, "partenariat-innovation", PARTNERSHIP)
    assert draft.answers["buyer_name"] == "Ville de Gien"  # prefilled from the tenant
    docs = services.generate(db, user, draft)
    assert [d.party_index for d in docs] == [0, 1] and len({d.content_hash for d in docs}) == 2
    texts = []
    for doc, partner in zip(docs, PARTNERS, strict=True):
        text, word = _docx_text(doc)
        assert f"et {partner['name']} (SIREN {partner['siren']})" in text
        assert doc.title == f"Contrat de partenariat d'innovation — {partner['name']}"
        # The data clauses: data are results, reversibility, return then deletion, open data.
        assert "Les données produites, collectées ou transformées pendant l'exécution du contrat sont des résultats" in text
        assert "Réversibilité" in text and "détruit toutes les copies" in text and "L312-1-1" in text
        assert "Article 3 — Structure en phases" in text and "R2172-31" in text
        headings = [p.text for p in word.paragraphs if p.style.name.startswith("Heading")]
        assert "Article 1 — Objet du contrat" in headings
        own = f"et {partner['name']} (SIREN {partner['siren']}), représentée par {partner['representative']}"
        texts.append(text.replace(own, "et <le partenaire>").replace(partner["representative"], "<son représentant>"))
    # Identical terms: once each partner's own name is set aside, the two contracts say the same.
    assert texts[0] == texts[1]
    # The PDF says the same words.
    pdf = PdfReader(io.BytesIO(document.to_pdf(docs[0].title, docs[0].blocks)))
    pdf_text = " ".join(page.extract_text() for page in pdf.pages)
    assert "Lumio Territoires" in pdf_text and "120 000" in pdf_text.replace("\u202f", " ").replace("\xa0", " ")
    assert "réversibilité" in pdf_text.lower()


def test_the_same_answers_and_version_give_the_same_text(db, gien):
    city, user = gien
    doc = services.generate(db, user, _interview(db, city, user, "partenariat-innovation", PARTNERSHIP))[0]
    blocks, same = services.regenerate(db, doc)
    assert same and document.content_hash(blocks) == doc.content_hash


def test_a_partnership_without_an_acquisition_phase_is_refused_with_the_article(db, gien):
    city, user = gien
    answers = {**PARTNERSHIP, "phases": [dict(PARTNERSHIP["phases"][0]), dict(PARTNERSHIP["phases"][0])]}
    with pytest.raises(ServiceError, match=r"au moins une phase d'acquisition \(art\. R2172-20 CCP\)"):
        services.generate(db, user, _interview(db, city, user, "partenariat-innovation", answers))
    over = {**PARTNERSHIP, "max_acquisition_cost": 10_000_000}
    with pytest.raises(ServiceError, match=r"R2172-32"):
        services.generate(db, user, _interview(db, city, user, "partenariat-innovation", over))


INNOVATIVE = {
    "buyer_representative": "Mme Isabelle Fournier, maire", "object": "Capteurs de stationnement connectés.",
    "nature": "supplies", "launch_date": "2026-06-01", "duration_months": 24, "ccag": "tic",
    "innovation_reason": "Capteurs sans pile, alimentés par la chaussée : une première en France.",
    "market_comparison": "Trois offres comparées ; celle-ci coûte 20 % de moins sur la durée.",
    "supplier_representative": "Paul Renard, président", "data_return_days": 30, "payment_days": 30,
    "court": "tribunal administratif d'Orléans",
}


def test_an_achat_innovant_of_120_000_euros_is_refused_with_the_rule(db, gien):
    city, user = gien
    solution = make_solution(db, make_startup(db, "Mobicité", siren="923456784"), status="published")
    draft = _interview(db, city, user, "achat-innovant", {**INNOVATIVE, "amount_ht": 12_000_000}, solution)
    assert draft.answers["supplier_name"] == "Mobicité" and draft.answers["supplier_siren"] == "923456784"
    with pytest.raises(ServiceError) as refused:
        services.generate(db, user, draft)
    assert refused.value.message.startswith("Montant de 120\u202f000\u00a0€ HT supérieur au seuil de l'achat innovant "
                                            "(100\u202f000\u00a0€ HT, art. R2122-9-1 CCP)")


def test_an_achat_innovant_of_90_000_euros_gives_the_contract_and_its_justification_note(db, gien):
    city, user = gien
    solution = make_solution(db, make_startup(db, "Mobicité", siren="923456784"), status="published")
    docs = services.generate(db, user, _interview(db, city, user, "achat-innovant",
                                                  {**INNOVATIVE, "amount_ht": 9_000_000}, solution))
    assert [d.document_key for d in docs] == ["contrat", "note"]
    contract, _ = _docx_text(docs[0])
    note, _ = _docx_text(docs[1])
    assert "R2122-9-1" in contract and "90\u202f000\u00a0€ HT" in contract and "Mobicité" in contract
    assert "Note de justification du caractère innovant" in note and "une première en France" in note
    assert "Trois offres comparées" in note


def test_a_group_purchase_convention_lists_every_member_and_its_need_and_says_the_procedure(db, gien):
    city, user = gien
    answers = {"object_short": "Éclairage public intelligent", "object": "Pilotage de l'éclairage public.",
               "nature": "services", "duration": "ponctuel", "launch_date": "2026-06-01", "members": GROUP_MEMBERS,
               "coordinator": "Ville de Gien", "coordinator_mission": "passation", "cao": "coordinator",
               "court": "tribunal administratif d'Orléans"}
    doc = services.generate(db, user, _interview(db, city, user, "groupement-commandes", answers))[0]
    text, word = _docx_text(doc)
    rows = [[c.text for c in row.cells] for row in word.tables[0].rows]
    assert rows[0] == ["Membre", "SIREN", "Délibération", "Besoin estimé"]
    assert [r[0] for r in rows[1:4]] == ["Ville de Gien", "Ville de Vitré", "Rochefort Océan"]
    assert rows[1][3] == "40\u202f000\u00a0€ HT" and rows[4][3] == "80\u202f000\u00a0€ HT"
    # 80 000 € HT of services together: over the 60 000 € dispense threshold of 2026 → MAPA.
    assert "Procédure adaptée (MAPA)" in text and "L2113-7" in text

    with pytest.raises(ServiceError, match="Le coordonnateur est l'un des membres"):
        services.generate(db, user, _interview(db, city, user, "groupement-commandes",
                                               {**answers, "coordinator": "Ville de Nulle-part"}))


def test_a_document_made_with_a_version_keeps_it_when_a_new_version_is_published(db, gien):
    from tests.factories import make_user

    city, user = gien
    doc = services.generate(db, user, _interview(db, city, user, "partenariat-innovation", PARTNERSHIP))[0]
    current = services.published_template(db, "partenariat-innovation")
    curator = make_user(db)
    documents = {k: v.replace("# Contrat de partenariat d'innovation", "# Contrat de partenariat d'innovation (v2)")
                 for k, v in current.documents.items()}
    version = services.new_version(db, curator, current, current.questionnaire, documents, "Titre précisé.")
    services.publish_version(db, curator, version)
    assert services.published_template(db, "partenariat-innovation").id == version.id
    assert doc.template.version == current.version and services.regenerate(db, doc)[1]
    with pytest.raises(ServiceError, match="Le modèle ne se rend pas"):
        services.new_version(db, curator, version, version.questionnaire,
                             {"contrat": "{{ champ_qui_n_existe_pas }}"}, "Cassé.")
