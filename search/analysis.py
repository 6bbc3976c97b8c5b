"""French analysis for the index and the queries.

Accents are folded *before* stemming: the French Snowball stemmer treats "électricité" and
"electricite" differently, so folding after it would leave the two spellings apart. Stop words
are folded the same way, since they are compared after folding.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.lang import stopwords_for_language
from whoosh.support.charset import accent_map

from marketplace.core.text import fold

SYNONYMS_CSV = Path(__file__).parent / "data" / "synonyms-collectivites.csv"

# Words, with inner hyphens and apostrophes split ("vidéo-protection" → vidéo, protection;
# "l'éclairage" → l, éclairage).
_TOKEN = r"\w+"
FRENCH_STOPWORDS = frozenset(fold(w) for w in stopwords_for_language("fr")) | {"l", "d", "qu", "s", "n", "c", "j", "m"}


@lru_cache(maxsize=1)
def french_analyzer():
    return (RegexTokenizer(_TOKEN) | LowercaseFilter() | CharsetFilter(accent_map)
            | StopFilter(stoplist=FRENCH_STOPWORDS, minsize=1) | StemFilter(lang="fr", cachesize=50_000))


@lru_cache(maxsize=1)
def folding_analyzer():
    """For keyword-like text (spelling suggestions): folded, lower-case, not stemmed."""
    return RegexTokenizer(_TOKEN) | LowercaseFilter() | CharsetFilter(accent_map) | StopFilter(
        stoplist=FRENCH_STOPWORDS, minsize=3)


def stem_terms(text: str) -> list[str]:
    return [t.text for t in french_analyzer()(text)]


@lru_cache(maxsize=1)
def synonyms() -> dict[str, list[str]]:
    """Query-time expansion, keyed by the folded term (or phrase).

    Each line of the list is ``action;terme;synonymes``. A search for the head term also looks
    for its synonyms. For lines with action 0 (true equivalents: "vidéosurveillance" /
    "vidéo-protection") a search for a synonym also finds the head term; lines with action 1 are
    broad activity words ("aménagement": urbanisme, travaux, voirie…) whose synonyms are not
    equivalent to each other, so they expand one way only.
    """
    table: dict[str, set[str]] = {}
    with open(SYNONYMS_CSV, encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            head = row["terme"].strip()
            others = [s.strip() for s in row["synonymes"].split(",") if s.strip()]
            table.setdefault(fold(head), set()).update(others)
            if row["action"].strip() == "0":
                for other in others:
                    table.setdefault(fold(other), set()).add(head)
    return {key: sorted(values) for key, values in table.items()}
