"""The demo guichet: real programmes with sources and licences, entered through the real workflow."""
from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import func, select

from marketplace.demo import seed
from marketplace.funding import eligibility
from marketplace.funding.demo import FONDS_VERT_MEASURES
from marketplace.funding.models import Label, LabelCommune, Programme, ProgrammeStatus
from tenants.territories.models import Commune, Epci

FONDS_VERT_FUNDED = Path(__file__).resolve().parents[2] / "marketplace" / "funding" / "data" / "fonds-vert-2023-dev.csv"


def test_the_demo_publishes_real_programmes_once_with_sources_and_licences(db):
    accounts = seed(db)
    db.flush()
    programmes = {p.title: p for p in db.scalars(select(Programme))}
    assert len(programmes) == 14 + 4 + 2
    assert all(p.status is ProgrammeStatus.published for p in programmes.values())
    assert all(p.source_url.startswith("https://") and p.licence and p.provenance for p in programmes.values())
    assert all(p.versions[0].summary.startswith("Publié après relecture") for p in programmes.values())
    fonds_vert = [p for p in programmes.values() if p.state_family == "FONDS_VERT"]
    assert len(fonds_vert) == 14 and all(p.plan_category == "state_grant" for p in fonds_vert)
    # No invented rates: only DETR (CGCT R2334-27) and the FEDER's EU maximum carry one.
    assert {t for t, p in programmes.items() if p.rate_max_bp is not None} == {
        "Dotation d'équipement des territoires ruraux (DETR)",
        "FEDER Centre-Val de Loire 2021-2027 — efficacité énergétique des bâtiments publics"}
    feder = programmes["FEDER Centre-Val de Loire 2021-2027 — efficacité énergétique des bâtiments publics"]
    assert feder.rate_max_bp == 6000 and "⚠" in feder.curation_note and feder.owner.name == "Région Centre-Val de Loire"
    assert programmes["Prêt sur fonds d'épargne pour la transition écologique"].plan_category == "loan"
    assert ("prets@banquedesterritoires.test", "Membre — Banque des Territoires (financeur)") in accounts

    # Châteauroux is offered Action Cœur de Ville (partial label, said so), the national programmes and the FEDER.
    acv = db.scalar(select(Label).where(Label.slug == "action-coeur-de-ville"))
    assert "PARTIELLE" in acv.description
    offered = {o.programme_id for o in eligibility.offers_for_commune(db, db.get(Commune, "36044"))}
    assert programmes["Action Cœur de Ville"].id in offered and feder.id in offered
    assert programmes["Dotation de soutien à l'investissement local (DSIL)"].id in offered
    # DETR is for communes of 20 000 inhabitants at most; Vitré is not in Centre-Val de Loire.
    assert programmes["Dotation d'équipement des territoires ruraux (DETR)"].id not in offered
    assert feder.id not in {o.programme_id for o in eligibility.offers_for_commune(db, db.get(Commune, "35360"))}
    assert programmes["Action Cœur de Ville"].id in {
        o.programme_id for o in eligibility.offers_for_epci(db, db.get(Epci, "243600327"))}
    pvd = db.scalar(select(Label).where(Label.slug == "petites-villes-de-demain"))
    assert db.scalar(select(func.count()).select_from(LabelCommune).where(LabelCommune.label_id == pvd.id)) == 0

    seed(db)  # idempotent
    db.flush()
    assert db.scalar(select(func.count()).select_from(Programme)) == len(programmes)


def test_the_fonds_vert_measures_are_the_14_of_the_open_data():
    names = {m[0] for m in FONDS_VERT_MEASURES}
    assert len(names) == 14
    with FONDS_VERT_FUNDED.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    assert names == {r["nom_demarche_ds"] for r in rows}
    axes = {r["nom_demarche_ds"]: int(r["axe"]) for r in rows}
    assert all(axes[name] == axis for name, axis, *_ in FONDS_VERT_MEASURES)
