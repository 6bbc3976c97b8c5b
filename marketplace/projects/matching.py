"""Matching: which published programmes and calls can fund a project, how well, and why.

Candidates are first the programmes the project's collectivité is **eligible** to (the guichet's
exact rules, ``funding.public.eligible_programmes``) and their open calls; each is then scored
from 0 to 100 by:

- **text**: cosine of TF-IDF vectors over the search's French analysis (``search.analysis.terms``:
  folding, light stems, compounds) between the project and the programme (with its call);
- **funded neighbours**: the probability the funded-projects model (``marketplace.matching.model``,
  trained on real funded projects) gives the programme whose title is a measure it learnt, from
  the project's title, commune, cost and collectivité; for those programmes the text is read as
  further evidence on that probability (a product of the two, renormalised over the measures
  the project is eligible to) rather than added to it: added, a tenth of text similarity
  outweighed the model's second and third choices (−0.2 to −1 point of top-3 on three held-out
  folds of the Fonds vert projects);
- **themes** shared, **amount** fit (the programme's floor), and **deadline** (a call closing in 1 to 3
  months first; one closing within a week is tight).

Without a trained model the weights of the other signals are used and the explanation says the
ranking is by eligibility and text only. Every match keeps its score and a French explanation.

The work is vectorised per chunk of projects (sparse products, numpy), so a night's run of
20 000 projects × 5 000 programmes takes seconds of arithmetic (``bench/matching.py``); results
are written by an upsert keyed by (project, target), so a re-run rewrites the same rows.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp
from sklearn.feature_extraction.text import TfidfVectorizer

from marketplace.core.taxonomy import DOMAINS
from marketplace.core.text import date_fr, fold, format_int_fr
from marketplace.funding.public import PublishedTarget
from search.analysis import terms

log = logging.getLogger("passerelle.matching")

TOP_PER_PROJECT = 15  # matches kept per project
MIN_SCORE = 20  # below this, not a match
WEIGHTS = {"text": 0.0, "funded": 0.90, "themes": 0.04, "amount": 0.03, "deadline": 0.03}  # programmes the model knows
WEIGHTS_NO_MODEL = {"text": 0.60, "funded": 0.0, "themes": 0.20, "amount": 0.10, "deadline": 0.10}  # the others
TEXT_SATURATION = 0.35  # a cosine this high counts fully
# How much the text moves the model's probability: log p + TEXT_EVIDENCE × text (chosen on three
# held-out folds of the Fonds vert file: 0.2 to 0.6 are alike, 0 loses 0.1 point of top-1).
TEXT_EVIDENCE = 0.3


_WORD = re.compile(r"\w+(?:-\w+)*")


Target = PublishedTarget  # a programme, or one of its open calls, as the guichet publishes it


@dataclass
class ProjectRow:
    """A project as matching sees it (from the database, or a preview that stores nothing)."""
    id: int | None
    tenant_id: int | None
    title: str
    description: str
    themes: tuple[str, ...]
    commune_insee: str
    departement: str
    cost_ht_cents: int | None
    eligible: dict[int, str]  # programme id → the eligibility reason, in French
    beneficiary: str = ""
    siren: str = ""  # the beneficiary's

    @property
    def text(self) -> str:
        return f"{self.title} {self.title} {self.description}"  # the title counts twice


@dataclass
class Scored:
    target: Target
    score: int
    explanation: str
    parts: dict[str, float] = field(default_factory=dict)


class Targets:
    """Every matchable target, vectorised once per run (or per change of the published set)."""

    def __init__(self, targets: Sequence[Target], funded_counts: dict[str, dict[str, int]] | None = None):
        self.items = list(targets)
        self.index = {t.key: i for i, t in enumerate(self.items)}
        self.vectorizer = TfidfVectorizer(analyzer=terms, sublinear_tf=True, min_df=1)
        texts = [t.text for t in self.items] or [""]
        self.matrix = self.vectorizer.fit_transform(texts) if self.items else None
        # For the cosines of a chunk: sparse targets × dense projects in single precision is 5 times
        # faster than the sparse × sparse product (whose common words fill a dense result anyway).
        self.matrix32 = self.matrix.astype(np.float32) if self.items else None
        self.vocabulary = {v: k for k, v in self.vectorizer.vocabulary_.items()} if self.items else {}
        self.programme_ids = np.array([t.programme_id for t in self.items], dtype=np.int64)
        theme_slugs = list(DOMAINS)
        self.theme_index = {slug: i for i, slug in enumerate(theme_slugs)}
        self.themes = np.zeros((len(self.items), len(theme_slugs)), dtype=np.float32)
        for i, t in enumerate(self.items):
            for slug in t.themes:
                if slug in self.theme_index:
                    self.themes[i, self.theme_index[slug]] = 1.0
        self.floors = np.array([t.floor_cents or 0 for t in self.items], dtype=np.float64)
        self.closes = [t.closes_on for t in self.items]
        # funded_counts: measure_key of a programme title → {département: funded projects}
        self.funded_counts = funded_counts or {}
        self.measure_keys = [measure_key(t.programme_title) for t in self.items]
        self._written: dict[int, dict[str, str]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def written(self, index: int, stems: Sequence[str]) -> list[str]:
        """Stems of a target's text as it writes them (each target read once, when first asked)."""
        if index not in self._written:
            forms: dict[str, str] = {}
            for m in _WORD.finditer(self.items[index].text):
                for term in terms(m.group()):
                    forms.setdefault(term, m.group().lower())
            self._written[index] = forms
        forms = self._written[index]
        return [forms.get(s, s) for s in stems]


