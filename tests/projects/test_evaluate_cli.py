"""``passerelle matching train --exclude`` and ``matching evaluate``: a model learnt without a file's
projects ranks them through the whole matching and says how often the programme that funded
each came first and in the first three; rows the model learnt from are never scored."""
from __future__ import annotations

import csv
import re
from pathlib import Path

from sqlalchemy import delete

from marketplace.cli import cli as passerelle
from marketplace.demo import seed
from marketplace.projects.models import FundedProject

FONDS_VERT = Path(__file__).resolve().parents[2] / "marketplace" / "funding" / "data" / "fonds-vert-2023-dev.csv"
SUMMARY = re.compile(r"^n=(\d+) top1=(\d\.\d{4}) top3=(\d\.\d{4}) seconds=[\d.]+$")


def sample(tmp_path) -> tuple[Path, Path, int]:
    """A reference of 30 projects per measure (fewer where there are fewer), and 8 more per measure
    held out, each file in the open data's own layout; the held-out rows with a commune."""
    with FONDS_VERT.open(encoding="utf-8") as fh:
        lines = list(csv.reader(fh, delimiter=";"))
    header = lines[0]
    measure, dossier, commune = (header.index(c) for c in ("nom_demarche_ds", "numero_dossier_ds", "code_commune"))
    rows = sorted(lines[1:], key=lambda r: (r[dossier], r[commune]))
    by_measure: dict[str, dict[str, list[list[str]]]] = {}
    for r in rows:
        by_measure.setdefault(r[measure], {}).setdefault(r[dossier], []).append(r)
    reference, held = [], []
    for dossiers in by_measure.values():
        groups = list(dossiers.values())
        cut = max(1, min(30, len(groups) - 8))
        reference += [r for g in groups[:cut] for r in g]
        held += [r for g in groups[cut:cut + 8] for r in g]
    paths = []
    for name, part in (("reference.csv", reference), ("held.csv", held)):
        path = tmp_path / name
        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, delimiter=";").writerows([header, *part])
        paths.append(path)
    return *paths, sum(1 for r in held if r[commune] not in ("", "NULL"))


def test_evaluate_scores_the_held_out_projects_and_never_the_learnt_ones(app, db, tmp_path):
    with app.app_context():
        seed(db)  # the Fonds vert measures as programmes, and the whole reference: replaced by a small one
        db.execute(delete(FundedProject))
        db.commit()
    reference, held, with_commune = sample(tmp_path)
    cli = app.test_cli_runner()
    imported = cli.invoke(passerelle, args=["funded", "import", "--csv", str(reference), "--no-train"])
    assert imported.exit_code == 0, imported.output

    trained = cli.invoke(passerelle, args=["matching", "train", "--exclude", str(held)])
    assert trained.exit_code == 0, trained.output
    assert "14 programmes" in trained.output

    evaluated = cli.invoke(passerelle, args=["matching", "evaluate", "--csv", str(held)])
    assert evaluated.exit_code == 0, evaluated.output
    n, top1, top3 = SUMMARY.match(evaluated.output.strip().splitlines()[-1]).groups()
    assert 0 < int(n) <= with_commune  # communes the registry does not know are said and left out
    assert float(top1) <= float(top3) and float(top3) > 0.5

    learnt = cli.invoke(passerelle, args=["matching", "evaluate", "--csv", str(reference)])
    assert learnt.exit_code == 1
    assert "le modèle a appris sur elles" in learnt.output and "Aucune ligne à évaluer" in learnt.output
