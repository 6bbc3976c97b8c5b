"""What other features may use of the contracts: which procedure a need calls for, and an interview
started with what they know (a group purchase starts its convention with its members)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from marketplace.contracts import services
from marketplace.contracts.models import NATURES
from marketplace.contracts.procedure import ProcedureAnswer, procedures_for
from marketplace.contracts.questionnaire import Prefill
from tenants.models import Tenant, User

__all__ = ["NATURES", "ProcedureAnswer", "procedures_for", "start_interview"]


def start_interview(session: Session, actor: User, tenant: Tenant, kit: str, title: str,
                    known: dict[str, Any]):
    """A dossier and an interview of this kit for the tenant, prefilled with ``known`` (dotted keys,
    as the kit's questionnaire names them: "purchase.members") on top of what the tenant says."""
    dossier = services.create_dossier(session, actor, tenant, title)
    prefill = services.prefill_values(tenant)
    return services.start_draft(session, actor, dossier, services.published_template(session, kit),
                                Prefill({**prefill.values, **known}))