def deadline_factor(closes_on: dt.date | None, on: dt.date) -> float:
    if closes_on is None:
        return 0.6  # permanent: no hurry, no urgency either
    days = (closes_on - on).days
    if days < 0:
        return 0.0
    if days < 7:
        return 0.5
    if days <= 90:
        return 1.0
    return 0.7


def _theme_vector(targets: Targets, themes: Iterable[str]) -> np.ndarray:
    v = np.zeros(len(targets.theme_index), dtype=np.float32)
    for slug in themes:
        if slug in targets.theme_index:
            v[targets.theme_index[slug]] = 1.0
    return v


def score_projects(targets: Targets, projects: Sequence[ProjectRow], *, on: dt.date, model=None,
                   top: int = TOP_PER_PROJECT, min_score: int = MIN_SCORE) -> list[list[Scored]]:
    """The ranked matches of each project (best first), among its eligible targets."""
    if not projects or not len(targets):
        return [[] for _ in projects]
    project_matrix = targets.vectorizer.transform([p.text for p in projects])
    cosine = (targets.matrix32 @ project_matrix.T.toarray().astype(np.float32)).T.astype(np.float64)  # projects × targets
    text = np.minimum(1.0, cosine / TEXT_SATURATION)
    theme_matrix = np.stack([_theme_vector(targets, p.themes) for p in projects])
    shared = theme_matrix @ targets.themes.T
    own = np.maximum(1.0, theme_matrix.sum(axis=1, keepdims=True))
    themes = np.where(theme_matrix.sum(axis=1, keepdims=True) > 0, shared / own, 0.0)
    costs = np.array([p.cost_ht_cents or 0 for p in projects], dtype=np.float64)[:, None]
    amount = np.where(costs == 0, 0.6, np.where(costs >= targets.floors[None, :], 1.0, 0.3))
    deadline = np.array([deadline_factor(c, on) for c in targets.closes], dtype=np.float64)[None, :]
    open_ = deadline[0] > 0
    masks = np.stack([open_ & np.isin(targets.programme_ids, np.fromiter(p.eligible, dtype=np.int64,
                                                                          count=len(p.eligible)))
                      for p in projects])
    funded = (funded_probabilities(model, projects, targets, text, masks) if model is not None
              else np.zeros_like(text))

    def combine(w):
        return (w["text"] * text + w["funded"] * funded + w["themes"] * themes + w["amount"] * amount
                + w["deadline"] * deadline)

    # Where real funded projects teach something (the model knows the programme), they weigh most;
    # elsewhere the text, themes, amount and dates decide.
    known = model_knows(model, targets)[None, :]
    total = np.where(known, combine(WEIGHTS), combine(WEIGHTS_NO_MODEL)) if known.any() else combine(WEIGHTS_NO_MODEL)
    # Ranked by the exact total, shown as a whole percentage: ranking by the rounded score left
    # near-ties (the third and fourth measures) to the targets' order (−0.4 point of top-3).
    exact = np.where(masks, total, -1.0)
    scores = np.where(masks, np.rint(total * 100), -1)
    pairs = [(row, j) for row, best in enumerate(_best(exact, top)) for j in best if scores[row, j] >= min_score]
    words = _shared_words(targets, project_matrix, pairs)
    results: list[list[Scored]] = [[] for _ in projects]
    for (row, j), shared in zip(pairs, words, strict=True):
        project, target = projects[row], targets.items[j]
        parts = {"text": float(text[row, j]), "funded": float(funded[row, j]), "themes": float(themes[row, j]),
                 "amount": float(amount[row, j]), "deadline": float(deadline[0, j])}
        results[row].append(Scored(target, int(scores[row, j]),
                                   explain(targets, project, target, parts, targets.written(j, shared), on,
                                           model is not None), parts))
    return results


