"""The contracts' rules: dossiers and interviews, generating documents, template versions, thresholds.

A collectivité opens a **dossier** for a purchase (optionally about a published solution), starts an
**interview** for a kit (a draft), answers it step by step with a preview beside it, and generates:
the kit's legal checks run first, then each document of the kit is rendered (one per partner where
the kit says so), stored with its answers, template version and content hash. The dossier keeps the
answers, so that the next kit of the same purchase starts from them.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from marketplace.contracts import document, kits, library, procedure
from marketplace.contracts import questionnaire as q
from marketplace.contracts.models import (
    TEMPLATE_WORKFLOW,
    ContractDocument,
    ContractDossier,
    ContractDraft,
    ContractTemplate,
    ProcurementThreshold,
    TemplateStatus,
)
from marketplace.contracts.models import ContractEvent as E
from marketplace.core import audit, money
from marketplace.core.clock import utcnow
from marketplace.core.errors import NotFound, ServiceError
from tenants.models import Tenant, TenantKind, User


def _check_buyer(tenant: Tenant) -> None:
    if tenant.kind is not TenantKind.collectivite or not tenant.is_active:
        raise ServiceError("Les contrats types sont réservés aux collectivités.")


# Templates ----------------------------------------------------------------------------------------

def published_templates(session: Session) -> list[ContractTemplate]:
    """The current version of each kit, in the library's order."""
    rows = list(session.scalars(select(ContractTemplate).where(ContractTemplate.status == TemplateStatus.published)
                                .order_by(ContractTemplate.slug, ContractTemplate.version.desc())))
    latest = {}
    for row in rows:
        latest.setdefault(row.slug, row)
    order = {slug: i for i, slug in enumerate(library.ORDER)}
    return sorted(latest.values(), key=lambda t: (order.get(t.slug, 99), t.slug))


def published_template(session: Session, slug: str) -> ContractTemplate:
    found = next((t for t in published_templates(session) if t.slug == slug), None)
    if found is None:
        raise NotFound()
    return found


def questionnaire_of(template: ContractTemplate) -> q.Questionnaire:
    return q.parse(template.questionnaire)


def all_versions(session: Session) -> list[ContractTemplate]:
    return list(session.scalars(select(ContractTemplate).order_by(ContractTemplate.slug,
                                                                  ContractTemplate.version.desc())))


def get_template(session: Session, template_id: int) -> ContractTemplate:
    template = session.get(ContractTemplate, template_id)
    if template is None:
        raise NotFound()
    return template


def new_version(session: Session, actor: User, base: ContractTemplate, questionnaire_text: str,
                documents: dict[str, str], change_note: str) -> ContractTemplate:
    """An operator's new version of a kit, as a draft: its text must parse and render first."""
    try:
        parsed = library.validate(session, base.slug, questionnaire_text, documents)
    except (q.QuestionnaireError, document.SourceError) as problem:
        raise ServiceError(str(problem), "questionnaire") from None
    number = (session.scalar(select(func.max(ContractTemplate.version)).where(ContractTemplate.slug == base.slug))
              or 0) + 1
    template = ContractTemplate(slug=base.slug, version=number, title=parsed.title, questionnaire=questionnaire_text,
                                documents={k: documents[k] for k in (d.key for d in parsed.documents)},
                                checksum=library.checksum(questionnaire_text, documents), change_note=change_note,
                                created_by_id=actor.id)
    session.add(template)
    session.flush()
    audit.record(session, E.template_version_created, actor_id=actor.id, tenant_id=None, obj=template,
                 slug=template.slug, version=number, base_version=base.version)
    return template


def publish_version(session: Session, actor: User, template: ContractTemplate) -> None:
    """Publish a version; the kit's previous published version is archived (documents keep theirs)."""
    TEMPLATE_WORKFLOW.apply(session, template, "publish", actor)
    for other in session.scalars(select(ContractTemplate).where(ContractTemplate.slug == template.slug,
                                                                ContractTemplate.id != template.id,
                                                                ContractTemplate.status == TemplateStatus.published)):
        TEMPLATE_WORKFLOW.apply(session, other, "archive", actor)


def archive_version(session: Session, actor: User, template: ContractTemplate) -> None:
    TEMPLATE_WORKFLOW.apply(session, template, "archive", actor)


# Thresholds ---------------------------------------------------------------------------------------

def thresholds(session: Session) -> list[ProcurementThreshold]:
    return list(session.scalars(select(ProcurementThreshold).order_by(
        ProcurementThreshold.code, ProcurementThreshold.natures_key, ProcurementThreshold.valid_from.desc())))


def get_threshold(session: Session, threshold_id: int) -> ProcurementThreshold:
    row = session.get(ProcurementThreshold, threshold_id)
    if row is None:
        raise NotFound()
    return row


