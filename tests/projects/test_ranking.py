"""How matching ranks the programmes a funded-projects model knows: the model's order holds
against a little more text in common, a measure the city may not use gives its share to the
others, and near-ties are ranked by the exact score, not the rounded one shown."""
from __future__ import annotations

import datetime as dt

import numpy as np

from marketplace.funding.public import PublishedTarget
from marketplace.projects import matching

ON = dt.date(2026, 12, 1)
LIGHTING, BUILDINGS, FIRE = "Éclairage public", "Rénovation des bâtiments", "Incendies de forêt"


class KnownModel:
    """A trained model's interface: the measures it learnt and its probabilities for projects."""

    def __init__(self, probabilities: dict[str, float]):
        self.labels = list(probabilities)
        self.p = np.array([list(probabilities.values())])

    def proba_many(self, projects):
        return np.repeat(self.p, len(projects), axis=0)


def target(i: int, measure: str, text: str) -> PublishedTarget:
    return PublishedTarget(key=f"programme:{i}", programme_id=i, call_id=None, title=f"Fonds vert — {measure}",
                           programme_title=f"Fonds vert — {measure}", text=text, themes=(), floor_cents=None,
                           closes_on=None, url=f"/financements/{i}")


TARGETS = matching.Targets([
    target(1, LIGHTING, "remplacement des luminaires de l'éclairage public par des lampes LED"),
    target(2, BUILDINGS, "isolation et chauffage des bâtiments publics, écoles et mairies"),
    target(3, FIRE, "travaux de débroussaillement et points d'eau contre les incendies de forêt"),
])


def project(title: str, eligible=(1, 2, 3)) -> matching.ProjectRow:
    return matching.ProjectRow(None, None, title, "", (), "36088", "36", None, {i: "commune" for i in eligible})


def ranked(model, row) -> list[tuple[str, int, float]]:
    (out,) = matching.score_projects(TARGETS, [row], on=ON, model=model, min_score=0)
    return [(s.target.key, s.score, s.parts["funded"]) for s in out]


def test_the_models_second_choice_keeps_its_place_against_a_few_more_words_in_common():
    model = KnownModel({LIGHTING: 0.87, BUILDINGS: 0.08, FIRE: 0.05})
    # "travaux" is in the fire programme's text only: not enough to pass the buildings measure.
    keys = [k for k, _, _ in ranked(model, project("Travaux"))]
    assert keys == ["programme:1", "programme:2", "programme:3"]


def test_much_more_text_in_common_can_reorder_close_measures():
    model = KnownModel({LIGHTING: 0.34, BUILDINGS: 0.33, FIRE: 0.33})
    keys = [k for k, _, _ in ranked(model, project("Isolation et chauffage des bâtiments publics"))]
    assert keys[0] == "programme:2"


def test_a_measure_the_city_may_not_use_gives_its_share_to_the_others():
    model = KnownModel({LIGHTING: 0.50, BUILDINGS: 0.30, FIRE: 0.20})
    everything = ranked(model, project("Projet communal"))
    without_fire = ranked(model, project("Projet communal", eligible=(1, 2)))
    assert [k for k, _, _ in without_fire] == ["programme:1", "programme:2"]
    assert abs(sum(p for _, _, p in without_fire) - 1) < 1e-9
    assert abs(sum(p for _, _, p in everything) - 1) < 1e-9
    assert without_fire[0][2] > dict((k, p) for k, _, p in everything)["programme:1"]


def test_near_ties_are_ranked_by_the_exact_score_not_the_rounded_one():
    # The fire programme (listed last) is a hair likelier than the buildings one: both show 28.
    model = KnownModel({LIGHTING: 0.4321, BUILDINGS: 0.2839, FIRE: 0.2840})
    out = ranked(model, project("Projet communal"))
    assert [k for k, _, _ in out] == ["programme:1", "programme:3", "programme:2"]
    assert out[1][1] == out[2][1]