def _best(values: np.ndarray, top: int) -> list[np.ndarray]:
    """Per row, the indices of the ``top`` largest values, largest first, ties in index order (what
    a stable sort of each row gives, without sorting 6 000 targets for 15)."""
    n = values.shape[1]
    if top >= n:
        kth = np.full(len(values), -np.inf)
    else:
        kth = np.partition(values, n - top, axis=1)[:, n - top]
    out = []
    for row, threshold in zip(values, kth, strict=True):
        candidates = np.flatnonzero(row >= threshold)
        out.append(candidates[np.argsort(-row[candidates], kind="stable")][:top])
    return out


def measure_key(title: str) -> str:
    """How a programme's title meets the measure of the funded-projects data: folded, without the
    fund's name before a dash ("Fonds vert — Recyclage des friches" is the measure "Recyclage des friches")."""
    for dash in (" — ", " – ", " - "):
        if dash in title:
            title = title.split(dash, 1)[1]
            break
    return " ".join(fold(title).split())


def model_knows(model, targets: Targets) -> np.ndarray:
    """Per target: whether the funded-projects model learnt its programme."""
    return _measure_columns(model, targets) >= 0


def _measure_columns(model, targets: Targets) -> np.ndarray:
    """Per target: the model's column of the measure its programme is, −1 if none."""
    if model is None:
        return np.full(len(targets), -1, dtype=np.int64)
    labels = {measure_key(label): i for i, label in enumerate(model.labels)}
    return np.array([labels.get(key, -1) for key in targets.measure_keys], dtype=np.int64)


def funded_probabilities(model, projects: Sequence[ProjectRow], targets: Targets, text: np.ndarray,
                         masks: np.ndarray) -> np.ndarray:
    """projects × targets: how likely the target's programme is the one that funds the project,
    among the measures the model learnt and the project may use (``masks``): the model's
    probability of the measure, times exp(TEXT_EVIDENCE × text), renormalised over those measures
    (a measure's best target counting once). 0 for programmes the reference does not know and
    for targets outside the mask."""
    columns = _measure_columns(model, targets)
    out = np.zeros((len(projects), len(targets)), dtype=np.float64)
    known = np.flatnonzero(columns >= 0)
    if not len(known):
        return out
    probabilities = model.proba_many([(p.title, p.commune_insee, p.cost_ht_cents, p.beneficiary, p.siren or None)
                                     for p in projects])
    cols = columns[known]
    usable = masks[:, known]
    with np.errstate(divide="ignore"):
        logits = np.where(usable, np.log(probabilities[:, cols]) + TEXT_EVIDENCE * text[:, known], -np.inf)
    best = np.full((len(projects), len(model.labels)), -np.inf)
    for c in np.unique(cols):
        best[:, c] = logits[:, cols == c].max(axis=1)
    norm = logsumexp(best, axis=1, keepdims=True)  # −inf for a project that may use none of them
    with np.errstate(invalid="ignore"):
        out[:, known] = np.where(usable, np.exp(logits - norm), 0.0)
    return out


