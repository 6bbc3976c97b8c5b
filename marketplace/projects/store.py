"""Matching against the database: load what to match, score it (``matching``), write the matches.

Writes are upserts keyed by (project, target) — the database's own ``ON CONFLICT`` on SQLite and
PostgreSQL — so a job re-run after a crash, or two jobs crossing on one project, rewrite the same
rows: never a duplicate. A pair that no longer matches is kept, inactive, so that a match coming back
is not announced twice.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, lazyload

from marketplace.catalog.public import Solution
from marketplace.core import shared
from marketplace.core.clock import today, utcnow
from marketplace.core.db import all_tenants
from marketplace.funding.public import (
    eligibility_reason,
    eligible_communes,
    eligible_programmes,
    eligible_programmes_of_commune,
    published_targets,
    targets_fingerprint,
)
from marketplace.projects import matching, model_store, needs
from marketplace.projects.models import (
    DEFAULT_THRESHOLD,
    FundedProject,
    MatchingSettings,
    Project,
    ProjectMatch,
    ProjectStatus,
    SolutionMatch,
)
from tenants.models import Tenant, TenantKind

log = logging.getLogger("passerelle.matching")
BECAUSE = "the matching jobs serve every collectivité's projects"
CHUNK = 500  # projects scored together


# What to match ---------------------------------------------------------------------------------

def funded_counts(session: Session) -> dict[str, dict[str, int]]:
    """Measure (``matching.measure_key``) → département → number of funded projects of the reference."""
    out: dict[str, dict[str, int]] = {}
    for measure, departement, n in session.execute(
            select(FundedProject.measure, FundedProject.departement, func.count())
            .group_by(FundedProject.measure, FundedProject.departement)):
        counts = out.setdefault(matching.measure_key(measure), {})
        counts[departement] = counts.get(departement, 0) + n
    return out


_targets_cache: dict[tuple, matching.Targets] = {}


def cached_targets(session: Session, on: dt.date) -> matching.Targets:
    """Every open target, vectorised once per change of the published set (per process)."""
    key = (str(session.get_bind().engine.url), on, targets_fingerprint(session), session.scalar(select(func.count(FundedProject.id))))
    if key not in _targets_cache:
        _targets_cache.clear()
        _targets_cache[key] = load_targets(session, on)
    return _targets_cache[key]


def preview(session: Session, *, title: str, description: str, commune, cost_ht_cents: int | None,
            themes: list[str], on: dt.date, limit: int = 10) -> dict:
    """A project that is not stored, ranked against the open targets its commune is eligible to."""
    targets = cached_targets(session, on)
    model = current_model(session)
    row = matching.ProjectRow(None, None, title, description, tuple(themes), commune.insee, commune.departement_code,
                              cost_ht_cents, eligible_programmes_of_commune(session, commune))
    (ranked,) = matching.score_projects(targets, [row], on=on, model=model, top=limit, min_score=1)
    return {"commune": f"{commune.name} ({commune.insee})", "eligible_programmes": len(row.eligible),
            "model": model is not None,
            "matches": [{"target": s.target.key, "programme_id": s.target.programme_id, "call_id": s.target.call_id,
                         "title": s.target.title, "url": s.target.url, "score": s.score, "explanation": s.explanation,
                         "closes_on": s.target.closes_on} for s in ranked]}


_commune_eligibility: dict[tuple, dict[int, str]] = {}


def eligible_for_commune(session: Session, commune) -> dict[int, str]:
    key = (str(session.get_bind().engine.url), commune.insee, targets_fingerprint(session))
    if key not in _commune_eligibility:
        if len(_commune_eligibility) > 50_000:
            _commune_eligibility.clear()
        _commune_eligibility[key] = eligible_programmes_of_commune(session, commune)
    return _commune_eligibility[key]


def predict_programmes(session: Session, targets: matching.Targets, model, rows: list[matching.ProjectRow],
                       top: int = 3) -> list[list[str]]:
    """For each project, the titles of the programmes ranked first (a programme once, through any of
    its targets): what ``matching evaluate`` compares with the programme that funded it."""
    out = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        for ranked in matching.score_projects(targets, chunk, on=today(), model=model, top=top * 4, min_score=0):
            titles = list(dict.fromkeys(s.target.programme_title for s in ranked))
            out.append(titles[:top])
    return out


def load_targets(session: Session, on: dt.date, programme_ids: list[int] | None = None) -> matching.Targets:
    targets = published_targets(session, on, programme_ids)
    return matching.Targets(targets, funded_counts(session))


_tenant_eligibility: dict[tuple, dict[int, str]] = {}


def _eligible_of_tenant(session: Session, tenant: Tenant, fingerprint: tuple) -> dict[int, str]:
    """A collectivité's eligible programmes, kept while the published programmes do not change
    (the nightly run reads each collectivité once, not once per chunk)."""
    key = (str(session.get_bind().engine.url), tenant.id, fingerprint)
    if key not in _tenant_eligibility:
        if len(_tenant_eligibility) > 20_000:
            _tenant_eligibility.clear()
        _tenant_eligibility[key] = eligible_programmes(session, tenant)
    return _tenant_eligibility[key]


def project_rows(session: Session, projects: Sequence[Project], eligible_cache: dict[int, dict[int, str]] | None = None
                 ) -> list[matching.ProjectRow]:
    cache = eligible_cache if eligible_cache is not None else {}
    fingerprint = targets_fingerprint(session) if any(p.tenant_id not in cache for p in projects) else ()
    rows = []
    for p in projects:
        if p.tenant_id not in cache:
            cache[p.tenant_id] = _eligible_of_tenant(session, p.tenant, fingerprint)
        rows.append(_row(p, cache[p.tenant_id]))
    return rows


def _row(project: Project, eligible: dict[int, str]) -> matching.ProjectRow:
    """A stored project as matching reads it; its collectivité is the beneficiary (a commune's or an
    intercommunality's project are not funded by the same measures)."""
    return matching.ProjectRow(project.id, project.tenant_id, project.title, project.description or "",
                               tuple(project.themes or []), project.commune_insee,
                               project.commune.departement_code if project.commune else "", project.cost_ht_cents,
                               eligible, project.tenant.name, project.tenant.siren or "")


def _open_projects():
    return select(Project).where(Project.status == ProjectStatus.active).order_by(Project.id)


# Writing -----------------------------------------------------------------------------------------

def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def write_matches(session: Session, projects: Sequence[matching.ProjectRow], results: Sequence[Sequence[matching.Scored]],
                  *, only_targets: set[str] | None = None) -> int:
    """Upsert each project's matches; deactivate its previous ones that no longer match (among
    ``only_targets`` when the run looked at some targets only). Returns the rows written."""
    now = utcnow()
    values = []
    for project, ranked in zip(projects, results, strict=True):
        for s in ranked:
            values.append({"tenant_id": project.tenant_id, "project_id": project.id, "target": s.target.key,
                           "programme_id": s.target.programme_id, "call_id": s.target.call_id, "score": s.score,
                           "explanation": s.explanation, "closes_on": s.target.closes_on, "active": True,
                           "first_matched_at": now, "updated_at": now})
    with all_tenants(session, because=BECAUSE):
        if values:
            # One statement, many parameter sets (compiled once): the database resolves each conflict.
            stmt = _insert(session)(ProjectMatch.__table__)
            stmt = stmt.on_conflict_do_update(
                index_elements=["project_id", "target"],
                set_={"score": stmt.excluded.score, "explanation": stmt.excluded.explanation,
                      "closes_on": stmt.excluded.closes_on, "programme_id": stmt.excluded.programme_id,
                      "call_id": stmt.excluded.call_id, "active": True, "updated_at": stmt.excluded.updated_at})
            for start in range(0, len(values), 5000):
                session.connection().execute(stmt, values[start:start + 5000])
        kept = {(v["project_id"], v["target"]) for v in values}
        ids = [p.id for p in projects]
        stale = []
        for start in range(0, len(ids), 500):
            q = select(ProjectMatch.id, ProjectMatch.project_id, ProjectMatch.target).where(
                ProjectMatch.project_id.in_(ids[start:start + 500]), ProjectMatch.active.is_(True))
            if only_targets is not None:
                q = q.where(ProjectMatch.target.in_(sorted(only_targets)))
            stale += [row.id for row in session.execute(q) if (row.project_id, row.target) not in kept]
        for start in range(0, len(stale), 500):
            session.execute(update(ProjectMatch).where(ProjectMatch.id.in_(stale[start:start + 500]))
                            .values(active=False, updated_at=now))
    return len(values)


# The runs --------------------------------------------------------------------------------------

def match_projects(session: Session, projects: Sequence[Project], *, on: dt.date | None = None,
                   targets: matching.Targets | None = None, model=None,
                   eligible_cache: dict[int, dict[int, str]] | None = None) -> int:
    on = on or today()
    targets = targets if targets is not None else cached_targets(session, on)
    model = model if model is not None else current_model(session)
    written = 0
    for start in range(0, len(projects), CHUNK):
        rows = project_rows(session, projects[start:start + CHUNK], eligible_cache)
        written += write_matches(session, rows, matching.score_projects(targets, rows, on=on, model=model))
    return written


def match_project(session: Session, project_id: int) -> int:
    """One project against every open programme and call (after a change of the project)."""
    with all_tenants(session, because=BECAUSE):
        project = session.get(Project, project_id)
    if project is None:
        return 0
    if not project.status.is_open:
        with all_tenants(session, because=BECAUSE):
            session.execute(update(ProjectMatch).where(ProjectMatch.project_id == project.id)
                            .values(active=False, updated_at=utcnow()))
        return 0
    return match_projects(session, [project])


def eligible_tenants(session: Session, programme_id: int) -> dict[int, str]:
    """Collectivité id → why it is eligible to this programme: its communes checked against the
    programme's eligible communes at once, EPCIs one by one."""
    communes = eligible_communes(session, programme_id)
    out: dict[int, str] = {}
    rows = session.execute(select(Tenant.id, Tenant.commune_insee, Tenant.epci_siren)
                           .where(Tenant.kind == TenantKind.collectivite).order_by(Tenant.id)).all()
    for tenant_id, insee, epci in rows:
        if insee is not None:
            if insee not in communes:
                continue
        elif epci is None:
            continue
        reason = eligibility_reason(session, programme_id, session.get(Tenant, tenant_id))
        if reason:
            out[tenant_id] = reason
    return out


def candidate_projects(session: Session, programme_id: int) -> tuple[list[Project], dict[int, str]]:
    """The open projects of the collectivités eligible to a programme, and why each is."""
    reasons = eligible_tenants(session, programme_id)
    ids = sorted(reasons)
    projects: list[Project] = []
    with all_tenants(session, because=BECAUSE):
        for start in range(0, len(ids), 500):
            projects += session.scalars(_open_projects().where(Project.tenant_id.in_(ids[start:start + 500])))
    projects.sort(key=lambda p: p.id)
    return projects, reasons


def match_programme(session: Session, programme_id: int, *, on: dt.date | None = None, model=None) -> int:
    """A programme (and its calls) published or changed: rescored against every project that can
    use it; projects that no longer can lose it."""
    on = on or today()
    targets = load_targets(session, on, [programme_id])
    keys = {t.key for t in targets.items}
    projects, reasons = candidate_projects(session, programme_id)
    model = model if model is not None else current_model(session)
    written = 0
    for start in range(0, len(projects), CHUNK):
        chunk = projects[start:start + CHUNK]
        rows = [_row(p, {programme_id: reasons[p.tenant_id]}) for p in chunk]
        written += write_matches(session, rows, matching.score_projects(targets, rows, on=on, model=model),
                                 only_targets=keys)
    # Projects that could use it before and no longer can (a narrowed perimeter, an unpublished programme).
    with all_tenants(session, because=BECAUSE):
        still = {p.id for p in projects}
        gone = [m.id for m in session.scalars(select(ProjectMatch).where(ProjectMatch.programme_id == programme_id,
                                                                           ProjectMatch.active.is_(True)))
                if m.project_id not in still or m.target not in keys]
        for start in range(0, len(gone), 500):
            session.execute(update(ProjectMatch).where(ProjectMatch.id.in_(gone[start:start + 500]))
                            .values(active=False, updated_at=utcnow()))
    return written


def nightly_chunks(session: Session, size: int = 2000) -> list[tuple[int, int]]:
    """The open projects cut into id ranges of ``size`` projects: the nightly run's jobs."""
    with all_tenants(session, because=BECAUSE):
        ids = list(session.scalars(select(Project.id).where(Project.status == ProjectStatus.active)
                                   .order_by(Project.id)))
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


def match_range(session: Session, first_id: int, last_id: int, *, on: dt.date | None = None,
                targets: matching.Targets | None = None, model=None) -> int:
    with all_tenants(session, because=BECAUSE):
        projects = list(session.scalars(_open_projects().where(Project.id.between(first_id, last_id))))
    return match_projects(session, projects, on=on, targets=targets, model=model)


# Needs and solutions ----------------------------------------------------------------------------

def match_need(session: Session, project_id: int) -> int:
    """A published need against the published solutions: see ``needs``."""
    return needs.match_need(session, project_id)


# Reading (the project page) ------------------------------------------------------------------------

def matches_of(session: Session, project: Project) -> list[ProjectMatch]:
    return list(session.scalars(select(ProjectMatch).where(ProjectMatch.project_id == project.id,
                                                           ProjectMatch.active.is_(True))
                                .order_by(ProjectMatch.score.desc(), ProjectMatch.id)))


def match_counts(session: Session, project_ids: list[int], since: dt.datetime) -> dict[int, tuple[int, int]]:
    """Project id → (active matches, of which first matched since ``since``): a list page's
    figures in one query, not one per project."""
    if not project_ids:
        return {}
    recent = func.sum(case((ProjectMatch.first_matched_at >= since, 1), else_=0))
    rows = session.execute(select(ProjectMatch.project_id, func.count(ProjectMatch.id), recent)
                           .where(ProjectMatch.project_id.in_(project_ids), ProjectMatch.active.is_(True))
                           .group_by(ProjectMatch.project_id))
    counts = {pid: (int(n), int(new or 0)) for pid, n, new in rows}
    return {pid: counts.get(pid, (0, 0)) for pid in project_ids}


def suggested_solutions(session: Session, project: Project) -> list[tuple[SolutionMatch, Solution]]:
    rows = session.execute(select(SolutionMatch, Solution).join(Solution, Solution.id == SolutionMatch.solution_id)
                           .where(SolutionMatch.project_id == project.id, SolutionMatch.active.is_(True))
                           .order_by(SolutionMatch.score.desc(), SolutionMatch.id)
                           .options(lazyload(Solution.references)))  # the list shows name, pitch, owner
    return [(m, s) for m, s in rows]


_funded_cache: dict[str, tuple] = {}


def _funded_index(session: Session):
    """TF-IDF of the reference's titles, rebuilt when the reference changes (count, last id, last
    import). Three scalar subqueries: each is read from an index, where one select of the three
    aggregates read the whole table."""
    count, last, when = session.execute(select(
        select(func.count()).select_from(FundedProject).scalar_subquery(),
        select(func.max(FundedProject.id)).scalar_subquery(),
        select(func.max(FundedProject.imported_at)).scalar_subquery())).one()
    generation = f"{count}:{last}:{when}"
    key = f"{session.get_bind().engine.url}:{generation}"
    if key not in _funded_cache:
        rows = list(session.execute(select(FundedProject.id, FundedProject.title, FundedProject.departement)
                                    .order_by(FundedProject.id)))
        if not rows:
            return None
        vectorizer = TfidfVectorizer(analyzer=matching.terms, sublinear_tf=True)
        matrix = vectorizer.fit_transform([r.title for r in rows])
        _funded_cache.clear()
        _funded_cache[key] = FundedIndex(vectorizer, matrix, [r.id for r in rows],
                                         np.array([r.departement or "" for r in rows], dtype=object), generation)
    return _funded_cache[key]


@dataclass
class FundedIndex:
    vectorizer: TfidfVectorizer
    matrix: object
    ids: list[int]
    departements: np.ndarray
    generation: str  # the reference's count, last id and last import: what the index was built from
    # (project's words, its département, how many) → the closest ids and scores: a project page
    # asks on every visit, and its words seldom change.
    closest: OrderedDict = field(default_factory=OrderedDict)


MAX_KEPT_CLOSEST = 2000
CLOSEST_SHARED_SECONDS = 3600  # shared with the site's other processes, for one reference


def _closest(session: Session, index: FundedIndex, words: str, departement: str, limit: int) -> list[tuple[int, float]]:
    key = (words, departement, limit)
    found = index.closest.get(key)
    if found is not None:
        index.closest.move_to_end(key)
        return found

    def compute() -> list[tuple[int, float]]:
        scores = (index.matrix @ index.vectorizer.transform([words]).T).toarray().ravel()
        if departement:
            scores = scores + np.where(index.departements == departement, 0.05, 0.0)
        return [(index.ids[i], float(scores[i])) for i in np.argsort(-scores, kind="stable")[:limit] if scores[i] > 0.2]

    found = shared.kept(session, "projects.closest", (index.generation, *key), compute, CLOSEST_SHARED_SECONDS)
    index.closest[key] = found
    if len(index.closest) > MAX_KEPT_CLOSEST:
        index.closest.popitem(last=False)
    return found


def similar_funded(session: Session, project: Project, limit: int = 5) -> list[tuple[FundedProject, float]]:
    """Real funded projects closest to this one by their words (the same département counts a little)."""
    index = _funded_index(session)
    if index is None:
        return []
    departement = project.commune.departement_code if project.commune else ""
    best = _closest(session, index, f"{project.title} {project.title} {project.description or ''}", departement, limit)
    by_id = {f.id: f for f in session.scalars(select(FundedProject).where(FundedProject.id.in_([i for i, _ in best])))}
    return [(by_id[i], score) for i, score in best if i in by_id]


def threshold_of(session: Session, tenant_id: int) -> int:
    """The score from which a collectivité's new matches go into its digest."""
    row = session.scalar(select(MatchingSettings).where(MatchingSettings.tenant_id == tenant_id))
    return row.threshold if row is not None else DEFAULT_THRESHOLD


def current_model(session: Session):
    """The funded-projects model for this instance, or None (matching then says so)."""
    return model_store.current(session)
