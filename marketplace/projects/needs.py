"""Needs ↔ solutions: a published need is matched to the published solutions by the same French
analysis as the search (TF-IDF over ``search.analysis.terms``) and the domains it shares; the best
become suggestions on the project, and each startup is told once (a lead)."""
from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from marketplace.catalog.public import published_solutions_for_matching
from marketplace.core.clock import utcnow
from marketplace.core.db import all_tenants
from marketplace.core.taxonomy import DOMAINS
from marketplace.projects import mails
from marketplace.projects.matching import surface_words
from marketplace.projects.models import Project, ProjectStatus, SolutionMatch
from search.analysis import terms

TOP = 5
MIN_SCORE = 40
TEXT_SATURATION = 0.35
BECAUSE = "a published need is matched to every startup's published solutions"


def score_need(project: Project, solutions: list[tuple]) -> list[tuple[tuple, int, str]]:
    """(solution, score 0–100, explanation) for the best solutions, best first."""
    if not solutions:
        return []
    vectorizer = TfidfVectorizer(analyzer=terms, sublinear_tf=True)
    matrix = vectorizer.fit_transform([s[3] for s in solutions])
    query = vectorizer.transform([f"{project.title} {project.need_text} {project.need_text} {project.description or ''}"])
    cosine = (matrix @ query.T).toarray().ravel()
    vocabulary = {v: k for k, v in vectorizer.vocabulary_.items()}
    out = []
    for i, solution in enumerate(solutions):
        shared = [DOMAINS[d] for d in solution[4] if d in (project.themes or []) and d in DOMAINS]
        theme = len(shared) / max(1, len(project.themes or [])) if project.themes else 0.0
        score = 100 * (0.6 * min(1.0, cosine[i] / TEXT_SATURATION) + 0.4 * theme)
        if project.themes and not shared:
            score *= 0.6  # a solution of another domain: words in common are not enough
        score = round(score)
        if score < MIN_SCORE:
            continue
        common = sorted(set(query.indices) & set(matrix[i].indices), key=lambda k: -(query[0, k] * matrix[i, k]))[:3]
        phrases = []
        if common:
            phrases.append("mots en commun : " + ", ".join(surface_words([vocabulary[k] for k in common], solution[3])))
        if shared:
            phrases.append("domaine" + ("s" if len(shared) > 1 else "") + " : " + ", ".join(shared))
        out.append((solution, score, (" · ".join(phrases) or "proche du besoin") + "."))
    out.sort(key=lambda r: (-r[1], r[0][0]))
    return out[:TOP]


def match_need(session: Session, project_id: int) -> int:
    with all_tenants(session, because=BECAUSE):
        project = session.get(Project, project_id)
        if project is None:
            return 0
        existing = {m.solution_id: m for m in session.scalars(select(SolutionMatch)
                                                              .where(SolutionMatch.project_id == project.id))}
        if project.need_published_at is None or project.status is not ProjectStatus.active:
            session.execute(update(SolutionMatch).where(SolutionMatch.project_id == project.id).values(active=False))
            return 0
        ranked = score_need(project, published_solutions_for_matching(session))
        kept = set()
        for solution, score, explanation in ranked:
            solution_id, startup_id = solution[0], solution[1]
            kept.add(solution_id)
            row = existing.get(solution_id)
            if row is None:
                row = SolutionMatch(tenant_id=project.tenant_id, project_id=project.id, solution_id=solution_id,
                                    startup_tenant_id=startup_id, score=score, explanation=explanation)
                session.add(row)
            row.score, row.explanation, row.active = score, explanation, True
            if row.told_at is None:
                session.flush()
                mails.tell_startup_of_need(session, project, solution, row)
                row.told_at = utcnow()
        for solution_id, row in existing.items():
            if solution_id not in kept:
                row.active = False
        return len(ranked)


def leads_for(session: Session, startup_tenant_id: int) -> list[tuple[SolutionMatch, Project]]:
    """The published needs matched to a startup's solutions, best first."""
    with all_tenants(session, because="a startup reads the needs matched to its solutions (filtered on it)"):
        rows = session.execute(select(SolutionMatch, Project).join(Project, Project.id == SolutionMatch.project_id)
                               .where(SolutionMatch.startup_tenant_id == startup_tenant_id,
                                      SolutionMatch.active.is_(True), Project.need_published_at.is_not(None),
                                      Project.status == ProjectStatus.active)
                               .order_by(SolutionMatch.score.desc(), SolutionMatch.id))
        return [(m, p) for m, p in rows]


__all__ = ["match_need", "leads_for", "score_need"]