def _shared_words(targets: Targets, project_matrix, pairs: Sequence[tuple[int, int]], limit: int = 3
                  ) -> list[list[str]]:
    """For each (project row, target) pair, the stems that weigh most in both texts, heaviest
    first (ties in vocabulary order): one element-wise product for all the pairs of a chunk."""
    if not pairs:
        return []
    rows = np.fromiter((r for r, _ in pairs), dtype=np.int64, count=len(pairs))
    columns = np.fromiter((j for _, j in pairs), dtype=np.int64, count=len(pairs))
    both = project_matrix[rows].multiply(targets.matrix[columns]).tocsr()
    both.eliminate_zeros()
    both.sort_indices()
    pair_of = np.repeat(np.arange(len(pairs)), np.diff(both.indptr))
    order = np.lexsort((both.indices, -both.data, pair_of))
    rank = np.arange(len(order)) - both.indptr[pair_of[order]]
    out: list[list[str]] = [[] for _ in pairs]
    for k in order[rank < limit]:
        out[pair_of[k]].append(targets.vocabulary[int(both.indices[k])])
    return out


def explain(targets: Targets, project: ProjectRow, target: Target, parts: dict[str, float], words: Sequence[str],
            on: dt.date, with_model: bool) -> str:
    """Why, in a few French phrases (``words``: the shared words, as the target writes them)."""
    phrases = [f"Éligible : {project.eligible.get(target.programme_id) or 'périmètre et bénéficiaires'}"]
    if words:
        phrases.append("mots en commun : " + ", ".join(words))
    counts = targets.funded_counts.get(targets.measure_keys[targets.index[target.key]])
    if counts:
        total = sum(counts.values())
        local = counts.get(project.departement, 0)
        phrase = f"{format_int_fr(total)} projet{'s' if total > 1 else ''} financé{'s' if total > 1 else ''} par ce programme"
        if local:
            phrase += f", dont {format_int_fr(local)} dans le département"
        if with_model and parts["funded"] >= 0.2:
            phrase += f" ; des projets semblables au vôtre l'ont été ({min(99, round(parts['funded'] * 100))} %)"
        phrases.append(phrase)
    shared = [DOMAINS[s] for s in project.themes if s in target.themes and s in DOMAINS]
    if shared:
        phrases.append("thème" + ("s" if len(shared) > 1 else "") + " : " + ", ".join(shared))
    if target.closes_on is not None:
        days = (target.closes_on - on).days
        phrases.append(f"clôture le {date_fr(target.closes_on)} (dans {days} jour{'s' if days > 1 else ''})")
    if target.floor_cents and project.cost_ht_cents and project.cost_ht_cents < target.floor_cents:
        phrases.append("coût du projet sous le plancher du programme")
    if not with_model:
        phrases.append("classement sans modèle des projets financés : éligibilité, texte, thèmes et dates")
    return " · ".join(phrases) + "."


def surface_words(stems: Sequence[str], text: str) -> list[str]:
    """Stems shown as the text writes them ("scolair" → "scolaires"), in lower case."""
    wanted = dict.fromkeys(stems)
    found: dict[str, str] = {}
    for m in _WORD.finditer(text):
        word = m.group()
        for term in terms(word):
            if term in wanted and term not in found:
                found[term] = word.lower()
        if len(found) == len(wanted):
            break
    return [found.get(s, s) for s in stems]
