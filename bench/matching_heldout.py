"""Matching quality as the product ranks, on projects it never learnt: k held-out folds of the
funded-projects file, each evaluated by the product's own commands on a fresh instance.

    .venv/bin/python bench/matching_heldout.py [--csv marketplace/funding/data/fonds-vert-2023-dev.csv]
                                               [--folds 5] [--seed 0] [--only-fold K]

An instance is set up in a temporary PASSERELLE_HOME as ``make run`` does (``db upgrade``,
``territories import``, ``demo seed``: the Fonds vert measures as programmes, the reference
imported). Then for each fold, split by dossier and stratified by measure
(``model.cross_validation_folds``, the split ``bench/matching_model.py`` uses): the fold's rows are
written to a CSV file, ``passerelle matching train --exclude FOLD.csv`` trains on the others, and
``passerelle matching evaluate --csv FOLD.csv`` ranks the fold's projects through the whole
matching (eligibility, the model, the text, the renormalisation over the measures a commune may
use). Each fold's line is the command's own; the last line sums them up, weighted by rows:
``folds=… n=… top1=… top3=… seconds=…``. The first fold is the 20 % held out by
``stratified_split(rows, 0.2, seed)``.
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from marketplace.matching import model as funded_model  # noqa: E402

DEFAULT_CSV = ROOT / "marketplace" / "funding" / "data" / "fonds-vert-2023-dev.csv"
SUMMARY = re.compile(r"n=(\d+) top1=([\d.]+) top3=([\d.]+)")


def write_folds(source: Path, folds: int, seed: int, into: Path) -> list[Path]:
    """One CSV per fold holding the source's own lines (same header and delimiter) of that fold."""
    rows = funded_model.read_funded_csv(source)
    fold_of_dossier = {}
    for i, (_train, test) in enumerate(funded_model.cross_validation_folds(rows, folds, seed)):
        for r in test:
            fold_of_dossier[r.reference] = i
    with open(source, encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.reader(fh, delimiter=";"))
    header, column = lines[0], lines[0].index(funded_model.FONDS_VERT_COLUMNS["reference"])
    paths = [into / f"fold-{i}.csv" for i in range(folds)]
    with ExitStack() as files:
        writers = [csv.writer(files.enter_context(open(p, "w", encoding="utf-8", newline="")), delimiter=";")
                   for p in paths]
        for w in writers:
            w.writerow(header)
        for line in lines[1:]:
            if len(line) > column and line[column] in fold_of_dossier:
                writers[fold_of_dossier[line[column]]].writerow(line)
    return paths


def passerelle(home: Path, *args: str) -> str:
    command = [str(Path(sys.executable).parent / "passerelle"), *args]
    env = dict(os.environ, PASSERELLE_HOME=str(home))
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} a échoué :\n{done.stdout}\n{done.stderr}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only-fold", type=int, default=None, help="evaluate this fold only (0 = the 20 %% held out)")
    args = parser.parse_args()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="passerelle-bench-heldout-"))
    try:
        home = work / "home"
        home.mkdir()
        for step in (("db", "upgrade"), ("territories", "import"), ("demo", "seed")):
            passerelle(home, *step)
        print(f"instance ready in {time.perf_counter() - started:.0f} s", flush=True)
        totals = [0, 0.0, 0.0]
        folds = write_folds(args.csv, args.folds, args.seed, work)
        for i, path in enumerate(folds):
            if args.only_fold is not None and i != args.only_fold:
                continue
            passerelle(home, "matching", "train", "--exclude", str(path))
            last = passerelle(home, "matching", "evaluate", "--csv", str(path)).strip().splitlines()[-1]
            print(f"fold {i}: {last}", flush=True)
            n, top1, top3 = SUMMARY.search(last).groups()
            totals[0] += int(n)
            totals[1] += int(n) * float(top1)
            totals[2] += int(n) * float(top3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = totals[0]
    print(f"folds={args.folds if args.only_fold is None else 1} n={n} top1={totals[1] / n:.4f} "
          f"top3={totals[2] / n:.4f} seconds={time.perf_counter() - started:.0f}")


if __name__ == "__main__":
    main()
