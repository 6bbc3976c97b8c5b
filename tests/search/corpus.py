"""A small corpus of solution documents, and an index built from it, for the search tests."""
from __future__ import annotations

import datetime as dt

from whoosh import index as whoosh_index

from search import index as idx
from search import vocabulary
from search.schema import to_fields

BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def doc(n, title, summary="", body="", **kw):
    d = {"id": f"solution:{n}", "type": "solution", "object_id": n, "title": title, "summary": summary, "body": body,
         "domains": ["eclairage-public"], "hosting": "france", "price_model": "par-unite", "sizes": ["2000-20000"],
         "deployed_sizes": [], "verified": False, "verified_count": 0, "deployments": 0,
         "published_at": BASE + dt.timedelta(days=n), "owner": "Startup", "url": f"/solutions/{n}"}
    d.update(kw)
    return d


CORPUS = [
    doc(1, "Lumio", "Éclairage public intelligent et télégestion des lampadaires",
        "Réduit la consommation d'électricité des points lumineux de 60 %.", verified=True, verified_count=2,
        deployments=5, deployed_sizes=["20000-100000"]),
    doc(2, "Veilleur", "Vidéosurveillance des espaces publics", "Caméras et centre de supervision.",
        domains=["securite-risques"], hosting="ue", deployments=2),
    doc(3, "Agora", "Budget participatif en ligne", "Les habitants proposent et votent leurs projets.",
        domains=["participation-citoyenne"], price_model="forfait", deployments=9, verified=True, verified_count=1,
        deployed_sizes=["2000-20000"]),
    doc(4, "Nuit claire", "Abaissement nocturne de l'éclairage", "Un lampadaire qui s'adapte à la présence.",
        hosting="hors-ue", deployed_sizes=["20000-100000"], deployments=1),
    doc(5, "<script>alert(1)</script>", "Titre <b>piégé</b> pour l'éclairage", "Test d'échappement."),
]


def build(root, docs):
    path = idx.create_empty(root)
    ix = whoosh_index.open_dir(str(path))
    words = set()
    with idx.writer_for(ix) as writer:
        for d in docs:
            fields = to_fields(d)
            writer.add_document(**fields)
            words |= vocabulary.raw_words(fields["text"])
    vocabulary.write(path, vocabulary.folded(words))
    idx.make_current(root, path)
