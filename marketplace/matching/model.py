"""Which funding measure does a project belong to? Learnt from the projects that were funded.

The reference is the Fonds vert 2023 open data: each funded project's title, commune, beneficiary,
SIREN, amount and measure (``nom_demarche_ds``, 14 measures). Given a new project (its title, its
commune's INSEE code, optionally its amount and its beneficiary), the model ranks the measures
with probabilities. Pure: no database, no web framework; territory facts come in as a mapping.

What it looks at, and why (figures from ``bench/matching_model.py``, 5-fold cross-validation):

- **the title**, folded (accents, case, ligatures), plurals reduced, and with a concept token for
  each domain family a word belongs to (``led``, ``candélabre`` → lighting): words and word pairs,
  and character n-grams (which absorb typos and word forms);
- **the beneficiary**: its name's character n-grams, and its kind (commune, intercommunalité,
  syndicat, département, État, association or company), read from the SIREN's prefix when known,
  else from the name;
- **the territory**: the département (each prefecture spent its envelope its own way: knowing it
  takes a sixth off the measures' entropy), the commune's population, and the measures'
  territorial eligibility (littoral, mountain, cyclone-exposed overseas régions);
- **the amount**, log-bucketed (brownfield recycling and low-emission zones fund large operations,
  engineering small ones);
- **funded neighbours**: the most similar funded projects of the measure, quoted by the
  explanation (as a vote in the ranking they made it worse: see ``VIEWS``).

Several views of these features (a linear SVM over words, another over raw characters, a naive
Bayes, the eligibility facts) are combined by weights fitted on out-of-fold predictions of the
training rows, so the output is a calibrated probability (it maximises the likelihood of held-out
labels) rather than a raw score.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import joblib
import numpy as np
from scipy import sparse
from scipy.optimize import minimize
from scipy.special import log_softmax, logsumexp, softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.naive_bayes import MultinomialNB
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from marketplace.core.text import fold

# Bump when the features or the file layout change: a model saved by another version is refused.
MODEL_VERSION = 1
# The territory registry shipped with the product (read as a file: no database needed).
TERRITORIES_SNAPSHOT = Path(__file__).resolve().parents[2] / "tenants" / "territories" / "data" / "territoires.json.gz"


# Rows ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FundedProject:
    """One funded project of the reference (a CSV row), or a project to rank (``measure`` unknown)."""
    title: str
    measure: str = ""
    commune_insee: str | None = None
    departement: str | None = None
    amount_cents: int | None = None
    beneficiary: str | None = None
    siren: str | None = None
    # The row's identity in its source (the DS dossier number): how evaluation proves that no
    # test row was trained on, even when two dossiers have the same title.
    reference: str | None = None


# The Fonds vert open data's columns; ``mapping`` overrides any of them (field → column).
FONDS_VERT_COLUMNS = {
    "title": "nom_du_projet",
    "measure": "nom_demarche_ds",
    "commune_insee": "code_commune",
    "departement": "code_departement",
    "amount_cents": "montant_engage",
    "beneficiary": "nom_beneficiaire_principal",
    "siren": "siren",
    "reference": "numero_dossier_ds",
}
_MISSING = {"", "null", "none", "nan", "na", "n/a", "-"}


def read_funded_csv(path_or_file, mapping: Mapping[str, str] | None = None) -> list[FundedProject]:
    """The funded projects of a CSV file (a path, or an open text or binary file).

    ``;``, ``,`` or tab separated (the header says which); UTF-8, with or without BOM, else
    Windows-1252. Rows without a title or a measure are skipped. Raises ValueError (French) when
    a mapped column is missing from the header."""
    columns = {**FONDS_VERT_COLUMNS, **(mapping or {})}
    unknown = set(columns) - set(FONDS_VERT_COLUMNS)
    if unknown:
        raise ValueError(f"champs inconnus dans la correspondance : {', '.join(sorted(unknown))}")
    text = _read_text(path_or_file)
    first = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=first.count)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = set(reader.fieldnames or [])
    for field in ("title", "measure"):
        if columns[field] not in header:
            raise ValueError(f"colonne « {columns[field]} » absente de l'en-tête ({field})")

    def cell(row: dict, field: str) -> str | None:
        value = row.get(columns[field])
        value = value.strip() if isinstance(value, str) else None
        return None if value is None or value.lower() in _MISSING else value

    rows = []
    for row in reader:
        title, measure = cell(row, "title"), cell(row, "measure")
        if not title or not measure:
            continue
        rows.append(FundedProject(
            title=" ".join(title.split()), measure=" ".join(measure.split()),
            commune_insee=normalise_insee(cell(row, "commune_insee")),
            departement=normalise_departement(cell(row, "departement")),
            amount_cents=parse_amount_cents(cell(row, "amount_cents")),
            beneficiary=cell(row, "beneficiary"), siren=normalise_siren(cell(row, "siren")),
            reference=cell(row, "reference")))
    return rows


def _read_text(path_or_file) -> str:
    if isinstance(path_or_file, (str, Path)):
        data = Path(path_or_file).read_bytes()
    else:
        data = path_or_file.read()
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


_AMOUNT_NOISE = re.compile(r"[\s\u00a0\u202f€]|eur(?:os?)?|ht|ttc", re.IGNORECASE)


def parse_amount_cents(text: str | None) -> int | None:
    """'713 361,00 €', '713361.00', '1.000.000,50', '1,000,000.50', '12 000' → cents; None when
    it is not an amount."""
    if text is None:
        return None
    t = _AMOUNT_NOISE.sub("", str(text))
    if not t or not re.fullmatch(r"\d[\d.,']*", t):
        return None
    t = t.replace("'", "")
    if "," in t and "." in t:  # the last one is the decimal separator
        decimal = "," if t.rfind(",") > t.rfind(".") else "."
        t = t.replace("." if decimal == "," else ",", "").replace(decimal, ".")
    elif "," in t or "." in t:
        sep = "," if "," in t else "."
        whole, _, last = t.rpartition(sep)
        # One separator followed by 1-2 digits is a decimal comma; groups of three are thousands.
        if t.count(sep) == 1 and len(last) != 3:
            t = whole + "." + last
        elif all(len(g) == 3 for g in t.split(sep)[1:]):
            t = t.replace(sep, "")
        else:
            return None
    try:
        return int(round(float(t) * 100))
    except ValueError:
        return None


def normalise_insee(code: str | None) -> str | None:
    """'1053' → '01053' (spreadsheets drop the leading zero); '2A004' stays; junk → None."""
    if code is None:
        return None
    code = code.strip().upper()
    if code.lower() in _MISSING:
        return None
    if code.isdigit() and 3 <= len(code) <= 5:
        return code.zfill(5)
    if re.fullmatch(r"2[AB]\d{3}", code):
        return code
    return None


def normalise_departement(code: str | None) -> str | None:
    """'1' → '01', '2a' → '2A', '971' stays; junk → None."""
    if code is None:
        return None
    code = code.strip().upper()
    if code.isdigit() and 1 <= len(code) <= 3:
        return code.zfill(2)
    return code if code in ("2A", "2B") else None


def normalise_siren(siren: str | None) -> str | None:
    if siren is None:
        return None
    digits = re.sub(r"\D", "", siren)
    return digits if len(digits) == 9 else None


# Territories --------------------------------------------------------------------------------

class CommuneFacts(NamedTuple):
    """What the model knows of a commune. The app may build these from its database."""
    population: int
    departement: str
    region: str
    siren: str = ""
    name: str = ""


class Territories:
    """INSEE code → CommuneFacts, with the Paris, Lyon and Marseille arrondissements sent to their
    city (the open data codes them; the registry keeps current communes only)."""

    CITIES_BY_ARRONDISSEMENT = (("751", "75056"), ("6938", "69123"), ("132", "13055"))

    def __init__(self, communes: Mapping[str, Sequence] | None = None):
        self.communes: dict[str, CommuneFacts] = {}
        for insee, facts in (communes or {}).items():
            facts = tuple(facts)
            extra = [str(f or "") for f in facts[3:5]]
            self.communes[insee] = CommuneFacts(int(facts[0] or 0), str(facts[1]), str(facts[2]), *extra)
        self.commune_sirens = {f.siren for f in self.communes.values() if f.siren}

    def __len__(self) -> int:
        return len(self.communes)

    def commune(self, insee: str | None) -> CommuneFacts | None:
        if not insee:
            return None
        facts = self.communes.get(insee)
        if facts is None:
            for prefix, city in self.CITIES_BY_ARRONDISSEMENT:
                if insee.startswith(prefix):
                    return self.communes.get(city)
        return facts


def load_territories(path: Path | str = TERRITORIES_SNAPSHOT) -> Territories:
    """The shipped registry snapshot (the territory module's format), without a database.
    A missing file gives an empty registry: the model then knows only the rows' départements."""
    try:
        payload = json.loads(gzip.decompress(Path(path).read_bytes()))
    except OSError:
        return Territories()
    # communes rows: insee, name, population, postal codes, siren, département, région, EPCI
    return Territories({c[0]: (c[2], c[5], c[6], c[4], c[1]) for c in payload["communes"]})


# Text ---------------------------------------------------------------------------------------

# Domain families: a word of the family adds the family's token to the title, so that rare words
# ("candélabre", "lanterne") meet the measure their family points to. Folded forms, singular.
CONCEPTS = {
    "eclairage": "eclairage luminaire lampadaire candelabre lanterne lumineux led sodium illumination lampe "
                 "eclairer projecteur crosse",
    "energie": "energetique thermique isolation isoler chauffage chaudiere menuiserie photovoltaique geothermie "
               "ventilation vmc bbc energivore calorifugeage decret tertiaire dpe audit",
    "batiment": "mairie ecole salle gymnase scolaire batiment eglise bibliotheque mediatheque creche college "
                "polyvalente fete vestiaire presbytere cantine restaurant local piscine",
    "incendie": "incendie deci poteau bouche citerne bache pei dfci feu pompier sdis debroussaillement foret "
                "forestier forestiere",
    "renaturation": "renaturation desimpermeabilisation vegetalisation vegetaliser plantation arbre verger oasis "
                    "cour jardin square paysager fraicheur ilot desartificialisation",
    "friche": "friche demolition deconstruction depollution recyclage foncier fonciere reconversion "
              "requalification desaffecte",
    "inondation": "inondation papi gemapi digue crue submersion ruissellement endiguement hydraulique "
                  "erosion",
    "biodechet": "biodechet compost composteur compostage dechet tri",
    "covoiturage": "covoiturage covoitureur autopartage rezo pouce klaxit blablacar",
    "mobilite": "zfe velo cyclable piste mobilite pietonnisation stationnement multimodal emission",
    "etude": "etude diagnostic strategie schema mission charge chargee poste animation amo assistance "
             "elaboration programmation observatoire faisabilite recrutement ingenierie",
    "montagne": "glacier glaciaire proglaciaire eboulement bloc avalanche torrent torrentiel lave glissement "
                "merlon purge paravalanche",
    "littoral": "littoral littorale cote cotier cotiere trait recul dune plage relocalisation",
    "biodiversite": "biodiversite espece habitat faune flore humide naturel natura mare haie bocage "
                    "pollinisateur oiseau chiroptere amphibien continuite ecologique atlas abc",
    "cyclone": "cyclone cyclonique ouragan paracyclonique",
}
_CONCEPT_OF: dict[str, list[str]] = {}
for _concept, _words in CONCEPTS.items():
    for _word in _words.split():
        _CONCEPT_OF.setdefault(_word, []).append(_concept)


def singular(word: str) -> str:
    """A light French plural folding: 'luminaires' → 'luminaire', 'communaux' → 'communal'."""
    if len(word) > 4 and word.endswith("aux"):
        return word[:-3] + "al"
    if len(word) > 3 and word[-1] in "sx" and not word.endswith("ss"):
        return word[:-1]
    return word


# Words of a place or body name that say nothing of it ("Saint-Martin-sur-Lot", "CC du Val").
_NAME_FILLERS = frozenset("a au aux d de des du en et l la le les lez sous st ste saint sainte sur".split())
# Words an explanation does not show as the reason for a measure.
_SHOWN_FILLERS = _NAME_FILLERS | frozenset("avec dans pour par un une ou son sa ses leur".split())


def without_names(folded_title: str, *names: str | None) -> str:
    """The folded title without the words of the commune's and the beneficiary's names: place
    names tell nothing of the measure and only add noise (measured: about +0.1 point of top-1 and
    of top-3 in cross-validation). Domain words stay (the SIEA's lighting project keeps
    "éclairage" although the body is a "syndicat d'éclairage"); a title made only of names stays
    whole."""
    drop = {w for name in names if name for w in fold(name).split()} - _NAME_FILLERS
    if not drop:
        return folded_title
    kept = [w for w in folded_title.split() if w not in drop or singular(w) in _CONCEPT_OF]
    return " ".join(kept) if kept else folded_title


def title_terms(text: str, *names: str | None) -> str:
    """The title as the word views read it: folded, names removed, singular, with its domain
    families appended."""
    words = [singular(w) for w in without_names(fold(text or ""), *names).split()]
    concepts = sorted({c for w in words for c in _CONCEPT_OF.get(w, ())})
    return " ".join(words + ["__" + c for c in concepts])


# Context: who, where, how much ----------------------------------------------------------------

# SIREN prefixes of public bodies (INSEE legal categories 7xxx give the first digits of their SIREN).
_SIREN_KINDS = (("21", "commune"), ("22", "departement"), ("23", "region"), ("24", "epci"), ("25", "syndicat"),
                ("20", "epci"), ("28", "etablissement_public"), ("26", "etablissement_public"), ("1", "etat"))
_NAME_KINDS = (
    (r"\b(sdis|cias|ccas|ehpad)\b", "etablissement_public"),
    (r"\b(cnpf|cerema|gip|museum|office francais|parc national|delegation de rivage|conservatoire du littoral|"
     r"agence de l eau|onf|universite)\b", "etat"),
    (r"\b(syndicat|syndmc|synd|asymix|sivom|sivos|sivu|sictom|smictom|smirtom|sm|smi\w*|si|siea|sieds|syded|sde\d*|"
     r"territoire d?energie|gemapi|parc naturel regional|etablissement public territorial de bassin|eptb)\b",
     "syndicat"),
    (r"^(cc|ca|cu|cte|com com|comm? d?agglo|communaute|met|metropole|pole metropolitain|petr|pays|grand paris|"
     r"grand \w+ agglo)\b|\bmetropole$", "epci"),
    (r"^(dep|departement|conseil departemental|cd|province|collectivite|conseil general)\b", "departement"),
    (r"^(reg|region|conseil regional)\b", "region"),
    (r"\b(association|asso|conservatoire|ligue|federation|lpo|cen|cpie|fondation|amis|nature|environnement)\b",
     "association"),
    (r"\b(epf|epfl|foncier|fonciere|sem|spl|hlm|habitat|amenagement|logement|immobilier|soc|societe|sa|sas|sarl|"
     r"sci|seda|alogea|domofrance)\b", "amenageur"),
    (r"\b(commune|ville|mairie)\b", "commune"),
)
_PRIVATE_KINDS = ("association", "amenageur")


def beneficiary_kind(beneficiary: str | None, siren: str | None, territories: Territories,
                     commune_insee: str | None) -> str:
    """What sort of body carries the project: from its SIREN when known (a syndicat mixte may hold
    an intercommunal SIREN: its name says so), else from its name; a name that is the commune's is
    the commune."""
    name = fold(beneficiary or "")
    named = next((kind for pattern, kind in _NAME_KINDS if re.search(pattern, name)), None)
    if siren:
        if siren in territories.commune_sirens:
            return "commune"
        for prefix, kind in _SIREN_KINDS:
            if siren.startswith(prefix):
                return "syndicat" if kind == "epci" and named == "syndicat" else kind
        # Private bodies: associations and developers share SIREN ranges; the name tells them apart.
        return named if named in _PRIVATE_KINDS else "prive"
    if named:
        return named
    if not name:
        return "commune" if commune_insee else "inconnu"
    commune = territories.commune(commune_insee)
    if commune is None or not commune.name:
        return "commune"
    # "MOULE (LE)" is Le Moule: the commune's words, in any order.
    words = set(fold(commune.name).split()) - _NAME_FILLERS
    return "commune" if words <= set(name.split()) else "prive"


def _bucket(value: float | None, per_decade: int) -> str:
    return "none" if not value or value <= 0 else str(int(math.log10(value) * per_decade))


# Territorial eligibility of the measures whose texts restrict them (2023 edition). Coarse on
# purpose (départements, not the decree's commune lists, which the registry does not hold): the
# model learns how much to trust it, and a project outside is pushed down, never forbidden.
COASTAL_DEPARTEMENTS = frozenset(
    "06 11 13 14 17 22 27 29 2A 2B 30 33 34 35 40 44 50 56 59 62 64 66 76 80 83 85 "
    "971 972 973 974 975 976 977 978 984 986 987 988".split())
# Départements with communes in a mountain zone (loi Montagne of 1985, its massifs), and overseas.
MOUNTAIN_DEPARTEMENTS = frozenset(
    "01 03 04 05 06 07 09 11 12 15 19 23 25 26 30 31 34 38 39 42 43 46 48 63 64 65 66 67 68 69 70 73 74 81 "
    "83 84 87 88 90 2A 2B 971 972 973 974 976".split())
# Overseas départements exposed to cyclones (the demo's programme scope: régions 01, 02, 04, 06).
CYCLONE_DEPARTEMENTS = frozenset("971 972 974 976 977 978 987 988".split())
TERRITORIAL_MEASURES = (
    ("littoraux", COASTAL_DEPARTEMENTS),
    ("montagne", MOUNTAIN_DEPARTEMENTS),
    ("cyclonique", CYCLONE_DEPARTEMENTS),
)


@dataclass(frozen=True)
class _Context:
    departement: str | None
    kind: str
    tokens: str


def _context(project: FundedProject, territories: Territories) -> _Context:
    commune = territories.commune(project.commune_insee)
    departement = commune.departement if commune else project.departement
    kind = beneficiary_kind(project.beneficiary, project.siren, territories, project.commune_insee)
    amount = project.amount_cents / 100 if project.amount_cents else None
    tokens = [f"d_{departement or 'none'}", f"k_{kind}", f"a_{_bucket(amount, 3)}",
              f"p_{_bucket(commune.population + 1 if commune else None, 2)}"]
    return _Context(departement, kind, " ".join(tokens))


# The model ------------------------------------------------------------------------------------

def _vectorizers() -> dict[str, TfidfVectorizer]:
    return {
        "words": TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+", dtype=np.float32),
        "chars": TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True,
                                 dtype=np.float32),
        "raw": TfidfVectorizer(analyzer="char", ngram_range=(1, 6), min_df=2, sublinear_tf=True, dtype=np.float32),
        "beneficiary": TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True,
                                       dtype=np.float32),
        "context": TfidfVectorizer(token_pattern=r"\S+", lowercase=False, use_idf=False, norm=None, binary=True,
                                   dtype=np.float32),
    }


