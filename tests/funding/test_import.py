"""Importing programmes from CSV/XLSX: idempotent by source id, dates applied, other changes held
for ANCT, a report line by line; the pages through real forms."""
from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

# The guichet's shared fixtures: indexing requests recorded (autouse), and the usual cast.
from marketplace.core.audit import AuditEvent
from marketplace.core.errors import ServiceError
from marketplace.funding import services as funding
from marketplace.funding import territory
from marketplace.funding.importer import runs as import_runs
from marketplace.funding.importer import source as import_source
from marketplace.funding.importer.source import ImportFileError
from marketplace.funding.models import FundingEvent, Programme, ProgrammeImport, ProgrammeStatus, ProgrammeVersion
from tests.helpers import sign_in

pytestmark = pytest.mark.usefixtures("indexed")

SAMPLE = Path(__file__).parent / "data" / "aides-territoires-sample-2022.csv"
# What the sample gives: 274 rows; 71 rejected (69 whose funders do not say their level — ID77,
# ENEDIS, associations… — and 2 "Permanente" aids with a closing date), the 203 others created.
SAMPLE_ROWS, SAMPLE_CREATED, SAMPLE_REJECTED = 274, 203, 71

HEADER = ["Nom", "Lien", "Financeurs", "Bénéficiaire", "Types d'aides", "AAP/AMI", "Récurrence", "Descriptif",
          "Date Clôture"]
ROW = {"Nom": "Rénovation énergétique des écoles", "Lien": "https://aides-territoires.beta.gouv.fr/aides/ab12-ecoles/",
       "Financeurs": "Conseil régional d'Occitanie", "Bénéficiaire": "Communes;Intercommunalités / Pays;Particuliers",
       "Types d'aides": "Subvention;Ingénierie technique", "AAP/AMI": "Oui", "Récurrence": "Ponctuelle",
       "Descriptif": "Subvention aux travaux de rénovation énergétique des écoles communales et intercommunales.",
       "Date Clôture": "31/12/2031"}