def supersede_threshold(session: Session, actor: User, current: ProcurementThreshold,
                        data: dict[str, Any]) -> ProcurementThreshold:
    """A new version of a threshold from a date; the current one ends the day before. The rows are
    the history: a consultation dated before the change still reads the old value."""
    start = data["valid_from"]
    if start <= current.valid_from:
        raise ServiceError("La nouvelle valeur s'applique après le début de la version en vigueur "
                           f"({current.valid_from:%d/%m/%Y}).", "valid_from")
    if current.valid_to is not None and start > current.valid_to:
        raise ServiceError("Cette version n'est plus en vigueur à cette date : modifiez la plus récente.", "valid_from")
    later = session.scalar(select(ProcurementThreshold.id).where(
        ProcurementThreshold.code == current.code, ProcurementThreshold.natures_key == current.natures_key,
        ProcurementThreshold.valid_from > current.valid_from))
    if later is not None:
        raise ServiceError("Une version plus récente existe déjà : modifiez celle-là.", "valid_from")
    previous_end = current.valid_to
    current.valid_to = start - dt.timedelta(days=1)
    row = ProcurementThreshold(code=current.code, label=current.label, natures=list(current.natures),
                               natures_key=current.natures_key, amount_ht_cents=data["amount_ht"],
                               strictly_below=current.strictly_below, legal_reference=data["legal_reference"],
                               valid_from=start, valid_to=previous_end, source_url=data.get("source_url") or "",
                               note=data.get("note") or "")
    session.add(row)
    session.flush()
    procedure.forget_thresholds(session)
    audit.record(session, E.threshold_superseded, actor_id=actor.id, tenant_id=None, obj=row, code=row.code,
                 natures=row.natures, before=current.amount_ht_cents, after=row.amount_ht_cents,
                 valid_from=start.isoformat())
    return row


# Dossiers and interviews ------------------------------------------------------------------------------

def dossiers_of(session: Session, tenant: Tenant) -> list[ContractDossier]:
    return list(session.scalars(select(ContractDossier).where(ContractDossier.tenant_id == tenant.id)
                                .order_by(ContractDossier.updated_at.desc(), ContractDossier.id.desc())))


def get_dossier(session: Session, tenant: Tenant, dossier_id: int) -> ContractDossier:
    dossier = session.get(ContractDossier, dossier_id)
    if dossier is None or dossier.tenant_id != tenant.id:
        raise NotFound()
    return dossier


def get_draft(session: Session, tenant: Tenant, draft_id: int) -> ContractDraft:
    draft = session.get(ContractDraft, draft_id)
    if draft is None or draft.tenant_id != tenant.id:
        raise NotFound()
    return draft


def get_document(session: Session, tenant: Tenant, document_id: int) -> ContractDocument:
    doc = session.get(ContractDocument, document_id)
    if doc is None or doc.tenant_id != tenant.id:
        raise NotFound()
    return doc


def create_dossier(session: Session, actor: User, tenant: Tenant, title: str, solution=None) -> ContractDossier:
    _check_buyer(tenant)
    title = " ".join(title.split())
    if not title:
        raise ServiceError("Donnez un intitulé au dossier (l'achat qu'il prépare).", "title")
    dossier = ContractDossier(tenant_id=tenant.id, title=title[:200], solution_id=solution.id if solution else None,
                              created_by_id=actor.id)
    session.add(dossier)
    session.flush()
    audit.record(session, E.dossier_created, actor_id=actor.id, tenant_id=tenant.id, obj=dossier, title=dossier.title)
    return dossier


def prefill_values(tenant: Tenant, solution=None) -> q.Prefill:
    """What Passerelle knows: the collectivité, and the startup of the solution the dossier is about."""
    siren = tenant.siren or (tenant.commune.siren if tenant.commune is not None else None) or \
        (tenant.epci.siren if tenant.epci is not None else None)
    values: dict[str, Any] = {"buyer.name": tenant.name, "buyer.siren": siren or ""}
    if solution is not None:
        owner = solution.owner
        values.update({"startup.name": owner.name, "startup.siren": owner.siren or "",
                       "startup.partners": [{"name": owner.name, "siren": owner.siren or "",
                                             "representative": solution.contact_name or ""}],
                       "solution.name": solution.name, "solution.pitch": solution.pitch})
    return q.Prefill(values)


def start_draft(session: Session, actor: User, dossier: ContractDossier, template: ContractTemplate,
                prefill: q.Prefill) -> ContractDraft:
    """An interview for a kit, starting from the dossier's answers and what Passerelle knows."""
    parsed = questionnaire_of(template)
    names = {question.name for question in parsed.questions}
    shared = {k: v for k, v in (dossier.answers or {}).items() if k in names}
    answers = prefill.apply(parsed, {**{k: v for k, v in q.defaults(parsed).items() if v not in (None, [])}, **shared})
    draft = ContractDraft(tenant_id=dossier.tenant_id, dossier=dossier, template=template, answers=answers)
    session.add(draft)
    dossier.updated_at = utcnow()
    session.flush()
    return draft


