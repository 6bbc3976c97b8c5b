"""Projects' mail: the daily digest of new matches, the reminder of a call closing within 30 days,
a need's lead to a startup, a startup's answer to the city. Each is written in the transaction that
marks it sent (``notified_at``, ``reminded_at``, ``told_at``), so it goes once: a job re-run after a
crash finds it marked, or finds it not written at all."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace import mail
from marketplace.core.clock import today, utcnow
from marketplace.core.db import all_tenants
from marketplace.funding.public import published_titles
from marketplace.projects.models import NeedAnswer, Project, ProjectMatch, ProjectStatus
from tenants.models import Tenant

REMINDER_DAYS = 30
BECAUSE = "the matching notices go to each collectivité's project contacts"


def _base_url() -> str:
    return current_app.config["SETTINGS"].base_url.rstrip("/")


def _contacts(project: Project) -> list[str]:
    return sorted({c.user.email for c in project.contacts if c.user is not None and c.user.email})


@dataclass
class Line:
    label: str
    score: int
    closes_on: dt.date | None
    explanation: str
    url: str


def _labels(session: Session, matches: list[ProjectMatch], on: dt.date) -> dict[str, tuple[str, str]]:
    ids = sorted({m.programme_id for m in matches})
    return {t.key: (t.title if t.call_id is None else f"{t.title} ({t.programme_title})", t.url)
            for t in published_titles(session, on, ids).values()}


def send_digest(session: Session, tenant: Tenant, threshold: int, *, on: dt.date | None = None) -> int:
    """The tenant's new matches at or above its threshold, one mail per contact; each match once."""
    on = on or today()
    with all_tenants(session, because=BECAUSE):
        rows = list(session.execute(
            select(ProjectMatch, Project).join(Project, Project.id == ProjectMatch.project_id)
            .where(ProjectMatch.tenant_id == tenant.id, ProjectMatch.active.is_(True),
                   ProjectMatch.notified_at.is_(None), ProjectMatch.score >= threshold,
                   Project.status == ProjectStatus.active)
            .order_by(Project.id, ProjectMatch.score.desc(), ProjectMatch.id)))
        if not rows:
            return 0
        labels = _labels(session, [m for m, _ in rows], on)
        by_contact: dict[str, dict[int, list[Line]]] = defaultdict(lambda: defaultdict(list))
        projects: dict[int, Project] = {}
        now = utcnow()
        for match, project in rows:
            match.notified_at = now
            if match.target not in labels:
                continue  # closed or unpublished since it was matched
            label, url = labels[match.target]
            projects[project.id] = project
            for address in _contacts(project):
                by_contact[address][project.id].append(Line(label, match.score, match.closes_on, match.explanation, url))
        sent = 0
        for address, per_project in sorted(by_contact.items()):
            lines = [line for group in per_project.values() for line in group]
            body = mail.render("projects/mail/digest.txt", matches=lines, tenant_name=tenant.name, threshold=threshold,
                               by_project=[(projects[pid], group) for pid, group in per_project.items()],
                               base_url=_base_url())
            subject = (f"{len(lines)} nouveau{'x' if len(lines) > 1 else ''} financement"
                       f"{'s' if len(lines) > 1 else ''} pour vos projets")
            mail.send(session, address, subject, body)
            sent += 1
        return sent


def send_reminders(session: Session, *, on: dt.date | None = None) -> int:
    """Calls closing within 30 days that match an open project: its contacts are reminded, once."""
    on = on or today()
    horizon = on + dt.timedelta(days=REMINDER_DAYS)
    sent = 0
    with all_tenants(session, because=BECAUSE):
        rows = list(session.execute(
            select(ProjectMatch, Project).join(Project, Project.id == ProjectMatch.project_id)
            .where(ProjectMatch.active.is_(True), ProjectMatch.call_id.is_not(None), ProjectMatch.reminded_at.is_(None),
                   ProjectMatch.closes_on.is_not(None), ProjectMatch.closes_on >= on, ProjectMatch.closes_on <= horizon,
                   Project.status == ProjectStatus.active)
            .order_by(ProjectMatch.closes_on, ProjectMatch.id)))
        labels = _labels(session, [m for m, _ in rows], on) if rows else {}
        for match, project in rows:
            match.reminded_at = utcnow()
            if match.target not in labels:
                continue
            label, url = labels[match.target]
            days = (match.closes_on - on).days
            for address in _contacts(project):
                body = mail.render("projects/mail/reminder.txt", label=label, closes_on=match.closes_on, days=days,
                                   project=project, score=match.score, explanation=match.explanation, url=url,
                                   base_url=_base_url())
                mail.send(session, address, f"Clôture dans {days} jour{'s' if days > 1 else ''} : « {label} »", body)
                sent += 1
    return sent


def tell_startup_of_need(session: Session, project: Project, solution: tuple, match) -> bool:
    """A published need matched one of a startup's solutions: its contact hears of it (a lead)."""
    solution_id, _, name, _, _, contact = solution
    if not contact:
        return False
    body = mail.render("projects/mail/need_lead.txt", city=project.tenant.name, solution_name=name, score=match.score,
                       explanation=match.explanation, project=project, commune=project.commune.name,
                       base_url=_base_url())
    mail.send(session, contact, f"Une collectivité cherche une solution : « {project.title} »", body)
    return True


def tell_city_of_answer(session: Session, answer: NeedAnswer, solution_name: str) -> int:
    """Written in the answer's own transaction: the city hears of it exactly once."""
    project = answer.project
    sent = 0
    for address in _contacts(project):
        body = mail.render("projects/mail/need_answer.txt", startup=answer.startup.name, project=project,
                           solution_name=solution_name, message=answer.message, base_url=_base_url())
        mail.send(session, address, f"Réponse à votre besoin « {project.title} »", body)
        sent += 1
    return sent