# Relative weights of the blocks in the SVM views (chosen by cross-validation: bench/matching_model.py).
BENEFICIARY_WEIGHT = 0.5
CONTEXT_WEIGHT = 0.5
SVM_C = 0.5
NB_ALPHA = 0.1
NEIGHBOURS = 10
INNER_FOLDS = 4
# The views combined by default. "neighbours" (the measures of the ten most similar funded titles)
# is available but left out: as a view it cost 0.2 to 0.3 point of top-1 in cross-validation (two
# seeds), the SVMs already weighing those titles; it still finds the examples of an explanation.
VIEWS = ("svm_words", "svm_chars", "bayes", "eligibility")
ALL_VIEWS = VIEWS + ("neighbours",)


@dataclass
class _Docs:
    """The texts of a batch of projects, as the vectorizers read them."""
    words: list[str]
    raw: list[str]
    beneficiary: list[str]
    context: list[str]
    departements: list[str | None]


def _docs(projects: Sequence[FundedProject], territories: Territories) -> _Docs:
    contexts = [_context(p, territories) for p in projects]
    names = [(p.beneficiary, (territories.commune(p.commune_insee) or CommuneFacts(0, "", "")).name)
             for p in projects]
    return _Docs(
        words=[title_terms(p.title, *n) for p, n in zip(projects, names)],
        raw=[without_names(fold(p.title or ""), *n) for p, n in zip(projects, names)],
        beneficiary=[fold(p.beneficiary or "") for p in projects],
        context=[c.tokens for c in contexts],
        departements=[c.departement for c in contexts],
    )


