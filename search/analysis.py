"""French analysis for the index and the queries: one function turns a text into its terms, the
same for documents and queries.

- **Words and compounds.** A word is a run of letters and digits; hyphens and apostrophes cut
  ("l'éclairage" → éclairage). A hyphenated compound also gives its joined form, so that
  "vidéo-protection", "vidéo protection" and "vidéoprotection" meet ("centre-bourg",
  "tiers-lieu", "bio-déchets" alike).
- **Folding before stemming.** Accents are folded first: the Snowball stemmer treats
  "électricité" and "electricite" differently, so folding after it would keep them apart.
- **A light stem.** Snowball's French stemmer, with what it gets wrong for our vocabulary put
  right: plurals it keeps ("vélos", "lieux", "jeux"), feminines it keeps apart ("sportive",
  "publique"), and words it merges with an unrelated one ("voirie" is not the verb "voir").
  ``EXCEPTIONS`` lists the fixed forms; ``stem`` says the rules.

``ANALYSIS_VERSION`` is stored with each index (in its schema): an index built by another version
is rebuilt rather than queried with terms it does not hold.
"""
from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

from whoosh.analysis import Analyzer, Token
from whoosh.lang import stopwords_for_language
from whoosh.lang.snowball.french import FrenchStemmer

from marketplace.core.text import fold

ANALYSIS_VERSION = 3
DATA = Path(__file__).parent / "data"
# The Aides-territoires list (MIT), then ours: terms of local-authority projects and purchases.
SYNONYM_FILES = (DATA / "synonyms-collectivites.csv", DATA / "synonyms-passerelle.csv")

_WORD = re.compile(r"\w+")
_COMPOUND = re.compile(r"\w+(?:-\w+)+")
FRENCH_STOPWORDS = frozenset(fold(w) for w in stopwords_for_language("fr")) | {
    "l", "d", "qu", "s", "n", "c", "j", "m", "t"}

# Folded word → stem, where Snowball's stem would merge unrelated words or keep related ones apart.
EXCEPTIONS = {
    "voirie": "voirie", "voiries": "voirie",  # Snowball: "voir", the verb
    "voie": "voie", "voies": "voie",  # and not "voi", next to "voix"
    "public": "public", "publics": "public", "publique": "public", "publiques": "public",
    "travaux": "travail", "travail": "travail",
    "parking": "parking", "parkings": "parking",
    "led": "led", "leds": "led",
    "tiers": "tiers",
    "plu": "plu", "plui": "plui",
    "velo": "velo", "velos": "velo",
}


_snowball = FrenchStemmer()


@lru_cache(maxsize=300_000)
def stem(word: str) -> str:
    """The stem of a folded, lower-case word."""
    fixed = EXCEPTIONS.get(word)
    if fixed is not None:
        return fixed
    if len(word) <= 3 or word.isdigit():
        return word
    s = _snowball.stem(word)
    # Plurals Snowball keeps: "lieux", "jeux", "bureaux" (its -aux → -al rule is kept: "communaux").
    if len(s) > 3 and s[-1] in "sx" and s[-2] not in "su":
        s = s[:-1]
    # Feminines it keeps apart: sportive/sportif, participative/participatif.
    if s.endswith("iv"):
        s = s[:-1] + "f"
    return s


def _compute_term(raw: str) -> str | None:
    word = fold(raw)
    if word in FRENCH_STOPWORDS:
        return None
    return stem(word)


# Raw word → term (None for a stop word): a plain dict, read once per word of every text indexed.
_TERMS: dict[str, str | None] = {}
_MISSING = object()


def _term(raw: str) -> str | None:
    """A raw word of a text (any case, accents) → its term, or None for a stop word."""
    term = _TERMS.get(raw, _MISSING)
    if term is _MISSING:
        if len(_TERMS) > 1_000_000:
            _TERMS.clear()
        term = _TERMS[raw] = _compute_term(raw)
    return term


def terms(text: str) -> list[str]:
    """The terms of a text, in order; a hyphenated compound adds its joined form after its parts."""
    get = _TERMS.get
    out: list[str] = []
    for raw in _WORD.findall(text):
        term = get(raw, _MISSING)
        if term is _MISSING:
            term = _term(raw)
        if term is not None:
            out.append(term)
    if "-" in text:
        for m in _COMPOUND.finditer(text):
            joined = _term(m.group().replace("-", ""))
            if joined is not None:
                out.append(joined)
    return out


def clear_caches() -> None:
    """Forget every word seen (benchmarks compare builds from a cold start)."""
    _TERMS.clear()
    stem.cache_clear()
    spelling_word.cache_clear()


def stem_terms(text: str) -> list[str]:
    """The terms of a text (kept under this name for the callers that stem a word or a phrase)."""
    return terms(text)


@lru_cache(maxsize=200_000)
def spelling_word(raw: str) -> str | None:
    """A raw word → its folded form, for the spelling vocabulary (None: too short or a stop word)."""
    word = fold(raw)
    if len(word) < 3 or word in FRENCH_STOPWORDS or word.isdigit():
        return None
    return word


class _Terms(Analyzer):
    """A Whoosh analyzer over a function: one pass, one cached lookup per word (the filter chain
    it replaces cost most of the indexing time). Pickled with the index's schema."""

    def __init__(self, kind: str = "text"):
        self.kind = kind
        self.version = ANALYSIS_VERSION

    def __eq__(self, other):
        return isinstance(other, _Terms) and (self.kind, self.version) == (other.kind, other.version)

    @staticmethod
    def terms_of(value: str) -> list[str]:
        """The terms of a text, unweighted, without stop words: what a bulk writer counts."""
        return terms(value)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        words = terms(value)
        for i, word in enumerate(words):
            token.text = word
            token.stopped = False
            token.boost = 1.0
            if positions:
                token.pos = start_pos + i
            yield token


@lru_cache(maxsize=1)
def french_analyzer() -> Analyzer:
    return _Terms("text")


@lru_cache(maxsize=1)
def synonyms() -> dict[str, list[str]]:
    """Query-time expansion, keyed by the stems of the term (or phrase): see ``synonym_key``.

    Each line of a list is ``action;terme;synonymes``. A search for the head term also looks for
    its synonyms. For lines with action 0 (true equivalents: "vidéosurveillance" /
    "vidéo-protection") a search for a synonym also finds the head term;
    lines with action 1 are broad activity words ("aménagement": urbanisme, travaux, voirie…)
    whose synonyms are not equivalent to each other, so they expand one way only.
    """
    table: dict[str, set[str]] = {}
    for path in SYNONYM_FILES:
        with open(path, encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter=";"):
                head = row["terme"].strip()
                others = [s.strip() for s in row["synonymes"].split(",") if s.strip()]
                table.setdefault(_key(head), set()).update(others)
                if row["action"].strip() == "0":
                    for other in others:
                        table.setdefault(_key(other), set()).add(head)
    return {key: sorted(values) for key, values in table.items()}


def _key(phrase: str) -> str:
    """How a phrase is looked up: the stems of its words, without stop words or hyphens
    ("vidéo-protection" and "vidéo protection" are one key, "pistes cyclables" and "piste
    cyclable" too)."""
    return synonym_key(w for w in _WORD.findall(fold(phrase)) if w not in FRENCH_STOPWORDS)


def synonym_key(words) -> str:
    """The lookup key of folded words (stop words already out)."""
    return " ".join(stem(w) for w in words)
