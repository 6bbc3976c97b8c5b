"""The territory registry: the shipped snapshot, the upstream reader and the idempotent import."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tenants.territories import services
from tenants.territories.models import Commune, Departement, Epci, Region

KINDS = ("regions", "departements", "epcis", "communes")


def counts(report) -> dict[str, tuple[int, int, int]]:
    return {k: (report.created.get(k, 0), report.updated.get(k, 0), report.deleted.get(k, 0)) for k in KINDS}


# The shipped snapshot -----------------------------------------------------------------------

def test_the_registry_counts_34_969_current_communes(db):
    assert services.commune_count(db) == 34969
    assert len(services.read_snapshot().communes) == 34969


def test_importing_the_shipped_snapshot_again_changes_nothing(db):
    # The test database was loaded from the same snapshot: this is the second import.
    report = services.import_snapshot(db, services.read_snapshot())
    assert counts(report) == {k: (0, 0, 0) for k in KINDS}
    assert report.summary().startswith("regions: 0 créé(s), 0 mis à jour, 0 supprimé(s)")
    assert services.commune_count(db) == 34969


def test_the_shipped_snapshot_knows_chateauroux_and_its_epci(db):
    chateauroux = db.get(Commune, "36044")
    assert (chateauroux.name, chateauroux.population, chateauroux.postal_codes) == ("Châteauroux", 42963, "36000")
    assert chateauroux.search_key == "chateauroux"
    assert chateauroux.departement.name == "Indre" and chateauroux.region.name == "Centre-Val de Loire"
    assert chateauroux.epci.siren == "243600327" and chateauroux.epci.kind_label == "Communauté d'agglomération"
    assert len(chateauroux.epci.communes) == 14
    # Paris, Lyon and Marseille are communes; their arrondissements are not.
    assert db.get(Commune, "75056").name == "Paris" and db.get(Commune, "75101") is None


# Upstream files (@etalab/decoupage-administratif) -------------------------------------------

REGIONS = [
    {"code": "96", "chefLieu": "96001", "nom": "Région Test", "typeLiaison": 0, "zone": "metro"},
    {"code": "99", "chefLieu": "99001", "nom": "Autre Région", "typeLiaison": 1, "zone": "metro"},
]
DEPARTEMENTS = [
    {"code": "961", "region": "96", "chefLieu": "96101", "nom": "Département Un", "typeLiaison": 5, "zone": "metro"},
    {"code": "991", "region": "99", "chefLieu": "99101", "nom": "Département Deux", "typeLiaison": 5, "zone": "metro"},
]
EPCIS = [
    {"code": "200000001", "nom": "CC du Val d'Essai", "type": "CC", "modeFinancement": "FPU",
     "populationTotale": 1600, "populationMunicipale": 1550,
     "membres": [{"code": "96101", "siren": "219610101", "nom": "Beaulieu"},
                 {"code": "96102", "siren": "219610102", "nom": "Écouché-sur-Test"}]},
    {"code": "200000002", "nom": "CA de Montessai", "type": "CA", "modeFinancement": "FPU",
     "populationTotale": 52000, "populationMunicipale": 51000,
     "membres": [{"code": "99101", "siren": "219910101", "nom": "Montessai"}]},
]


def commune(code, nom, departement, region, population, postal, siren, **extra):
    return {"code": code, "nom": nom, "typeLiaison": 0, "zone": "metro", "arrondissement": departement + "1",
            "departement": departement, "region": region, "type": "commune-actuelle", "rangChefLieu": 0,
            "siren": siren, "codesPostaux": postal, "population": population, **extra}


COMMUNES = [
    commune("96101", "Beaulieu", "961", "96", 1200, ["96100"], "219610101"),
    commune("96102", "Écouché-sur-Test", "961", "96", 350, ["96110", "96111"], "219610102"),
    # A commune déléguée shares its département but is not a local authority of its own.
    {"code": "96103", "nom": "Vieux-Bourg", "typeLiaison": 0, "departement": "961", "region": "96",
     "type": "commune-deleguee", "chefLieu": "96102"},
    commune("96104", "Isolée", "961", "96", 80, ["96120"], "219610104"),
    commune("99101", "Montessai", "991", "99", 51000, ["99000", "99100"], "219910101"),
    # Municipal arrondissements (Paris, Lyon, Marseille) are left out too.
    {"code": "99151", "nom": "Montessai 1er Arrondissement", "departement": "991", "region": "99",
     "type": "arrondissement-municipal", "commune": "99101", "codesPostaux": ["99001"], "population": 9000},
]


def write_upstream(directory, communes=None, epcis=None):
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in (("regions.json", REGIONS), ("departements.json", DEPARTEMENTS),
                       ("epci.json", epcis if epcis is not None else EPCIS),
                       ("communes.json", communes if communes is not None else COMMUNES)):
        (directory / name).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return directory


def test_snapshot_from_upstream_keeps_current_communes_and_links_epci_membership(tmp_path):
    snapshot = services.snapshot_from_upstream(write_upstream(tmp_path / "data"))
    assert snapshot.regions == [{"code": "96", "name": "Région Test"}, {"code": "99", "name": "Autre Région"}]
    assert snapshot.departements[0] == {"code": "961", "name": "Département Un", "region_code": "96"}
    assert snapshot.epcis[0] == {"siren": "200000001", "name": "CC du Val d'Essai", "kind": "CC", "population": 1550}
    by_code = {c["insee"]: c for c in snapshot.communes}
    assert sorted(by_code) == ["96101", "96102", "96104", "99101"]
    assert by_code["96102"] == {"insee": "96102", "name": "Écouché-sur-Test", "population": 350,
                                "postal_codes": "96110 96111", "siren": "219610102", "departement_code": "961",
                                "region_code": "96", "epci_siren": "200000001"}
    assert by_code["99101"]["epci_siren"] == "200000002"
    assert by_code["96104"]["epci_siren"] is None


def test_snapshot_from_upstream_reads_the_npm_package_layout_and_names_missing_files(tmp_path):
    write_upstream(tmp_path / "package" / "data")
    assert len(services.snapshot_from_upstream(tmp_path).communes) == 4
    (tmp_path / "package" / "data" / "epci.json").unlink()
    with pytest.raises(FileNotFoundError, match="epci.json"):
        services.snapshot_from_upstream(tmp_path)


def test_a_written_snapshot_reads_back_the_same_and_is_byte_stable(tmp_path):
    snapshot = services.snapshot_from_upstream(write_upstream(tmp_path / "data"))
    path = tmp_path / "territoires.json.gz"
    services.write_snapshot(snapshot, path)
    first = path.read_bytes()
    again = services.read_snapshot(path)
    assert again.communes == sorted(snapshot.communes, key=lambda c: c["insee"])
    assert again.epcis == snapshot.epcis and again.regions == snapshot.regions
    services.write_snapshot(again, path)
    assert path.read_bytes() == first  # no changes, no diff in git


def test_an_upstream_update_changes_a_population_and_deletes_a_removed_commune(db, tmp_path):
    v1 = services.snapshot_from_upstream(write_upstream(tmp_path / "v1"))
    report = services.import_snapshot(db, v1)
    # Everything else in the test database was the real registry: replaced by the fake one.
    assert report.created["communes"] == 4 and report.deleted["communes"] == 34969
    assert report.created["epcis"] == 2 and report.created["regions"] == 2
    assert services.commune_count(db) == 4
    assert db.get(Commune, "96102").epci_siren == "200000001"
    assert db.get(Commune, "96102").search_key == "ecouche sur test"
    assert [c.insee for c in db.get(Epci, "200000001").communes] == ["96101", "96102"]
    assert counts(services.import_snapshot(db, services.snapshot_from_upstream(tmp_path / "v1"))) == {
        k: (0, 0, 0) for k in KINDS}

    # A year later: Beaulieu grows, Isolée merges away, Écouché-sur-Test leaves its EPCI for another.
    communes = [dict(c) for c in COMMUNES if c["code"] != "96104"]
    communes[0]["population"] = 1234
    epcis = [dict(EPCIS[0], membres=[{"code": "96101"}]),
             dict(EPCIS[1], membres=[{"code": "99101"}, {"code": "96102"}])]
    v2 = services.snapshot_from_upstream(write_upstream(tmp_path / "v2", communes, epcis))
    report = services.import_snapshot(db, v2)
    assert counts(report) == {"regions": (0, 0, 0), "departements": (0, 0, 0), "epcis": (0, 0, 0),
                              "communes": (0, 2, 1)}
    db.expire_all()
    assert db.get(Commune, "96101").population == 1234
    assert db.get(Commune, "96104") is None
    assert db.get(Commune, "96102").epci_siren == "200000002"
    assert services.commune_count(db) == 3

    # A whole EPCI and region disappear: children are removed before their parents.
    v3 = services.snapshot_from_upstream(write_upstream(
        tmp_path / "v3", [c for c in communes if c["code"] in ("96101", "96102")],
        [dict(EPCIS[0], membres=[{"code": "96101"}, {"code": "96102"}])]))
    v3.regions = [r for r in v3.regions if r["code"] == "96"]
    v3.departements = [d for d in v3.departements if d["region_code"] == "96"]
    report = services.import_snapshot(db, v3)
    assert report.deleted == {"regions": 1, "departements": 1, "epcis": 1, "communes": 1}
    assert db.scalars(select(Region.code)).all() == ["96"]
    assert db.scalars(select(Departement.code)).all() == ["961"]
    assert db.get(Commune, "96102").epci_siren == "200000001"


def test_import_reports_progress_for_every_row(db, tmp_path):
    snapshot = services.snapshot_from_upstream(write_upstream(tmp_path / "data"))
    seen = []
    services.import_snapshot(db, snapshot, progress=seen.append)
    assert sum(seen) == 2 + 2 + 2 + 4
