"""The kits written in the repository (``library/<slug>/questionnaire.toml`` and one Markdown source per
document), and their entry in the database.

``sync`` runs with the migrations (``passerelle db upgrade``): a kit not yet in the database becomes its
version 1, published; a kit whose text changed in the repository (reviewed like code) becomes a new
published version. Versions written by operators in the application are drafts until published.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.contracts import document, kits
from marketplace.contracts import questionnaire as q
from marketplace.contracts.models import ContractTemplate, TemplateStatus
from marketplace.core.clock import utcnow

LIBRARY = Path(__file__).resolve().parent / "library"
ORDER = ["partenariat-innovation", "achat-innovant", "convention-experimentation", "groupement-commandes"]


@dataclass(frozen=True)
class KitSource:
    slug: str
    questionnaire: str
    documents: dict[str, str]

    @property
    def checksum(self) -> str:
        return checksum(self.questionnaire, self.documents)


def checksum(questionnaire: str, documents: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps([questionnaire, documents], ensure_ascii=False, sort_keys=True).encode()
                          ).hexdigest()


def read_kit(slug: str) -> KitSource:
    folder = LIBRARY / slug
    text = (folder / "questionnaire.toml").read_text(encoding="utf-8")
    parsed = q.parse(text)
    return KitSource(slug, text, {d.key: (folder / f"{d.key}.md").read_text(encoding="utf-8")
                                  for d in parsed.documents})


def kits_in_repository() -> list[KitSource]:
    return [read_kit(slug) for slug in ORDER if (LIBRARY / slug).is_dir()]


def validate(session: Session, slug: str, questionnaire_text: str, documents: dict[str, str]) -> q.Questionnaire:
    """A kit's text is sound: its questionnaire parses and each document renders with neutral answers
    (every question at its default, one row in each table). Raises QuestionnaireError or SourceError."""
    parsed = q.parse(questionnaire_text)
    sample = q.defaults(parsed)
    for question in parsed.questions:
        if question.type == "table":
            sample[question.name] = [{c.name: (1 if c.type in ("money", "integer") else
                                               (c.options[0][0] if c.options else "x")) for c in question.columns}]
        elif question.type == "choice" and sample.get(question.name) is None:
            sample[question.name] = question.options[0][0]
    for spec in parsed.documents:
        if spec.key not in documents:
            raise q.QuestionnaireError(f"Le document « {spec.key} » n'a pas de texte.")
        values = {**sample, **kits.figures(session, slug, sample)}
        if spec.per:
            values.update(partner=sample[spec.per][0], partners=sample[spec.per])
        document.render(documents[spec.key], values)
    return parsed


def sync(session: Session) -> list[ContractTemplate]:
    """Publish every repository kit whose text is not yet a version in the database."""
    created = []
    for kit in kits_in_repository():
        known = session.scalar(select(ContractTemplate).where(ContractTemplate.slug == kit.slug,
                                                              ContractTemplate.checksum == kit.checksum))
        if known is not None:
            continue
        parsed = validate(session, kit.slug, kit.questionnaire, kit.documents)
        version = (session.scalar(select(func.max(ContractTemplate.version))
                                  .where(ContractTemplate.slug == kit.slug)) or 0) + 1
        for old in session.scalars(select(ContractTemplate).where(ContractTemplate.slug == kit.slug,
                                                                  ContractTemplate.status == TemplateStatus.published)):
            old.status, old.archived_at = TemplateStatus.archived, utcnow()
        template = ContractTemplate(slug=kit.slug, version=version, title=parsed.title, status=TemplateStatus.published,
                                    questionnaire=kit.questionnaire, documents=kit.documents, checksum=kit.checksum,
                                    change_note="Version du dépôt de Passerelle." if version == 1 else
                                    "Nouvelle version du dépôt de Passerelle.", published_at=utcnow())
        session.add(template)
        created.append(template)
    session.flush()
    return created