def _transform(vectorizer: TfidfVectorizer | None, texts: list[str]):
    """``vectorizer.transform`` for the few texts of a ranking, computed as sklearn does (counts,
    binary or sublinear tf, idf, l2 norm) without its per-call checks; batches go to sklearn."""
    if vectorizer is None:
        return sparse.csr_matrix((len(texts), 1), dtype=np.float32)
    if len(texts) > 8:
        return vectorizer.transform(texts)
    analyse = vectorizer.build_analyzer()
    vocabulary = vectorizer.vocabulary_
    idf = vectorizer.idf_ if vectorizer.use_idf else None
    indptr, indices, data = [0], [], []
    for text in texts:
        counts: dict[int, int] = {}
        for term in analyse(text):
            j = vocabulary.get(term)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        cols = np.fromiter(counts, dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if vectorizer.binary:
            tf[:] = 1
        elif vectorizer.sublinear_tf:
            tf = 1 + np.log(tf)
        if idf is not None:
            tf = tf * idf[cols]
        if vectorizer.norm == "l2" and len(tf):
            tf = tf / np.sqrt((tf * tf).sum())
        order = np.argsort(cols)
        indices.append(cols[order])
        data.append(tf[order])
        indptr.append(indptr[-1] + len(cols))
    return sparse.csr_matrix((np.concatenate(data).astype(vectorizer.dtype) if data else [],
                              np.concatenate(indices) if indices else [], indptr),
                             shape=(len(texts), len(vocabulary)))


class _Views:
    """The base learners, fitted on one set of rows; ``scores`` gives each view's n × K scores."""

    def __init__(self, docs: _Docs, y: np.ndarray, n_labels: int, eligibility: np.ndarray):
        self.n_labels = n_labels
        self.eligibility = eligibility  # K × (coastal, mountain, cyclone): which facts a measure needs
        self.vec = {}
        sources = {"words": docs.words, "chars": docs.words, "raw": docs.raw, "beneficiary": docs.beneficiary,
                   "context": docs.context}
        for name, vectorizer in _vectorizers().items():
            try:
                vectorizer.fit(sources[name])
            except ValueError:  # nothing to learn there (no beneficiary names in the reference, say)
                self.vec[name] = None
                continue
            # The terms pruned by min_df: only kept for introspection, and large.
            if hasattr(vectorizer, "stop_words_"):
                del vectorizer.stop_words_
            self.vec[name] = vectorizer
        m = self._matrices(docs)
        self.classes = np.unique(y)
        self.svm_words = LinearSVC(C=SVM_C, random_state=0).fit(m["svm_words"], y)
        self.svm_chars = LinearSVC(C=SVM_C, random_state=0).fit(m["svm_chars"], y)
        self.bayes = MultinomialNB(alpha=NB_ALPHA).fit(m["bayes"], y)
        # Stored transposed (terms × rows, CSR): a query's similarities are one sparse product.
        self.title_matrix_t = m["title"].T.tocsr()
        self.y = y

    def _matrices(self, docs: _Docs) -> dict:
        words = _transform(self.vec["words"], docs.words)
        chars = _transform(self.vec["chars"], docs.words)
        raw = _transform(self.vec["raw"], docs.raw)
        beneficiary = _transform(self.vec["beneficiary"], docs.beneficiary) * BENEFICIARY_WEIGHT
        context = _transform(self.vec["context"], docs.context)
        binary_words = words.copy()
        binary_words.data[:] = 1
        return {
            "svm_words": sparse.hstack([words, chars, beneficiary, context * CONTEXT_WEIGHT], format="csr"),
            "svm_chars": sparse.hstack([raw, beneficiary, context * CONTEXT_WEIGHT], format="csr"),
            "bayes": sparse.hstack([binary_words, context], format="csr"),
            "title": normalize(sparse.hstack([words, chars], format="csr")),
        }

    def _full(self, scores: np.ndarray, fill: float) -> np.ndarray:
        """Scores over every label, when this set of rows lacked some (rare measures, small folds)."""
        if len(self.classes) == self.n_labels:
            return scores
        out = np.full((scores.shape[0], self.n_labels), fill, dtype=np.float64)
        out[:, self.classes] = scores
        return out

    def scores(self, docs: _Docs, views: Sequence[str] = VIEWS) -> dict[str, np.ndarray]:
        m = self._matrices(docs)
        # The estimators' own formulas, without their input checks (a third of a single ranking's time).
        svm_words = np.asarray(m["svm_words"] @ self.svm_words.coef_.T) + self.svm_words.intercept_
        svm_chars = np.asarray(m["svm_chars"] @ self.svm_chars.coef_.T) + self.svm_chars.intercept_
        joint = np.asarray(m["bayes"] @ self.bayes.feature_log_prob_.T) + self.bayes.class_log_prior_
        bayes = joint - logsumexp(joint, axis=1, keepdims=True)
        if svm_words.shape[1] == 1:  # two labels only
            svm_words, svm_chars = (np.column_stack([-s[:, 0], s[:, 0]]) for s in (svm_words, svm_chars))
        out = {
            "svm_words": self._full(svm_words, -2.0),
            "svm_chars": self._full(svm_chars, -2.0),
            "bayes": self._full(bayes, -30.0),
            "eligibility": self._eligibility(docs.departements),
        }
        if "neighbours" in views:
            out["neighbours"] = self._neighbours(m["title"])[0]
        return out

    def neighbours(self, title_vector, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
        """Indices and cosines of the k most similar training titles, most similar first."""
        sims = (title_vector @ self.title_matrix_t).toarray()
        k = min(k, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        return top, np.take_along_axis(sims, top, axis=1)

    def _neighbours(self, title_vectors) -> tuple[np.ndarray, np.ndarray]:
        top, sims = self.neighbours(title_vectors)
        votes = np.zeros((top.shape[0], self.n_labels))
        rows = np.repeat(np.arange(top.shape[0]), top.shape[1])
        # Cubed cosines: a near-duplicate title counts far more than a loosely similar one.
        np.add.at(votes, (rows, self.y[top].ravel()), np.clip(sims, 0, None).ravel() ** 3)
        share = votes / np.maximum(votes.sum(axis=1, keepdims=True), 1e-9)
        return np.log(share + 0.01), top

    def _eligibility(self, departements: Sequence[str | None]) -> np.ndarray:
        facts = np.array([[d in group for _, group in TERRITORIAL_MEASURES] for d in departements], dtype=bool)
        # -1 for a measure whose territory the project's département is not in.
        needs = self.eligibility  # K × facts
        missing = needs[None, :, :] & ~facts[:, None, :]
        return -missing.any(axis=2).astype(np.float64)


def _fit_combination(view_scores: list[np.ndarray], y: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights of the views (≥ 0) and a bias per label maximising the likelihood of the labels:
    the ensemble and its calibration in one small convex problem."""
    n_views = len(view_scores)
    rows = np.arange(len(y))

    def loss(params):
        a, b = params[:n_views], params[n_views:]
        z = sum(a[m] * view_scores[m] for m in range(n_views)) + b
        logp = log_softmax(z, axis=1)
        grad = np.exp(logp)
        grad[rows, y] -= 1
        grad /= len(y)
        value = -logp[rows, y].mean() + 1e-3 * (b @ b)
        ga = np.array([(grad * view_scores[m]).sum() for m in range(n_views)])
        return value, np.concatenate([ga, grad.sum(axis=0) + 2e-3 * b])

    start = np.concatenate([np.ones(n_views), np.zeros(n_labels)])
    bounds = [(0, None)] * n_views + [(None, None)] * n_labels
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return result.x[:n_views], result.x[n_views:]


def _stratified_folds(y: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """A fold number per row, each label spread evenly over the folds (seeded)."""
    rng = np.random.default_rng(seed)
    folds = np.empty(len(y), dtype=np.int64)
    offset = 0
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        folds[idx] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)
    return folds


def training_fingerprint(rows: Iterable[FundedProject]) -> str:
    """A hash of the training rows (order-free): says which data a saved model learnt from."""
    lines = sorted(json.dumps([r.title, r.measure, r.commune_insee, r.departement, r.amount_cents, r.beneficiary,
                               r.siren, r.reference], ensure_ascii=False) for r in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


class Model:
    """A trained ranker. ``labels`` are the measures, in the order of ``proba_many``'s columns."""

    def __init__(self, labels: list[str], views: _Views, weights: np.ndarray, bias: np.ndarray,
                 territories: Territories, reference: list[FundedProject], fingerprint: str, seconds: float,
                 views_used: tuple[str, ...] = VIEWS):
        self.version = MODEL_VERSION
        self.labels = labels
        self.views = views
        self.weights = weights
        self.bias = bias
        self.territories = territories
        self.reference = reference  # the training rows, for the explanations
        self.fingerprint = fingerprint
        self.training_seconds = seconds
        self.views_used = views_used

    # Ranking

    def _logits(self, projects: Sequence[FundedProject]) -> np.ndarray:
        scores = self.views.scores(_docs(projects, self.territories), self.views_used)
        return sum(w * scores[v] for w, v in zip(self.weights, self.views_used)) + self.bias

    def proba_many(self, projects: Sequence) -> np.ndarray:
        """n × len(labels) probabilities; each project a FundedProject or a tuple
        (title, commune_insee, amount_cents, beneficiary[, siren[, departement]])."""
        if not len(projects):
            return np.zeros((0, len(self.labels)))
        return softmax(self._logits([_as_project(p) for p in projects]), axis=1)

    def rank(self, title: str, commune_insee: str | None, amount_cents: int | None = None,
             beneficiary: str | None = None, *, siren: str | None = None,
             departement: str | None = None) -> list[tuple[str, float]]:
        """Every measure with its probability, most likely first."""
        p = self.proba_many([(title, commune_insee, amount_cents, beneficiary, siren, departement)])[0]
        order = np.argsort(-p, kind="stable")
        return [(self.labels[i], float(p[i])) for i in order]

    # Explanation

    def explain(self, title: str, commune_insee: str | None, amount_cents: int | None = None,
                beneficiary: str | None = None, *, siren: str | None = None, departement: str | None = None,
                label: str | None = None, limit: int = 3) -> str:
        """Why this measure (the top one unless ``label`` is given), in French: the similar funded
        projects of that measure, the title's words that point to it, the département's record."""
        project = _as_project((title, commune_insee, amount_cents, beneficiary, siren, departement))
        probabilities = self.proba_many([project])[0]
        k = int(np.argmax(probabilities)) if label is None else self.labels.index(label)
        docs = _docs([project], self.territories)
        m = self.views._matrices(docs)
        parts = [f"« {self.labels[k]} » ({_percent(probabilities[k])})"]

        top, sims = self.views.neighbours(m["title"], k=50)
        similar = [i for i, s in zip(top[0], sims[0]) if self.views.y[i] == k and s > 0.2][:limit]
        if similar:
            parts.append("projets similaires financés : " + " ; ".join(
                f"« {self.reference[i].title} »" + (f" ({self.reference[i].beneficiary})"
                                                   if self.reference[i].beneficiary else "") for i in similar))
        words = self._words_for(title, m, k, limit)
        if words:
            parts.append("mots proches : " + ", ".join(words))
        dep = docs.departements[0]
        if dep:
            same = sum(1 for r, y in zip(self._reference_departements, self.views.y) if r == dep and y == k)
            if same:
                parts.append(f"{same} projet{'s' if same > 1 else ''} de cette mesure financé{'s' if same > 1 else ''} "
                             f"dans le département {dep}")
        return " ; ".join(parts) + "."

    @property
    def _reference_departements(self) -> list[str | None]:
        cached = getattr(self, "_deps", None)
        if cached is None:
            cached = self._deps = _docs(self.reference, self.territories).departements
        return cached

    def _words_for(self, title: str, m: dict, k: int, limit: int) -> list[str]:
        """The title's words whose weight in the word view pushes most towards label k, as written."""
        svm = self.views.svm_words
        where = np.flatnonzero(svm.classes_ == k)
        if not len(where):
            return []
        n_words = len(self.views.vec["words"].vocabulary_)
        row = m["svm_words"][0]
        idx, val = row.indices[row.indices < n_words], row.data[row.indices < n_words]
        coef = svm.coef_[where[0]] if svm.coef_.shape[0] > 1 else svm.coef_[0]
        contribution = val * coef[idx]
        names = self._word_names()
        wanted = [names[idx[j]] for j in np.argsort(-contribution) if contribution[j] > 0 and len(names[idx[j]]) > 1]
        written = {}
        for w in re.findall(r"\w+", title):
            written.setdefault(singular(fold(w)), w.lower())
        out = []
        for term in wanted:
            for part in term.split():
                shown = written.get(part) if part not in _SHOWN_FILLERS else None
                if shown and shown not in out:
                    out.append(shown)
            if len(out) >= limit:
                break
        return out[:limit]

    def _word_names(self) -> list[str]:
        cached = getattr(self, "_names", None)
        if cached is None:
            vocabulary = self.views.vec["words"].vocabulary_
            cached = [""] * len(vocabulary)
            for term, j in vocabulary.items():
                cached[j] = term
            self._names = cached
        return cached

    # Persistence

    def save(self, path: Path | str) -> None:
        joblib.dump({"version": MODEL_VERSION, "fingerprint": self.fingerprint, "model": self}, path, compress=3)


def load(path: Path | str) -> Model:
    """A saved model; ValueError (French) if the file is not one or comes from another version."""
    payload = joblib.load(path)
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), Model):
        raise ValueError("ce fichier n'est pas un modèle de projets financés")
    if payload.get("version") != MODEL_VERSION:
        raise ValueError(f"modèle de version {payload.get('version')} : réentraînez-le (version attendue "
                         f"{MODEL_VERSION})")
    return payload["model"]


def _percent(p: float) -> str:
    if p >= 0.995:
        return "plus de 99\u202f%"
    return f"{round(p * 100)}\u202f%" if p >= 0.01 else "moins de 1\u202f%"


def _as_project(p) -> FundedProject:
    if isinstance(p, FundedProject):
        return p
    title, commune, amount, beneficiary, *rest = tuple(p) + (None,) * max(0, 4 - len(tuple(p)))
    siren = rest[0] if rest else None
    departement = rest[1] if len(rest) > 1 else None
    return FundedProject(title=title or "", commune_insee=normalise_insee(commune),
                         departement=normalise_departement(departement),
                         amount_cents=int(amount) if amount else None, beneficiary=beneficiary,
                         siren=normalise_siren(siren))


# Training and evaluation ----------------------------------------------------------------------

def _eligibility_needs(labels: Sequence[str]) -> np.ndarray:
    return np.array([[word in fold(label) for word, _ in TERRITORIAL_MEASURES] for label in labels], dtype=bool)


def train(rows: Sequence[FundedProject], territories: Territories | Mapping | None = None, *,
          views: Sequence[str] = VIEWS, inner_folds: int = INNER_FOLDS) -> Model:
    """Learn from funded projects. ``territories``: a Territories, or a mapping INSEE →
    (population, département, région[, SIREN]); by default the shipped registry snapshot."""
    started = time.perf_counter()
    rows = [r for r in rows if r.title and r.measure]
    if not rows:
        raise ValueError("aucun projet financé pour apprendre")
    if territories is None:
        territories = load_territories()
    elif not isinstance(territories, Territories):
        territories = Territories(territories)
    labels = sorted({r.measure for r in rows})
    if len(labels) < 2:
        raise ValueError("il faut des projets financés par deux mesures au moins pour apprendre à choisir")
    index = {label: i for i, label in enumerate(labels)}
    y = np.array([index[r.measure] for r in rows])
    needs = _eligibility_needs(labels)
    docs = _docs(rows, territories)
    views = tuple(views)
    if not views or set(views) - set(ALL_VIEWS):
        raise ValueError(f"vues inconnues : {', '.join(sorted(set(views) - set(ALL_VIEWS))) or 'aucune vue'}")

    # Out-of-fold scores of every view, to fit the combination on predictions for unseen rows.
    if len(views) > 1 and len(rows) >= 4 * inner_folds:
        folds = _stratified_folds(y, inner_folds)
        oof = {v: np.zeros((len(rows), len(labels))) for v in views}
        for f in range(inner_folds):
            fit, held = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
            fitted = _Views(_subset(docs, fit), y[fit], len(labels), needs)
            for v, s in fitted.scores(_subset(docs, held), views).items():
                if v in oof:
                    oof[v][held] = s
        weights, bias = _fit_combination([oof[v] for v in views], y, len(labels))
    else:
        weights, bias = np.ones(len(views)), np.zeros(len(labels))
    final = _Views(docs, y, len(labels), needs)
    return Model(labels, final, weights, bias, territories, list(rows), training_fingerprint(rows),
                 time.perf_counter() - started, views)


def _subset(docs: _Docs, idx: np.ndarray) -> _Docs:
    return _Docs(*([getattr(docs, f)[i] for i in idx] for f in ("words", "raw", "beneficiary", "context",
                                                               "departements")))


def _row_key(row: FundedProject):
    return ("ref", row.reference) if row.reference else ("row", id(row))


def evaluate(train_rows: Sequence[FundedProject], test_rows: Sequence[FundedProject],
             territories: Territories | Mapping | None = None, **train_options) -> dict:
    """Train on ``train_rows``, rank ``test_rows``: top-1 and top-3 accuracy, seconds (training
    and ranking). A test row that is also a training row (same reference, or the same object)
    is refused: scores on training rows say nothing of new projects."""
    keys = {_row_key(r) for r in train_rows}
    overlap = [r for r in test_rows if _row_key(r) in keys]
    if overlap:
        raise ValueError(f"{len(overlap)} ligne(s) de test figurent aussi dans l'entraînement")
    started = time.perf_counter()
    model = train(train_rows, territories, **train_options)
    known = [r for r in test_rows if r.measure]
    if not known:
        return {"n": 0, "top1": 0.0, "top3": 0.0, "seconds": round(time.perf_counter() - started, 2)}
    probabilities = model.proba_many(known)
    index = {label: i for i, label in enumerate(model.labels)}
    truth = np.array([index.get(r.measure, -1) for r in known])
    order = np.argsort(-probabilities, axis=1, kind="stable")
    return {
        "n": len(known),
        "top1": float(np.mean(order[:, 0] == truth)),
        "top3": float(np.mean((order[:, :3] == truth[:, None]).any(axis=1))),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _dossier_folds(rows: Sequence[FundedProject], k: int, seed: int) -> np.ndarray:
    """A fold per row, stratified by measure, the rows of one dossier (one reference: a project
    shared by several communes) always together, so that no project is on both sides."""
    groups: dict[object, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(_row_key(r), []).append(i)
    keys = list(groups)
    labels = np.array([rows[groups[g][0]].measure for g in keys])
    group_folds = _stratified_folds(labels, k, seed)
    folds = np.empty(len(rows), dtype=np.int64)
    for g, f in zip(keys, group_folds):
        folds[groups[g]] = f
    return folds


def stratified_split(rows: Sequence[FundedProject], test_share: float = 0.2, seed: int = 0
                     ) -> tuple[list[FundedProject], list[FundedProject]]:
    """A seeded split (one fold of round(1 / test_share)), stratified by measure, dossiers kept whole."""
    folds = _dossier_folds(rows, max(2, round(1 / test_share)), seed)
    return [r for r, f in zip(rows, folds) if f != 0], [r for r, f in zip(rows, folds) if f == 0]


def cross_validation_folds(rows: Sequence[FundedProject], k: int = 5, seed: int = 0
                           ) -> list[tuple[list[FundedProject], list[FundedProject]]]:
    """k (train, test) pairs, stratified by measure, dossiers kept whole, each row tested once."""
    folds = _dossier_folds(rows, k, seed)
    return [([r for r, f in zip(rows, folds) if f != i], [r for r, f in zip(rows, folds) if f == i]) for i in range(k)]