def csv_bytes(*rows: dict, header=HEADER, delimiter=",", encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return out.getvalue().encode(encoding)


def run_import(db, people, data: bytes, filename="aides.csv", **kw) -> ProgrammeImport:
    return import_runs.import_programmes(db, people.funder, people.region, filename, data, **kw)


def entries(run, outcome=None) -> list[dict]:
    return [e for e in run.report["entries"] if outcome is None or e["outcome"] == outcome]


def programmes_of(db, people) -> list[Programme]:
    return list(db.scalars(select(Programme).where(Programme.owner_tenant_id == people.region.id)
                           .order_by(Programme.id)))


def version_count(db) -> int:
    return db.scalar(select(func.count()).select_from(ProgrammeVersion))


def publish(db, people, programme):
    territory.add_scope(db, people.funder, programme, include=True, level="france")
    funding.submit(db, people.funder, programme)
    funding.publish(db, people.curator, programme)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# The sample file --------------------------------------------------------------------------------

def test_the_aides_territoires_sample_creates_a_draft_per_valid_row_and_a_second_run_changes_nothing(db, people):
    run = run_import(db, people, SAMPLE.read_bytes(), "aides-territoires-sample-2022.csv")
    assert (run.rows, run.created_count, run.rejected_count) == (SAMPLE_ROWS, SAMPLE_CREATED, SAMPLE_REJECTED)
    assert (run.dates_count, run.held_count, run.unchanged_count) == (0, 0, 0)
    assert len(run.report["entries"]) == SAMPLE_ROWS
    created = programmes_of(db, people)
    assert len(created) == SAMPLE_CREATED and {p.status for p in created} == {ProgrammeStatus.draft}
    assert run.source == "Aides-territoires" and "ISC" in run.licence

    # Rejected lines carry their number (as a spreadsheet shows it: the header is line 1) and why.
    rejected = {e["line"]: e["message"] for e in entries(run, "rejected")}
    assert "échelon du financeur impossible à déduire de « ID77 »" in rejected[26]
    assert rejected[205] == "date de clôture : Un programme permanent n'a pas de date de clôture."

    # Line 2, mapped: a département's aid for communes and EPCI, two aid types of which one is known.
    first = next(p for p in created if p.source_id == "aides-territoires.beta.gouv.fr/aides/"
                                                     "e342-copie-14h23-favoriser-laccessibilite-des-bati")
    assert first.title.startswith("Accompagner et développer le maillage des liaisons")
    assert first.funders == ["Conseil départemental du Morbihan"] and first.funder_level.value == "departement"
    assert first.beneficiary_kinds == ["commune", "epci"] and first.aid_types == ["subvention", "ingenierie"]
    assert first.recurrence.value == "permanent" and first.closes_on is None
    assert first.summary == first.description == ("Soutien financier en faveur du développement des itinéraires "
                                                  "cyclables et de leurs équipements.")
    assert first.provenance.startswith("Import Aides-territoires du ") and "ligne 2" in first.provenance
    assert first.source_url.startswith("https://aides-territoires.beta.gouv.fr/aides/e342-")
    assert first.versions[0].summary.startswith("Création du programme (import Aides-territoires")
    # What Passerelle has no word for is said, on the line and on the draft.
    line = next(e for e in run.report["entries"] if e["programme_id"] == first.id)
    assert line["outcome"] == "created" and line["line"] == 2
    summer = next(e for e in entries(run, "created") if any("Autre aide financière" in n for n in e["notes"]))
    assert "⚠ Valeurs de la source non reprises" in db.get(Programme, summer["programme_id"]).curation_note
    assert db.scalar(select(AuditEvent).where(AuditEvent.event_type == FundingEvent.programmes_imported,
                                              AuditEvent.object_id == str(run.id))).data["created_count"] == SAMPLE_CREATED
    db.commit()

    versions = version_count(db)
    again = run_import(db, people, SAMPLE.read_bytes(), "aides-territoires-sample-2022.csv")
    assert (again.created_count, again.dates_count, again.held_count) == (0, 0, 0)
    assert (again.unchanged_count, again.rejected_count) == (SAMPLE_CREATED, SAMPLE_REJECTED)
    assert len(programmes_of(db, people)) == SAMPLE_CREATED and version_count(db) == versions


def test_an_xlsx_built_from_the_sample_imports_the_same(db, people):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    with SAMPLE.open(encoding="utf-8-sig", newline="") as f:
        for i, cells in enumerate(csv.reader(f)):
            # A spreadsheet holds dates as dates, not as text.
            if i and cells[8]:
                cells[8] = dt.datetime.strptime(cells[8], "%d/%m/%Y")
            sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    run = run_import(db, people, buffer.getvalue(), "aides.xlsx")
    assert run.report["format"] == "XLSX"
    assert (run.created_count, run.rejected_count) == (SAMPLE_CREATED, SAMPLE_REJECTED)
    assert 26 in {e["line"] for e in entries(run, "rejected")}
    dated = db.scalar(select(Programme).where(Programme.owner_tenant_id == people.region.id,
                                              Programme.closes_on == dt.date(2026, 3, 31)))
    assert dated is not None


# Idempotence and the review of changes ----------------------------------------------------------------

def test_a_changed_closing_date_alone_is_applied_at_once_versioned_and_reindexed(db, people, indexed):
    run_import(db, people, csv_bytes(ROW))
    programme = programmes_of(db, people)[0]
    publish(db, people, programme)
    indexed.clear()
    versions = programme.version

    run = run_import(db, people, csv_bytes({**ROW, "Date Clôture": "30/06/2032"}), "aides-v2.csv")
    (line,) = run.report["entries"]
    assert line["outcome"] == "dates" and run.dates_count == 1
    assert line["message"] == "date de clôture : 31/12/2031 → 30/06/2032"
    assert programme.closes_on == dt.date(2032, 6, 30) and programme.pending_changes is None
    assert programme.version == versions + 1
    assert programme.versions[0].summary == "Modification : date de clôture (import Aides-territoires, aides-v2.csv, ligne 2)"
    assert indexed == [("programme", programme.id)]
    event = db.scalar(select(AuditEvent).where(AuditEvent.event_type == FundingEvent.programme_updated)
                      .order_by(AuditEvent.id.desc()))
    assert event.data["fields"] == ["closes_on"] and "aides-v2.csv" in event.data["origin"]
    # The same file again: nothing left to do.
    assert entries(run_import(db, people, csv_bytes({**ROW, "Date Clôture": "30/06/2032"})))[0]["outcome"] == "unchanged"


def test_a_changed_description_is_held_the_public_page_keeps_the_old_text_until_anct_accepts(client, db, people,
                                                                                              indexed):
    run_import(db, people, csv_bytes(ROW))
    programme = programmes_of(db, people)[0]
    publish(db, people, programme)
    db.commit()
    versions = programme.version
    new_text = "Subvention aux travaux de rénovation énergétique et d'accessibilité des écoles communales."

    run = run_import(db, people, csv_bytes({**ROW, "Descriptif": new_text, "Date Clôture": "31/03/2032"}))
    db.commit()
    (line,) = run.report["entries"]
    assert line["outcome"] == "held" and run.held_count == 1
    assert line["message"] == ("modification en attente de relecture : résumé, description ; dates appliquées "
                               "(date de clôture : 31/12/2031 → 31/03/2032)")
    assert set(programme.pending_changes["fields"]) == {"summary", "description"}
    assert programme.closes_on == dt.date(2032, 3, 31) and programme.version == versions + 1  # the date only
    page = text(client.get(f"/financements/{programme.id}"))
    assert ROW["Descriptif"] in page and new_text not in page
    # The same file again: still held, not held twice.
    again = run_import(db, people, csv_bytes({**ROW, "Descriptif": new_text, "Date Clôture": "31/03/2032"}))
    assert entries(again)[0]["outcome"] == "unchanged"
    assert entries(again)[0]["message"] == "modification déjà en attente de relecture"
    db.commit()

    # Its funder sees the change, field by field, but ANCT decides.
    sign_in(client, people.funder, people.funder_m)
    page = text(client.get(f"/financements/{programme.id}"))
    assert "attend la relecture de l'ANCT" in page
    diff_url = f"/operateur/financements/{programme.id}/modification-importee"
    page = text(client.get(diff_url))
    assert "Description" in page and new_text in page and ROW["Descriptif"] in page and "Accepter" not in page
    client.post(diff_url, data={"action": "accept"})
    db.expire_all()
    assert db.get(Programme, programme.id).pending_changes is not None

    sign_in(client, people.curator, people.curator_m)
    listing = text(client.get("/operateur/financements/modifications-importees"))
    assert programme.title in listing and "Résumé, Description" in listing
    assert "Accepter et appliquer" in text(client.get(diff_url))
    response = client.post(diff_url, data={"action": "accept"})
    assert response.status_code == 302
    db.expire_all()
    programme = db.get(Programme, programme.id)
    assert programme.description == new_text and programme.pending_changes is None and programme.pending_since is None
    assert programme.versions[0].actor_id == people.curator.id
    assert programme.versions[0].summary.startswith("Modification : résumé, description (import aides.csv, ligne 2, "
                                                    "accepté après relecture")
    assert ("programme", programme.id) in indexed
    assert new_text in text(client.get(f"/financements/{programme.id}"))
    assert db.scalar(select(AuditEvent.data).where(AuditEvent.event_type == FundingEvent.programme_changes_accepted))["fields"] \
        == ["summary", "description"]
    # Accepted: the same file is now what the source and the programme both say.
    assert entries(run_import(db, people, csv_bytes({**ROW, "Descriptif": new_text,
                                                     "Date Clôture": "31/03/2032"})))[0]["outcome"] == "unchanged"


def test_a_discarded_change_is_not_held_again_and_hand_edits_survive_imports(db, people):
    run_import(db, people, csv_bytes(ROW))
    programme = programmes_of(db, people)[0]
    # Its funder improves the title by hand: the next import of the same file keeps it.
    funding.update_programme(db, people.funder, programme, {"title": "Écoles : rénovation énergétique"})
    assert entries(run_import(db, people, csv_bytes(ROW)))[0]["outcome"] == "unchanged"
    assert programme.title == "Écoles : rénovation énergétique"

    changed = {**ROW, "Financeurs": "Conseil régional d'Occitanie;ADEME", "Types d'aides": "Subvention"}
    assert entries(run_import(db, people, csv_bytes(changed)))[0]["outcome"] == "held"
    assert [c.label for c in import_runs.pending_diff(programme)] == ["Financeurs", "Types d'aide"]
    import_runs.discard_pending(db, people.curator, programme)
    assert programme.pending_changes is None and programme.funders == ["Conseil régional d'Occitanie"]
    assert entries(run_import(db, people, csv_bytes(changed)))[0]["outcome"] == "unchanged"
    with pytest.raises(ServiceError, match="Aucune modification importée"):
        import_runs.accept_pending(db, people.curator, programme)
    # An archived programme is not updated behind its funder's back.
    funding.archive(db, people.funder, programme)
    (line,) = entries(run_import(db, people, csv_bytes({**changed, "Date Clôture": "01/01/2033"})))
    assert line["outcome"] == "rejected" and f"le programme n° {programme.id} est archivé" in line["message"]
    assert programme.closes_on == dt.date(2031, 12, 31)


# Rows and files the import refuses -------------------------------------------------------------------------

def test_bad_rows_are_rejected_with_their_line_and_reason_and_the_others_imported(db, people):
    rows = [
        ROW,
        {**ROW, "Nom": "Doublon", "Descriptif": "Une autre description, même lien."},  # same link
        {**ROW, "Lien": "pas une adresse", "Nom": "Sans lien"},
        {**ROW, "Lien": "https://exemple.test/a/3", "Types d'aides": "Autre aide financière"},
        {**ROW, "Lien": "https://exemple.test/a/4", "Bénéficiaire": "Particuliers;Agriculteurs"},
        {**ROW, "Lien": "https://exemple.test/a/5", "Récurrence": "Parfois"},
        {**ROW, "Lien": "https://exemple.test/a/6", "Date Clôture": "31/02/2031"},
        {**ROW, "Lien": "https://exemple.test/a/7", "Nom": ""},
        {**ROW, "Lien": "https://exemple.test/a/8", "Financeurs": "Hellio Solutions"},
        {**ROW, "Lien": "https://exemple.test/a/9", "Date Clôture": "2031-12-31", "Financeurs": "Préfecture de l'Indre"},
    ]
    run = run_import(db, people, csv_bytes(*rows))
    rejected = {e["line"]: e["message"] for e in entries(run, "rejected")}
    assert rejected == {
        3: "même identifiant que la ligne 2 (« aides-territoires.beta.gouv.fr/aides/ab12-ecoles »)",
        4: "lien invalide « pas une adresse » (adresse web en https:// attendue)",
        5: "aucun type d'aide connu de Passerelle (Autre aide financière)",
        6: "aucun bénéficiaire connu de Passerelle (Particuliers, Agriculteurs)",
        7: "récurrence « Parfois » inconnue (attendu : Permanente, Ponctuelle ou Récurrente)",
        8: "date clôture illisible « 31/02/2031 » (attendu : JJ/MM/AAAA)",
        9: "nom de l'aide manquant",
        10: "échelon du financeur impossible à déduire de « Hellio Solutions » : ajoutez une colonne « Échelon » "
            "(Union européenne, État, Région, Département, Banque des Territoires, Agence ou opérateur public), "
            "ou choisissez un échelon par défaut pour le fichier",
    }
    created = {e["line"]: db.get(Programme, e["programme_id"]) for e in entries(run, "created")}
    assert set(created) == {2, 11}
    assert created[11].funder_level.value == "state" and created[11].closes_on == dt.date(2031, 12, 31)
    assert created[2].how_to_apply.startswith("Candidature dans le cadre d'un appel à projets")
    assert entries(run, "created")[0]["notes"] == ["Bénéficiaires non repris : « Particuliers »"]


def test_a_semicolon_windows_1252_file_with_an_identifier_and_level_column(db, people):
    header = ["Identifiant", "Nom", "Lien", "Financeurs", "Échelon", "Bénéficiaire", "Types d'aides", "Récurrence"]
    row = {**ROW, "Identifiant": "AT-42", "Financeurs": "ID77", "Échelon": "Agence ou opérateur public",
           "Récurrence": "Permanente"}
    run = run_import(db, people, csv_bytes(row, header=header, delimiter=";", encoding="cp1252"),
                     "C:\\Users\\agent\\Bureau\\aides.csv")
    assert (run.report["delimiter"], run.report["encoding"]) == (";", "Windows-1252")
    assert run.filename == "aides.csv"  # the browser's folders are not kept
    (programme,) = programmes_of(db, people)
    assert programme.source_id == "AT-42" and programme.funder_level.value == "agency"
    assert programme.title == ROW["Nom"]  # accents read right
    # A UTF-8 file with a BOM, a new link but the same identifier: the same programme.
    again = run_import(db, people, b"\xef\xbb\xbf" + csv_bytes({**row, "Lien": "https://exemple.test/nouveau"},
                                                               header=header, delimiter=";"))
    assert entries(again)[0]["outcome"] == "held" and len(programmes_of(db, people)) == 1


@pytest.mark.parametrize("filename, data, message", [
    ("aides.csv", b"", "Le fichier est vide."),
    ("aides.pdf", b"%PDF-1.4 ...", "Format non pris en charge"),
    ("aides.csv", b"\x00\x01\x02binary", "ni un CSV ni un classeur XLSX"),
    ("aides.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "Excel 97-2003 (.xls) n'est pas lu"),
    ("aides.xlsx", b"PK\x03\x04 not really a zip", "Classeur illisible"),
    ("aides.csv", b"Nom,Lien\nAide,https://exemple.test/1\n",
     "Colonnes obligatoires absentes : Financeurs, Bénéficiaire, Types d'aides, Récurrence."),
    ("aides.csv", ",".join(HEADER).encode() + b"\n", "aucune ligne de données"),
    ("aides.csv", b"x" * (import_source.MAX_FILE_BYTES + 1), "Fichier trop volumineux : 5 Mo au plus."),
])
def test_a_bad_file_is_refused_in_french_and_changes_nothing(db, people, filename, data, message):
    before = version_count(db)
    with pytest.raises(ImportFileError) as refused:
        run_import(db, people, data, filename)
    assert message in refused.value.message
    db.rollback()
    assert programmes_of(db, people) == [] and version_count(db) == before
    assert db.scalar(select(func.count()).select_from(ProgrammeImport)) == 0


def test_only_active_operators_import(db, people):
    with pytest.raises(ServiceError, match="Seuls les financeurs"):
        import_runs.import_programmes(db, people.mayor, people.city, "aides.csv", csv_bytes(ROW))


# Pages -------------------------------------------------------------------------------------------------------

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_a_default_funder_level_takes_the_rows_whose_funder_does_not_say_it(client, db, people):
    unknown = {**ROW, "Financeurs": "ID77", "Lien": "https://exemple.test/id77"}
    assert entries(run_import(db, people, csv_bytes(unknown)), "rejected")
    db.rollback()
    run = run_import(db, people, csv_bytes(unknown, ROW), default_level="agency")
    assert (run.created_count, run.rejected_count) == (2, 0)
    levels = {p.funders[0]: p.funder_level.value for p in programmes_of(db, people)}
    # The default is for what cannot be told: a Conseil régional stays a Région.
    assert levels == {"ID77": "agency", "Conseil régional d'Occitanie": "region"}
    # Through the form: an unknown level is refused in French and nothing is imported.
    sign_in(client, people.funder, people.funder_m)
    response = client.post("/operateur/financements/import", content_type="multipart/form-data",
                           data={"default_level": "planete", "file": (io.BytesIO(csv_bytes(unknown)), "aides.csv")})
    assert response.status_code == 400 and "Échelon inconnu." in text(response)


def test_with_a_default_level_the_sample_loses_only_its_two_incoherent_rows(db, people):
    run = run_import(db, people, SAMPLE.read_bytes(), "aides-territoires-sample-2022.csv", default_level="agency")
    assert (run.created_count, run.rejected_count) == (SAMPLE_ROWS - 2, 2)
    assert {e["line"] for e in entries(run, "rejected")} >= {205}


def test_changes_that_would_contradict_the_programme_are_held_or_refused_not_applied(client, db, people, indexed):
    run_import(db, people, csv_bytes({**ROW, "Financeurs": "Préfecture de l'Indre"}))
    programme = programmes_of(db, people)[0]
    # Its funder sets it up as a DSIL grant opening in June 2031.
    funding.update_programme(db, people.funder, programme, {"state_family": "DSIL", "opens_on": dt.date(2031, 6, 1)})
    publish(db, people, programme)
    db.commit()
    # A closing date before that opening is not applied at once: held for review.
    run = run_import(db, people, csv_bytes({**ROW, "Financeurs": "Préfecture de l'Indre", "Date Clôture": "31/03/2031"}))
    db.commit()
    assert entries(run)[0]["outcome"] == "held" and programme.closes_on == dt.date(2031, 12, 31)
    # Accepting it, or a funder that is no longer the State on a DSIL line, is refused in French.
    sign_in(client, people.curator, people.curator_m)
    url = f"/operateur/financements/{programme.id}/modification-importee"
    page = text(client.post(url, data={"action": "accept"}, follow_redirects=True))
    assert "Cette modification rendrait la fiche incohérente (la clôture doit suivre l'ouverture)" in page
    funding.update_programme(db, people.funder, programme, {"opens_on": None})
    import_runs.discard_pending(db, people.curator, programme)
    db.commit()
    run_import(db, people, csv_bytes({**ROW, "Date Clôture": "31/03/2031"}))  # now a Région's programme
    db.commit()
    page = text(client.post(url, data={"action": "accept"}, follow_redirects=True))
    assert "incohérente (seul un programme de l'État relève d'une dotation de l'État)" in page
    db.expire_all()
    assert db.get(Programme, programme.id).funders == ["Préfecture de l'Indre"]


def test_a_tiny_workbook_declaring_a_huge_sheet_is_refused_at_once(db, people):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(HEADER)
    workbook.active.cell(row=100_000, column=2_000, value="x")
    data = io.BytesIO()
    workbook.save(data)
    with pytest.raises(import_source.ImportFileError, match="Trop de lignes"):
        run_import(db, people, data.getvalue(), "bombe.xlsx")


def test_an_operator_uploads_through_the_form_with_csrf_and_reads_the_report(app, client, db, people):
    app.config["WTF_CSRF_ENABLED"] = True
    sign_in(client, people.funder, people.funder_m)
    assert "Importer (CSV, XLSX)" in text(client.get("/operateur/financements/"))
    page = text(client.get("/operateur/financements/import"))
    token = CSRF_INPUT.search(page).group(1)
    upload = csv_bytes(ROW, {**ROW, "Lien": "https://exemple.test/2", "Nom": "Aide sans type",
                             "Types d'aides": "Autre aide financière"})
    # Without the token: refused, nothing imported.
    refused = client.post("/operateur/financements/import", data={"file": (io.BytesIO(upload), "aides.csv")},
                          content_type="multipart/form-data")
    assert refused.status_code == 400 and programmes_of(db, people) == []

    response = client.post("/operateur/financements/import",
                           data={"csrf_token": token, "file": (io.BytesIO(upload), "aides.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    report_url = response.headers["Location"]
    report = text(client.get(report_url))
    assert "Rapport d'import" in report and "aides.csv" in report
    assert "ligne 3 : aucun type d'aide connu de Passerelle (Autre aide financière)" in report
    assert ROW["Nom"] in report and "Bénéficiaires non repris : « Particuliers »" in report
    only_rejected = text(client.get(report_url + "?resultat=rejected"))
    assert "Aide sans type" in only_rejected and ROW["Nom"] not in only_rejected
    assert report_url.split("?")[0].rsplit("/", 1)[-1] in text(client.get("/operateur/financements/import"))

    # A bad file: the form answers in French, on the field, with a 400; nothing changes.
    page = text(client.get("/operateur/financements/import"))
    token = CSRF_INPUT.search(page).group(1)
    bad = client.post("/operateur/financements/import",
                      data={"csrf_token": token, "file": (io.BytesIO(b"Nom;Lien\n"), "aides.csv")},
                      content_type="multipart/form-data")
    assert bad.status_code == 422 and "Colonnes obligatoires absentes" in text(bad)
    assert 'aria-invalid="true"' in text(bad)
    assert db.scalar(select(func.count()).select_from(ProgrammeImport)) == 1

    # Another operator's report, and the import page for a city: 404.
    sign_in(client, people.banker, people.banker_m)
    assert client.get(report_url).status_code == 404
    sign_in(client, people.mayor, people.mayor_m)
    assert client.get("/operateur/financements/import").status_code == 404
    assert client.get(report_url).status_code == 404


def test_a_held_change_answers_404_to_another_funder(client, db, people):
    run_import(db, people, csv_bytes(ROW))
    programme = programmes_of(db, people)[0]
    run_import(db, people, csv_bytes({**ROW, "Nom": "Autre titre"}))
    db.commit()
    sign_in(client, people.banker, people.banker_m)
    url = f"/operateur/financements/{programme.id}/modification-importee"
    assert client.get(url).status_code == 404
    assert client.post(url, data={"action": "accept"}).status_code == 404
    assert programme.title not in text(client.get("/operateur/financements/modifications-importees"))
    db.expire_all()
    assert db.get(Programme, programme.id).pending_changes is not None


def test_a_later_closing_date_on_a_closed_programme_says_it_should_be_reopened(db, people):
    run_import(db, people, csv_bytes(ROW))
    programme = programmes_of(db, people)[0]
    publish(db, people, programme)
    funding.close(db, people.funder, programme)
    run = run_import(db, people, csv_bytes({**ROW, "Date Clôture": "30/06/2032"}))
    assert entries(run)[0]["outcome"] == "dates"
    assert entries(run)[0]["message"].endswith("le programme est clos : rouvrez-le pour qu'il soit de nouveau proposé")
    assert programme.status is ProgrammeStatus.closed and programme.closes_on == dt.date(2032, 6, 30)