def save_step(session: Session, draft: ContractDraft, step_index: int, form: dict[str, Any]) -> dict[str, str]:
    """Keep what a step's form sent; returns its errors (the answers are kept even when some fail)."""
    parsed = questionnaire_of(draft.template)
    step = parsed.steps[step_index]
    answers, errors = q.read_form(parsed, step, form, draft.answers or {})
    draft.answers = answers
    if not errors:
        draft.step = max(draft.step, min(step_index + 1, len(parsed.steps) - 1))
    draft.updated_at = utcnow()
    return errors


BLANK = "[…]"


@dataclass
class Rendered:
    key: str
    title: str
    party_index: int | None
    blocks: list[dict]


def _title(pattern: str, values: dict[str, Any], partner: dict | None) -> str:
    fields = {k: (v if isinstance(v, str) else "") for k, v in values.items()}
    if partner is not None:
        fields["partner"] = partner.get("name") or ""
    return re.sub(r"\{(\w+)\}", lambda m: fields.get(m.group(1), ""), pattern).strip(" —") or pattern


def render_all(session: Session, template: ContractTemplate, answers: dict[str, Any], *,
               sketch: bool = False) -> list[Rendered]:
    """Every document of the kit for these answers (one per partner where the kit says so).
    ``sketch``: a preview before the partners are named shows one copy with blank parties."""
    parsed = questionnaire_of(template)
    values = {**q.defaults(parsed), **answers}
    values.update(kits.figures(session, template.slug, values))
    if sketch:  # what is still to be written shows as a gap to fill, not as nothing
        for question in parsed.questions:
            if question.type in ("text", "textarea") and not values.get(question.name):
                values[question.name] = BLANK
    out = []
    for spec in parsed.documents:
        if spec.per:
            rows = values.get(spec.per) or []
            if not rows and sketch:
                question = parsed.question(spec.per)
                rows = [{c.name: BLANK for c in question.columns if c.type in ("text", "textarea")}] if question else []
            for i, row in enumerate(rows):
                blocks = document.render(template.documents[spec.key], {**values, "partner": row, "partners": rows})
                out.append(Rendered(spec.key, _title(spec.title, values, row), i, blocks))
        else:
            out.append(Rendered(spec.key, _title(spec.title, values, None), None,
                                document.render(template.documents[spec.key], values)))
    return out


def preview(session: Session, draft: ContractDraft) -> list[Rendered]:
    """The documents as they stand (missing answers show blank): the interview's live preview."""
    try:
        return render_all(session, draft.template, draft.answers or {}, sketch=True)
    except document.SourceError:
        return []


def problems(session: Session, draft: ContractDraft) -> dict[str, str]:
    """What stops generation: the unanswered or wrong questions, then the kit's legal checks."""
    parsed = questionnaire_of(draft.template)
    errors = q.missing(parsed, draft.answers or {})
    if not errors:
        for field, message in kits.checks(session, draft.template.slug, draft.answers or {}):
            errors.setdefault(field or "_form", message)
    return errors


def generate(session: Session, actor: User, draft: ContractDraft) -> list[ContractDocument]:
    """The kit's documents, stored with their answers, template version and hash; the draft is done."""
    errors = problems(session, draft)
    if errors:
        field, message = next(iter(errors.items()))
        question = questionnaire_of(draft.template).question(field.split("-")[0])
        where = f" (« {question.label} »)" if question is not None and field != "_form" else ""
        raise ServiceError(message + where, field)
    dossier = draft.dossier
    made = []
    for rendered in render_all(session, draft.template, draft.answers):
        doc = ContractDocument(tenant_id=dossier.tenant_id, dossier=dossier, template=draft.template,
                               document_key=rendered.key, title=rendered.title[:300], answers=dict(draft.answers),
                               party_index=rendered.party_index, blocks=rendered.blocks,
                               content_hash=document.content_hash(rendered.blocks), created_by_id=actor.id)
        session.add(doc)
        made.append(doc)
    session.flush()
    for doc in made:
        audit.record(session, E.document_generated, actor_id=actor.id, tenant_id=dossier.tenant_id, obj=doc,
                     template=draft.template.slug, version=draft.template.version, hash=doc.content_hash)
    # The next kit of the same purchase starts from these answers.
    dossier.answers = {**(dossier.answers or {}), **draft.answers}
    dossier.updated_at = utcnow()
    session.delete(draft)
    session.flush()
    return made


def regenerate(session: Session, doc: ContractDocument) -> tuple[list[dict], bool]:
    """The document's text made again from its answers and version, and whether it says the same."""
    rendered = [r for r in render_all(session, doc.template, doc.answers)
                if r.key == doc.document_key and r.party_index == doc.party_index]
    blocks = rendered[0].blocks if rendered else []
    return blocks, document.content_hash(blocks) == doc.content_hash


def delete_document(session: Session, actor: User, doc: ContractDocument) -> None:
    audit.record(session, E.document_deleted, actor_id=actor.id, tenant_id=doc.tenant_id, obj=doc, title=doc.title)
    session.delete(doc)


def amount_label(cents: int | None) -> str:
    return "" if cents is None else f"{money.euros(cents)} HT"
