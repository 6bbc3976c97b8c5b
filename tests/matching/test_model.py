"""The funded-projects model: reading the open data, ranking obvious projects into their measure,
saving and loading, and evaluation that never scores a row it was trained on."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from marketplace.matching import model as funded_model
from marketplace.matching.model import FundedProject

ROOT = Path(__file__).resolve().parents[2]
FONDS_VERT = ROOT / "marketplace" / "funding" / "data" / "fonds-vert-2023-dev.csv"

LIGHTING = "Rénovation des parcs de luminaires d’éclairage public"
BUILDINGS = "Rénovation énergétique des bâtiments publics locaux"
RENATURATION = "Renaturation des villes et des villages"
FIRE = "Prévention des risques d’incendies de forêt et de végétation"
CARPOOLING = "Développement du covoiturage"
BIOWASTE = "Soutien au tri à la source et à la valorisation des biodéchets"

HEADER = ("nom_region;code_departement;nom_departement;code_commune;nom_commune;axe;numero_demarche_ds;"
          "nom_demarche_ds;numero_dossier_ds;nom_du_projet;nom_beneficiaire_principal;siren;montant_engage")


@pytest.fixture(scope="module")
def rows() -> list[FundedProject]:
    return funded_model.read_funded_csv(FONDS_VERT)


@pytest.fixture(scope="module")
def trained(rows):
    """A model trained on a quarter of each measure's projects (at least three): fast enough."""
    quarter = [r for measure in sorted({r.measure for r in rows})
               for group in [[r for r in rows if r.measure == measure]] for r in group[:max(3, len(group) // 4)]]
    return funded_model.train(quarter), quarter


def test_the_open_data_is_read_with_its_french_amounts_and_lost_leading_zeros():
    text = "\n".join([
        HEADER,
        "Auvergne-Rhône-Alpes;1;Ain;1053;BOURG EN BRESSE;2;67821;Renaturation des villes et des villages;11322209;"
        "Renaturation de la Reyssouze;BOURG EN BRESSE;210100533;713\u00a0361,00 €",
        "Corse;2B;Haute-Corse;2B148;LUCCIANA;2;1;Ingénierie;42;Étude;CC DE MARANA GOLO;200036499;164 000 €",
        "Outre-mer;988;Nouvelle-Calédonie;NULL;NULL;2;1;Ingénierie;43;Étude des récifs;PROVINCE;NULL;n/a",
        "Bretagne;22;Côtes-d'Armor;22187;PLERIN;2;1;;44;Sans mesure;PLERIN;212201875;10 €",
    ])
    first, corsica, overseas = funded_model.read_funded_csv(io.BytesIO(("\ufeff" + text).encode()))
    assert first == FundedProject(title="Renaturation de la Reyssouze", measure=RENATURATION, commune_insee="01053",
                                  departement="01", amount_cents=71_336_100, beneficiary="BOURG EN BRESSE",
                                  siren="210100533", reference="11322209")
    assert (corsica.commune_insee, corsica.departement, corsica.amount_cents) == ("2B148", "2B", 16_400_000)
    assert (overseas.commune_insee, overseas.departement, overseas.siren, overseas.amount_cents) == (None, "988", None, None)


def test_a_column_mapping_reads_another_layout():
    text = "intitule,programme,insee,cout\nEclairage LED du stade,Éclairage,36044,\"1 200,50\"\n"
    (row,) = funded_model.read_funded_csv(io.StringIO(text), {"title": "intitule", "measure": "programme",
                                                             "commune_insee": "insee", "amount_cents": "cout"})
    assert (row.title, row.measure, row.commune_insee, row.amount_cents) == ("Eclairage LED du stade", "Éclairage",
                                                                             "36044", 120_050)
    with pytest.raises(ValueError, match="intitule"):
        funded_model.read_funded_csv(io.StringIO("titre;mesure\nA;B\n"), {"title": "intitule"})


@pytest.mark.parametrize("text, cents", [
    ("713 361,00 €", 71_336_100), ("713\u202f361,5\u00a0€", 71_336_150), ("713361.00", 71_336_100),
    ("1.000.000,50", 100_000_050), ("1,000,000.50", 100_000_050), ("12 000", 1_200_000), ("12,000", 1_200_000),
    ("45 EUR HT", 4_500), ("", None), ("environ dix", None), ("1,2,3", None),
])
def test_amounts_are_read_the_french_way_and_others(text, cents):
    assert funded_model.parse_amount_cents(text) == cents


def test_obvious_projects_land_in_their_measure(trained):
    model, _ = trained
    assert len(model.labels) == 14
    cases = [
        ("Rénovation de l'éclairage public : passage en LED des lanternes", "36044", 2_500_000, LIGHTING),
        ("Rénovation énergétique de la mairie : isolation des combles et pompe à chaleur", "36044", 9_000_000,
         BUILDINGS),
        ("Désimperméabilisation et végétalisation de la cour de l'école", "35238", 12_000_000, RENATURATION),
        ("Défense extérieure contre l'incendie : installation de citernes", "27229", 1_500_000, FIRE),
        ("Création d'une aire de covoiturage", "44109", 6_000_000, CARPOOLING),
        ("Collecte et tri à la source des biodéchets, composteurs partagés", "63113", 8_000_000, BIOWASTE),
    ]
    for title, insee, cents, measure in cases:
        ranking = model.rank(title, insee, cents)
        assert ranking[0][0] == measure, (title, ranking[:3])
        probabilities = [p for _, p in ranking]
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1.0)
        assert {label for label, _ in ranking} == set(model.labels)


def test_a_project_known_only_by_its_title_and_commune_is_ranked(trained):
    model, _ = trained
    ranking = model.rank("Rénovation du parc d'éclairage public", None)
    assert ranking[0][0] == LIGHTING
    # The batch form the matching jobs use gives the same probabilities, columns in labels' order.
    batch = model.proba_many([("Rénovation du parc d'éclairage public", None, None, None)])
    assert batch.shape == (1, len(model.labels))
    assert dict(ranking)[LIGHTING] == pytest.approx(batch[0, model.labels.index(LIGHTING)])


def test_the_territory_matters_for_measures_of_some_territories(trained):
    model, _ = trained
    title = "Renforcement de la protection des bâtiments contre les vents cycloniques"
    on_reunion = dict(model.rank(title, "97411"))  # Saint-Denis de La Réunion
    in_the_berry = dict(model.rank(title, "36044"))  # Châteauroux
    cyclones = next(label for label in model.labels if "cyclon" in label)
    assert on_reunion[cyclones] > 5 * in_the_berry[cyclones]


def test_the_explanation_says_in_french_why_the_top_measure(trained):
    model, _ = trained
    text = model.explain("Remplacement des luminaires de l'éclairage public par des LED", "36044", 3_000_000)
    assert text.startswith(f"« {LIGHTING} »")
    assert "projets similaires financés : « " in text
    assert "mots proches : " in text and "éclairage" in text


def test_territories_can_come_from_the_app_as_a_mapping(rows):
    some = [r for r in rows if r.measure in (LIGHTING, BUILDINGS)][:300]
    mapping = {"36044": (43_442, "36", "24")}
    model = funded_model.train(some, mapping)
    assert model.territories.commune("36044").population == 43_442
    assert model.territories.commune("75056") is None
    assert model.rank("Rénovation thermique de l'école", "36044")[0][0] == BUILDINGS
    # Paris arrondissements are read as Paris.
    paris = funded_model.Territories({"75056": (2_100_000, "75", "11")})
    assert paris.commune("75115").departement == "75"


def test_save_and_load_round_trip(trained, tmp_path):
    model, quarter = trained
    path = tmp_path / "model.joblib"
    model.save(path)
    again = funded_model.load(path)
    assert again.fingerprint == model.fingerprint == funded_model.training_fingerprint(reversed(quarter))
    for title in ("Rénovation de la salle des fêtes", "Aménagement d'un parc paysager"):
        assert again.rank(title, "36044", 5_000_000) == model.rank(title, "36044", 5_000_000)


def test_a_file_of_another_version_or_not_a_model_is_refused(trained, tmp_path, monkeypatch):
    model, _ = trained
    path = tmp_path / "model.joblib"
    model.save(path)
    monkeypatch.setattr(funded_model, "MODEL_VERSION", funded_model.MODEL_VERSION + 1)
    with pytest.raises(ValueError, match="réentraînez"):
        funded_model.load(path)
    import joblib
    joblib.dump({"model": "autre chose"}, tmp_path / "other.joblib")
    with pytest.raises(ValueError, match="pas un modèle"):
        funded_model.load(tmp_path / "other.joblib")


def test_evaluation_refuses_a_test_row_that_was_trained_on(rows):
    train_rows, test_rows = rows[:200], rows[200:260]
    with pytest.raises(ValueError, match="entraînement"):
        funded_model.evaluate(train_rows, test_rows + [train_rows[5]])
    # The same dossier under another object is still the same project.
    twin = FundedProject(title=train_rows[7].title, measure=train_rows[7].measure, reference=train_rows[7].reference)
    with pytest.raises(ValueError, match="entraînement"):
        funded_model.evaluate(train_rows, [twin])


def test_evaluation_scores_only_the_test_rows(rows):
    train_rows, test_rows = funded_model.cross_validation_folds(rows[:1500], 5, seed=0)[0]
    result = funded_model.evaluate(train_rows, test_rows)
    assert set(result) == {"n", "top1", "top3", "seconds"}
    assert result["n"] == len(test_rows)
    assert 0.6 < result["top1"] <= result["top3"] <= 1


def test_splits_keep_dossiers_whole_and_measures_on_both_sides(rows):
    folds = funded_model.cross_validation_folds(rows, 5, seed=0)
    tested = [r for _, test in folds for r in test]
    assert sorted(map(id, tested)) == sorted(map(id, rows))
    for train_rows, test_rows in folds:
        assert not {r.reference for r in train_rows} & {r.reference for r in test_rows}
    train_rows, test_rows = funded_model.stratified_split(rows, 0.2, seed=0)
    assert len(test_rows) == pytest.approx(len(rows) * 0.2, rel=0.03)
    assert {r.measure for r in test_rows} == {r.measure for r in rows}
    assert funded_model.stratified_split(rows, 0.2, seed=0)[1] == test_rows
    assert funded_model.stratified_split(rows, 0.2, seed=1)[1] != test_rows


def test_the_model_imports_no_web_framework_nor_database():
    code = ("import sys; import marketplace.matching.model; "
            "bad = [m for m in ('flask', 'sqlalchemy') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_reference_without_beneficiaries_nor_amounts_still_trains(rows):
    bare = [FundedProject(title=r.title, measure=r.measure, reference=r.reference) for r in rows[:600]]
    model = funded_model.train(bare)
    assert model.rank("Rénovation de l'éclairage public", None)[0][0] == LIGHTING
    assert "mots proches : éclairage" in model.explain("Rénovation de l'éclairage public", None)
