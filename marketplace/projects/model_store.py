"""The funded-projects model of this instance: trained from the reference (``funded_projects``) by
``passerelle matching train``, stored under ``PASSERELLE_HOME/matching`` with the fingerprint of
the reference it learnt from, retrained when the reference changes (after an import), loaded once
per process and file. No model yet: matching ranks by eligibility and text, and says so."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.matching import model as funded_model
from marketplace.projects.models import FundedProject

log = logging.getLogger("passerelle.matching")
MODEL_FILE = "model.joblib"
META_FILE = "model.json"
_loaded: dict[str, tuple[float, object]] = {}


def _dir() -> Path:
    return current_app.config["SETTINGS"].matching_dir


def fingerprint(session: Session) -> str:
    count, last = session.execute(select(func.count(FundedProject.id), func.max(FundedProject.id))).one()
    return f"{count}:{last}"


def meta() -> dict | None:
    path = _dir() / META_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def train(session: Session, *, exclude_keys: set[str] | None = None) -> dict:
    """Train on the whole reference (but ``exclude_keys``), store the model, return its metadata."""
    started = time.perf_counter()
    rows = [f for f in session.scalars(select(FundedProject).order_by(FundedProject.id))
            if not exclude_keys or f.key not in exclude_keys]
    if not rows:
        raise ValueError("aucun projet financé dans la référence : importez-en d'abord (passerelle funded import)")
    model = funded_model.train([funded_model.FundedProject(title=f.title, commune_insee=f.commune_insee or None,
                                                           departement=f.departement, measure=f.measure,
                                                           beneficiary=f.beneficiary, siren=f.siren or None,
                                                           amount_cents=f.amount_cents, reference=f.key) for f in rows])
    folder = _dir()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{MODEL_FILE}.tmp"
    model.save(tmp)
    tmp.replace(folder / MODEL_FILE)
    info = {"fingerprint": fingerprint(session), "rows": len(rows), "trained_keys": sorted(f.key for f in rows),
            "seconds": round(time.perf_counter() - started, 1), "labels": list(model.labels)}
    (folder / META_FILE).write_text(json.dumps(info), encoding="utf-8")
    return info


def train_if_changed(session: Session) -> dict | None:
    info = meta()
    if info is not None and info.get("fingerprint") == fingerprint(session):
        return None
    if not session.scalar(select(func.count(FundedProject.id))):
        return None
    return train(session)


def current(session: Session):
    """The stored model, loaded once per file version; None when there is none."""
    path = _dir() / MODEL_FILE
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _loaded.get(str(path))
    if cached is None or cached[0] != mtime:
        try:
            model = funded_model.load(path)
        except Exception as exc:  # an unreadable model is no model: matching says so
            log.warning("funded-projects model unreadable (%s): ranking without it", exc)
            return None
        _loaded[str(path)] = (mtime, model)
        cached = _loaded[str(path)]
    return cached[1]
