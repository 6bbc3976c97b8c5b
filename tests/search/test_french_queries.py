"""What a city officer types, over real texts: the 2022 Aides-territoires sample indexed as
programmes. Each test is one of the failures the search used to have."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from marketplace.core.text import fold
from search.query import SearchRequest, rank, search
from tests.search.corpus import build, doc

SAMPLE = Path(__file__).parent.parent / "funding" / "data" / "aides-territoires-sample-2022.csv"


def _rows():
    with open(SAMPLE, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


ROWS = _rows()
# A text that says the verb "voir" and never "voirie".
VERB = len(ROWS) + 1


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("aides") / "search"
    docs = [doc(i, row["Nom"], "", row["Descriptif"], type="programme", id=f"programme:{i}")
            for i, row in enumerate(ROWS, start=1)]
    docs.append(doc(VERB, "Guide des démarches", "", "Pour en savoir plus, voir le site de la préfecture.",
                    type="programme", id=f"programme:{VERB}"))
    build(root, docs)
    return root


def text_of(i: int) -> str:
    row = ROWS[i - 1]
    return fold(f"{row['Nom']} {row['Descriptif']}")


def ids(response):
    return [h.object_id for h in response.hits]


def holding(*fragments: str) -> set[int]:
    return {i for i in range(1, len(ROWS) + 1) if all(f in text_of(i) for f in fragments)}


def test_piste_cyclable_finds_the_cycling_aids(root):
    response = search(root, SearchRequest(q="piste cyclable", per_page=20))
    cycling = holding("cyclable")
    assert response.total and set(ids(response)[:5]) <= cycling | holding("velo")
    assert cycling <= set(ids(search(root, SearchRequest(q="piste cyclable", per_page=100))))
    assert search(root, SearchRequest(q="piste cyclable")).suggestion is None  # "piste" is a known word


def test_a_misspelt_word_is_searched_corrected_and_said(root):
    response = search(root, SearchRequest(q="bibliotèque"))
    assert response.corrected_from == "bibliotèque" and response.searched == "bibliothèque"
    assert response.total and set(ids(response)) >= holding("bibliotheque")
    assert search(root, SearchRequest(q="assainisement")).searched == "assainissement"


def test_a_word_known_in_another_form_is_not_corrected(root):
    for q in ("piste", "creche", "bio déchets", "vélos"):
        assert search(root, SearchRequest(q=q)).suggestion is None, q


def test_plural_and_singular_meet(root):
    singular = set(ids(search(root, SearchRequest(q="vélo", per_page=100))))
    plural = set(ids(search(root, SearchRequest(q="vélos", per_page=100))))
    assert singular == plural and singular >= holding("velos") | holding("velo ")
    communal = set(ids(search(root, SearchRequest(q="communal", per_page=100))))
    assert communal == set(ids(search(root, SearchRequest(q="communaux", per_page=100)))) == \
        set(ids(search(root, SearchRequest(q="communale", per_page=100))))


def test_voirie_is_not_the_verb_voir(root):
    found = set(ids(search(root, SearchRequest(q="voirie", per_page=100))))
    assert VERB not in found and found >= holding("voirie")
    assert VERB in set(ids(search(root, SearchRequest(q="voir", per_page=100))))


def test_videoprotection_meets_video_protection(root):
    written = {i for i, row in enumerate(ROWS, start=1) if "vidéo-protection" in f"{row['Nom']} {row['Descriptif']}".lower()}
    assert written
    for q in ("vidéoprotection", "vidéo-protection", "video protection"):
        assert written <= set(ids(search(root, SearchRequest(q=q, per_page=100)))), q


def test_documents_missing_a_word_still_come_after_those_holding_all(root):
    response = search(root, SearchRequest(q="rénovation énergétique école", per_page=100))
    renovation = holding("renovation energetique")
    assert renovation - holding("ecole"), "the sample has energy renovation aids that never say école"
    assert renovation <= set(ids(response))  # no longer lost for a missing word
    assert 0 < response.complete < response.total and not response.broadened
    first = ids(response)[:response.complete]
    assert all("ecole" in text_of(i) or "scolaire" in text_of(i) for i in first)


def test_the_same_pipeline_ranks_a_list_of_its_own(root):
    only = frozenset(f"programme:{i}" for i in range(1, 101))
    ranking = rank(root, "bibliotèque", only)
    assert ranking.searched == "bibliothèque"
    found = {int(k.split(":")[1]) for k in ranking.keys}
    assert found >= holding("bibliotheque") & set(range(1, 101)) and found <= set(range(1, 101))
    strict = rank(root, "rénovation énergétique école", only, all_words=True)
    assert all("ecole" in text_of(int(k.split(":")[1])) or "scolaire" in text_of(int(k.split(":")[1]))
               for k in strict.keys)
