"""``passerelle funded …`` and ``passerelle matching …``: the funded-projects reference, the model,
and the matching runs, from the command line (registered by ``marketplace.cli``)."""
from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from marketplace.core.clock import today
from marketplace.projects import funded, matching, model_store, store, tasks
from marketplace.projects.models import FundedProject
from tenants.territories.models import Commune


def _session():
    return current_app.extensions["passerelle"].session_factory()


def _mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        if not sep or ours not in funded.FIELDS:
            raise click.BadParameter(f"« {pair} » : attendu champ=colonne, champ parmi {', '.join(funded.FIELDS)}",
                                     param_hint="--map")
        out[ours] = theirs
    return out


@click.group("funded")
def funded_group():
    """Référence des projets financés (données ouvertes)."""


@funded_group.command("import")
@click.option("--csv", "path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", default=None, help="Nom de la source (par défaut : le nom du fichier).")
@click.option("--map", "pairs", multiple=True, help="champ=colonne, pour un fichier d'autres colonnes (répétable).")
@click.option("--no-train", is_flag=True, help="Ne réentraîne pas le modèle après l'import.")
@with_appcontext
def funded_import(path, source, pairs, no_train):
    """Importe des projets financés (idempotent : une ligne déjà connue n'est pas ajoutée deux fois)."""
    session = _session()
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            report = funded.import_csv(session, fh, source=source or path.name, mapping=_mapping(pairs))
        session.commit()
    except ValueError as exc:
        session.rollback()
        raise click.ClickException(f"Import refusé : {exc}") from exc
    click.echo(report.summary + ".")
    for line, reason in report.rejected[:20]:
        click.echo(f"  ligne {line} : {reason}")
    if len(report.rejected) > 20:
        click.echo(f"  … et {len(report.rejected) - 20} autre(s).")
    if report.created and not no_train:
        info = model_store.train_if_changed(session)
        if info:
            click.echo(f"Modèle réentraîné sur {info['rows']} projets financés en {info['seconds']} s.")


@click.group("matching")
def matching_group():
    """Rapprochement des projets et des financements."""


@matching_group.command("train")
@click.option("--exclude", "excluded", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Fichier de projets financés à tenir hors de l'apprentissage (pour l'évaluer ensuite).")
@click.option("--map", "pairs", multiple=True, help="champ=colonne, pour le fichier --exclude.")
@click.option("--background", is_flag=True, help="Confie l'entraînement (puis un nouveau rapprochement) à un worker.")
@with_appcontext
def matching_train(excluded, pairs, background):
    """Entraîne le modèle des projets financés sur la référence (moins --exclude)."""
    if background:
        tasks.retrain_model.enqueue(job_id="matching-retrain")
        click.echo("Entraînement confié au worker : les rapprochements seront refaits avec le modèle.")
        return
    session = _session()
    keys = None
    if excluded is not None:
        keys = set()
        with open(excluded, encoding="utf-8-sig", newline="") as fh:
            for _line, row in funded.read_rows(fh, _mapping(pairs)):
                try:
                    insee = "" if row["commune_insee"].strip().upper() in ("", "NULL") else funded.insee_code(
                        row["commune_insee"])
                    keys.add(funded.row_key(excluded.name, row, insee, funded.parse_amount(row["amount"])))
                except ValueError:
                    continue
    try:
        info = model_store.train(session, exclude_keys=keys)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    held = f", {len(keys)} tenus à l'écart" if keys else ""
    click.echo(f"Modèle entraîné sur {info['rows']} projets financés ({len(info['labels'])} programmes{held}) "
               f"en {info['seconds']} s.")


@matching_group.command("run")
@with_appcontext
def matching_run():
    """Rapproche maintenant tous les projets en cours (ce que fait la nuit), en une fois."""
    session = _session()
    started = time.perf_counter()
    chunks = store.nightly_chunks(session)
    written = 0
    for first, last in chunks:
        written += store.match_range(session, first, last)
        session.commit()
    click.echo(f"{written} rapprochement(s) écrits, {len(chunks)} lot(s), en {time.perf_counter() - started:.1f} s.")


@matching_group.command("evaluate")
@click.option("--csv", "path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--top", default=3, show_default=True, type=click.IntRange(1, 20))
@click.option("--map", "pairs", multiple=True, help="champ=colonne, comme pour funded import.")
@with_appcontext
def matching_evaluate(path, top, pairs):
    """Prédit le programme de chaque projet financé du fichier (d'après son intitulé et sa commune) et
    mesure la précision : top-1 et top-N. Les lignes sur lesquelles le modèle a été entraîné sont écartées."""
    session = _session()
    started = time.perf_counter()
    with open(path, encoding="utf-8-sig", newline="") as fh:
        text = fh.read()
    try:
        rows = list(funded.read_rows(io.StringIO(text), _mapping(pairs)))
    except (ValueError, csv.Error) as exc:
        raise click.ClickException(f"Fichier illisible : {exc}") from exc
    info = model_store.meta() or {}
    trained = set(info.get("trained_keys") or [])
    known = set(session.scalars(select(FundedProject.key)))
    source = path.name
    # The candidates are the programmes the file's measures name (the Fonds vert's 14): the
    # question is which of them funded each project.
    measures = {matching.measure_key(row["measure"]) for _line, row in rows}
    every = store.cached_targets(session, today())
    targets = matching.Targets([t for t, key in zip(every.items, every.measure_keys, strict=True) if key in measures],
                               every.funded_counts)
    programme_titles = {matching.measure_key(t.programme_title) for t in targets.items}
    model = model_store.current(session)
    communes = {c.insee: c for c in session.scalars(select(Commune))}
    n = hits1 = hitsn = skipped = unknown = 0
    rows_eval = []
    for _line, row in rows:
        try:
            insee = funded.insee_code(row["commune_insee"])
            amount = funded.parse_amount(row["amount"])
        except ValueError:
            unknown += 1
            continue
        key = funded.row_key(source, row, insee, amount)
        if key in trained or (not trained and key in known):
            skipped += 1
            continue
        if matching.measure_key(row["measure"]) not in programme_titles or insee not in communes:
            unknown += 1
            continue
        rows_eval.append((row, communes[insee], amount))
    predictions = store.predict_programmes(session, targets, model, [
        matching.ProjectRow(None, None, r["title"], "", (), c.insee, c.departement_code, a,
                            store.eligible_for_commune(session, c), r["beneficiary"] or "", r["siren"] or "")
        for r, c, a in rows_eval], top=top)
    for (row, _c, _a), ranked in zip(rows_eval, predictions, strict=True):
        n += 1
        wanted = matching.measure_key(row["measure"])
        titles = [matching.measure_key(t) for t in ranked]
        hits1 += bool(titles[:1] == [wanted])
        hitsn += wanted in titles[:top]
    seconds = time.perf_counter() - started
    if skipped:
        click.echo(f"{skipped} ligne(s) écartée(s) : le modèle a appris sur elles.")
    if unknown:
        click.echo(f"{unknown} ligne(s) écartée(s) : programme absent des programmes publiés, ou commune inconnue.")
    if model is None:
        click.echo("Aucun modèle entraîné : classement par éligibilité et texte seulement (passerelle matching train).")
    if not n:
        click.echo("Aucune ligne à évaluer.", err=True)
        sys.exit(1)
    click.echo(f"n={n} top1={hits1 / n:.4f} top{top}={hitsn / n:.4f} seconds={seconds:.1f}")
