"""Rules about tenants, people and access. No Flask here: callers pass the session and the actor."""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, lazyload

from marketplace.core import audit
from marketplace.core.audit import AuditEvent, cross_tenant_read
from marketplace.core.clock import utcnow
from marketplace.core.db import TenantSession, all_tenants, bound_to_tenant
from marketplace.core.errors import NotFound, ServiceError
from marketplace.core.text import fold, one_line, slugify
from tenants.models import (
    ApiToken,
    ClaimStatus,
    Invitation,
    LoginAttempt,
    Membership,
    Role,
    Tenant,
    TenantKind,
    TenantStatus,
    TerritoryClaim,
    User,
    UserSession,
)
from tenants.models import (
    TenantEvent as E,
)
from tenants.security import hash_password, needs_rehash, new_token, password_problem, token_hash, verify_password
from tenants.territories.models import Commune, Epci

INVITATION_VALIDITY = dt.timedelta(days=7)


# Users and sign-in ----------------------------------------------------------------------------

def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_user(session: Session, user_id: object) -> User | None:
    """A user by id, or None for anything that is not one (a stale or forged id)."""
    if type(user_id) is not int or not 0 < user_id < 2**31:
        return None
    return session.get(User, user_id)


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(session: Session, email: str, full_name: str, password: str | None,
                *, is_platform_admin: bool = False) -> User:
    email = normalise_email(email)
    if find_user_by_email(session, email):
        raise ServiceError("Un compte existe déjà avec cette adresse.", "email")
    if password is not None and (problem := password_problem(password)):
        raise ServiceError(problem, "password")
    user = User(
        email=email,
        full_name=full_name.strip(),
        password_hash=hash_password(password) if password else None,
        is_platform_admin=is_platform_admin,
    )
    session.add(user)
    session.flush()
    audit.record(session, E.user_registered, actor_id=user.id, tenant_id=None, obj=user)
    return user


@dataclass
class SignInResult:
    user: User | None
    retry_after: int = 0  # seconds to wait before this address may try this account again

    @property
    def throttled(self) -> bool:
        return self.retry_after > 0


# Past this many failures for one account from one address, each new try waits twice as long
# as the previous one (2 s, 4 s, 8 s…), up to the window.
FIRST_DELAY = dt.timedelta(seconds=2)


def sign_in(session: Session, email: str, password: str, ip: str, *, max_failures: int,
            window: dt.timedelta) -> SignInResult:
    """Check a password. Failures slow down the pair (account, address) only, with growing delays:
    a guesser is slowed down, but the right password from another address always gets through,
    and the people behind a town hall's shared address are not locked out by someone else."""
    email = normalise_email(email)
    now = utcnow()
    failures, last = session.execute(
        select(func.count(), func.max(LoginAttempt.at))
        .where(LoginAttempt.email == email, LoginAttempt.ip == ip, LoginAttempt.at >= now - window)).one()
    if failures >= max_failures and last is not None:
        wait = min(window, FIRST_DELAY * 2 ** min(failures - max_failures, 20))
        if last.tzinfo is None:
            last = last.replace(tzinfo=dt.UTC)
        left = last + wait - now
        if left > dt.timedelta(0):
            return SignInResult(None, retry_after=max(1, int(left.total_seconds() + 0.999)))
    user = find_user_by_email(session, email)
    if user is None or user.is_disabled or not verify_password(user.password_hash if user else None, password):
        session.add(LoginAttempt(email=email, ip=ip, at=now))
        audit.record(session, E.user_sign_in_failed, actor_id=user.id if user else None, tenant_id=None,
                     object_type="users", object_id=user.id if user else None, ip=ip)
        return SignInResult(None)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    audit.record(session, E.user_signed_in, actor_id=user.id, tenant_id=None, obj=user, ip=ip)
    return SignInResult(user)


def set_password(session: Session, user: User, password: str) -> None:
    """A new password ends every signed-in session of the person (a stolen cookie dies with the old
    password)."""
    if problem := password_problem(password):
        raise ServiceError(problem, "password")
    user.password_hash = hash_password(password)
    audit.record(session, E.password_changed, actor_id=user.id, tenant_id=None, obj=user)
    end_sessions_of(session, user, reason="nouveau mot de passe")


# Signed-in sessions, known on the server -----------------------------------------------------

SESSION_LIFETIME = dt.timedelta(days=14)


def open_web_session(session: Session, user: User, ip: str, user_agent: str) -> str:
    """A new signed-in session; returns its token (the browser's cookie carries it, signed)."""
    token, digest = new_token()
    session.add(UserSession(user_id=user.id, token_hash=digest, ip=ip[:45], user_agent=one_line(user_agent)[:200]))
    session.flush()
    return token


class WebIdentity(NamedTuple):
    """Who a signed-in request speaks for: the person, and their memberships in every tenant in
    the tenant switcher's order (by tenant name)."""
    user: User
    memberships: list[Membership]


@functools.cache
def _identity_statement():
    """Built once: the statement of every signed-in request, its token a parameter. Building it
    again on each request (joins, comparisons, options) and computing its cache key cost more
    than SQLAlchemy's execution of it."""
    return (select(UserSession, User, Membership)
            .join(User, User.id == UserSession.user_id)
            .outerjoin(Membership, Membership.user_id == User.id)
            .outerjoin(Tenant, Tenant.id == Membership.tenant_id)
            .where(UserSession.token_hash == bindparam("token_hash"))
            .order_by(Tenant.name, Membership.id)
            .options(contains_eager(Membership.tenant), *_LEAN_MEMBERSHIP))


def identity_of_web_session(session: TenantSession, token: object, user_id: int) -> WebIdentity | None:
    """The session's person and memberships if the session is still open, recent and theirs; else
    None. One round trip on every signed-in request: the session, its person, their memberships
    and their tenants (a person's own memberships: not a cross-tenant read)."""
    if not isinstance(token, str) or not token:
        return None
    with all_tenants(session, because="a person's own memberships (their tenant switcher)"):
        rows = session.execute(_identity_statement(), {"token_hash": token_hash(token)}).all()
    if not rows:
        return None
    row, user, _ = rows[0]
    if row.ended_at is not None or row.user_id != user_id or row.created_at < utcnow() - SESSION_LIFETIME:
        return None
    if user.is_disabled:
        return None
    return WebIdentity(user, [m for _, _, m in rows if m is not None])


def end_web_session(session: Session, token: object) -> None:
    if isinstance(token, str) and token:
        row = session.scalar(select(UserSession).where(UserSession.token_hash == token_hash(token)))
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()


def end_sessions_of(session: Session, user: User, *, reason: str) -> int:
    """End every open session of a person (a password change, a membership removed)."""
    rows = list(session.scalars(select(UserSession).where(UserSession.user_id == user.id,
                                                          UserSession.ended_at.is_(None))))
    now = utcnow()
    for row in rows:
        row.ended_at = now
    if rows:
        audit.record(session, E.user_sessions_ended, actor_id=None, tenant_id=None, obj=user, count=len(rows),
                     reason=reason)
    return len(rows)


# Memberships ----------------------------------------------------------------------------------

# Read on every signed-in request: the person is already loaded (the session's identity map gives
# ``membership.user`` without SQL).
_LEAN_MEMBERSHIP = (lazyload(Membership.user),)


def memberships_of(session: TenantSession, user: User) -> list[Membership]:
    """A user's own memberships in every tenant (their tenant switcher): not a cross-tenant read."""
    with all_tenants(session, because="a person's own memberships (their tenant switcher)"):
        stmt = (
            select(Membership)
            .join(Tenant, Membership.tenant_id == Tenant.id)
            .where(Membership.user_id == user.id)
            .order_by(Tenant.name, Membership.id)
            .options(*_LEAN_MEMBERSHIP)
        )
        return list(session.scalars(stmt))


def membership_for(session: TenantSession, user: User, tenant_id: int) -> Membership | None:
    with all_tenants(session, because="a person's own membership in one tenant"):
        return session.scalar(
            select(Membership).where(Membership.user_id == user.id, Membership.tenant_id == tenant_id)
            .options(*_LEAN_MEMBERSHIP)
        )


def tenant_members(session: TenantSession) -> list[Membership]:
    stmt = select(Membership).join(User, Membership.user_id == User.id).order_by(User.full_name)
    return list(session.scalars(stmt))


def get_membership(session: TenantSession, membership_id: int) -> Membership:
    membership = session.get(Membership, membership_id)
    if membership is None:
        raise NotFound()
    return membership


def _admin_count(session: TenantSession) -> int:
    return session.scalar(select(func.count()).select_from(Membership).where(Membership.role == Role.admin)) or 0


def change_role(session: TenantSession, actor: User, membership: Membership, role: Role) -> None:
    if membership.role == role:
        return
    if membership.role is Role.admin and role is not Role.admin and _admin_count(session) <= 1:
        raise ServiceError("L'organisation doit garder au moins un administrateur.", "role")
    before = membership.role
    membership.role = role
    audit.record(session, E.membership_role_changed, actor_id=actor.id, tenant_id=membership.tenant_id,
                 obj=membership, user_email=membership.user.email, before=before.value, after=role.value)


def remove_member(session: TenantSession, actor: User, membership: Membership) -> None:
    if membership.role is Role.admin and _admin_count(session) <= 1:
        raise ServiceError("Impossible de retirer le dernier administrateur de l'organisation.")
    audit.record(session, E.membership_removed, actor_id=actor.id, tenant_id=membership.tenant_id,
                 obj=membership, user_email=membership.user.email, role=membership.role.value)
    # Signed in right now, the person would keep the tenant's pages open: their sessions end.
    end_sessions_of(session, membership.user, reason="retrait d'une organisation")
    session.delete(membership)


def add_membership(session: Session, user: User, tenant: Tenant, role: Role) -> Membership:
    membership = Membership(user_id=user.id, tenant_id=tenant.id, role=role)
    session.add(membership)
    session.flush()
    return membership


# Invitations ----------------------------------------------------------------------------------

def invite(session: TenantSession, actor: User, tenant: Tenant, email: str, role: Role) -> tuple[Invitation, str]:
    """Create an invitation; the caller mails the returned token after the commit."""
    email = normalise_email(email)
    existing_user = find_user_by_email(session, email)
    if existing_user and membership_for(session, existing_user, tenant.id):
        raise ServiceError("Cette personne fait déjà partie de l'organisation.", "email")
    pending = session.scalar(
        select(Invitation).where(Invitation.email == email, Invitation.accepted_at.is_(None),
                                 Invitation.revoked_at.is_(None))
    )
    if pending is not None:
        if pending.expires_at > utcnow():
            raise ServiceError("Une invitation est déjà en attente pour cette adresse.", "email")
        pending.revoked_at = utcnow()  # an expired one gives way to the new one
        session.flush()
    token, digest = new_token()
    invitation = Invitation(tenant_id=tenant.id, email=email, role=role, token_hash=digest,
                            invited_by_id=actor.id, expires_at=utcnow() + INVITATION_VALIDITY)
    session.add(invitation)
    session.flush()
    audit.record(session, E.invitation_sent, actor_id=actor.id, tenant_id=tenant.id, obj=invitation,
                 email=email, role=role.value)
    return invitation, token


def pending_invitations(session: TenantSession) -> list[Invitation]:
    stmt = select(Invitation).where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None)).order_by(
        Invitation.created_at.desc())
    return list(session.scalars(stmt))


def get_invitation(session: TenantSession, invitation_id: int) -> Invitation:
    invitation = session.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound()
    return invitation


def revoke_invitation(session: TenantSession, actor: User, invitation: Invitation) -> None:
    if invitation.accepted_at or invitation.revoked_at:
        raise ServiceError("Cette invitation n'est plus en attente.")
    invitation.revoked_at = utcnow()
    audit.record(session, E.invitation_revoked, actor_id=actor.id, tenant_id=invitation.tenant_id,
                 obj=invitation, email=invitation.email)


def invitation_by_token(session: TenantSession, token: str) -> Invitation | None:
    """Token holders may read the invitation whatever tenant they are in: the token is the proof."""
    with all_tenants(session, because="the invitation token is the proof: its holder may read the invitation"):
        invitation = session.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
    if invitation is None or invitation.accepted_at or invitation.revoked_at or invitation.expires_at < utcnow():
        return None
    return invitation


def accept_invitation(session: TenantSession, invitation: Invitation, user: User) -> Membership:
    if normalise_email(user.email) != invitation.email:
        raise ServiceError("Cette invitation a été envoyée à une autre adresse électronique.")
    with all_tenants(session, because="the invited person joins the inviting tenant"):
        membership = membership_for(session, user, invitation.tenant_id)
        if membership is None:
            membership = add_membership(session, user, invitation.tenant, invitation.role)
        invitation.accepted_at = utcnow()
        audit.record(session, E.invitation_accepted, actor_id=user.id, tenant_id=invitation.tenant_id,
                     obj=invitation, role=invitation.role.value)
        session.flush()
    return membership


# API tokens -----------------------------------------------------------------------------------

API_TOKEN_PREFIX = "pas_"


def create_api_token(session: TenantSession, actor: User, membership: Membership, name: str) -> tuple[ApiToken, str]:
    name = name.strip()
    if not name:
        raise ServiceError("Donnez un nom au jeton (par exemple « Export tableur »).", "name")
    token, digest = new_token(API_TOKEN_PREFIX)
    api_token = ApiToken(tenant_id=membership.tenant_id, membership_id=membership.id, name=name[:100],
                         prefix=token[:10], token_hash=digest)
    session.add(api_token)
    session.flush()
    audit.record(session, E.api_token_created, actor_id=actor.id, tenant_id=membership.tenant_id,
                 obj=api_token, name=api_token.name)
    return api_token, token


def tokens_of(session: TenantSession, membership: Membership) -> list[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.membership_id == membership.id).order_by(ApiToken.created_at.desc())
    return list(session.scalars(stmt))


def get_api_token(session: TenantSession, token_id: int, membership: Membership) -> ApiToken:
    api_token = session.get(ApiToken, token_id)
    # A member manages their own tokens; an admin may revoke anyone's in the tenant.
    if api_token is None or (api_token.membership_id != membership.id and membership.role is not Role.admin):
        raise NotFound()
    return api_token


def revoke_api_token(session: TenantSession, actor: User, api_token: ApiToken) -> None:
    if api_token.revoked_at is None:
        api_token.revoked_at = utcnow()
        audit.record(session, E.api_token_revoked, actor_id=actor.id, tenant_id=api_token.tenant_id,
                     obj=api_token, name=api_token.name)


def membership_for_api_token(session: TenantSession, token: str) -> Membership | None:
    with all_tenants(session, because="a token names its membership; the token is the authorisation"):
        api_token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
        if api_token is None or api_token.revoked_at is not None:
            return None
        membership = api_token.membership
        if not membership.tenant.is_active or not membership.user.is_active:
            return None
        now = utcnow()
        # Don't write on every call: once a minute is enough to show "last used".
        if api_token.last_used_at is None or now - api_token.last_used_at > dt.timedelta(minutes=1):
            api_token.last_used_at = now
        return membership


# Tenants and territory claims -------------------------------------------------------------

def unique_slug(session: Session, name: str) -> str:
    base = slugify(name)
    slug, n = base, 1
    while session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def create_tenant(session: Session, actor: User | None, kind: TenantKind, name: str, *, siren: str | None = None,
                  commune_insee: str | None = None, epci_siren: str | None = None,
                  status: TenantStatus = TenantStatus.active, admin: User | None = None) -> Tenant:
    name = name.strip()
    if not name:
        raise ServiceError("Le nom de l'organisation est obligatoire.", "name")
    if kind is TenantKind.startup:
        siren = (siren or "").replace(" ", "")
        if not is_valid_siren(siren):
            raise ServiceError("Le numéro SIREN doit compter 9 chiffres valides.", "siren")
    tenant = Tenant(kind=kind, name=name, slug=unique_slug(session, name), status=status, siren=siren,
                    commune_insee=commune_insee, epci_siren=epci_siren)
    session.add(tenant)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ServiceError("Ce territoire a déjà un espace sur Passerelle (ou une demande en cours).",
                           "territory") from None
    if admin is not None:
        # The new tenant's rows belong to it, whatever tenant the caller's session is bound to
        # (a member of one organisation may open another's space).
        with bound_to_tenant(session, tenant.id):
            add_membership(session, admin, tenant, Role.admin)
    audit.record(session, E.tenant_created, actor_id=actor.id if actor else None, tenant_id=tenant.id, obj=tenant,
                 kind=kind.value, name=name)
    return tenant


def is_valid_siren(siren: str) -> bool:
    """Nine digits passing the Luhn check (INSEE's rule for SIREN)."""
    if len(siren) != 9 or not siren.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(siren)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def city_name(commune_name: str) -> str:
    """'Ville de Châteauroux', with French elision and contraction: 'Ville d'Issoudun', 'Ville du Havre'."""
    for article, contracted in (("Le ", "du "), ("Les ", "des ")):
        if commune_name.startswith(article):
            return f"Ville {contracted}{commune_name.removeprefix(article)}"
    if fold(commune_name[:1]) in ("a", "e", "i", "o", "u", "y"):
        return f"Ville d'{commune_name}"
    return f"Ville de {commune_name}"


def claim_territory(session: TenantSession, user: User, *, commune: Commune | None = None, epci: Epci | None = None,
                    job_title: str, message: str = "") -> TerritoryClaim:
    """'Je représente Châteauroux': opens a pending collectivité; an operator confirms it."""
    if (commune is None) == (epci is None):
        raise ServiceError("Choisissez une commune ou une intercommunalité.", "territory")
    if not job_title.strip():
        raise ServiceError("Indiquez votre fonction dans la collectivité.", "job_title")
    name = city_name(commune.name) if commune else epci.name
    tenant = create_tenant(session, user, TenantKind.collectivite, name, status=TenantStatus.pending,
                           commune_insee=commune.insee if commune else None, epci_siren=epci.siren if epci else None,
                           admin=user)
    claim = TerritoryClaim(tenant_id=tenant.id, user_id=user.id, job_title=job_title.strip()[:200],
                           message=message.strip())
    with bound_to_tenant(session, tenant.id):
        session.add(claim)
        session.flush()
    audit.record(session, E.claim_submitted, actor_id=user.id, tenant_id=tenant.id, obj=claim,
                 territory=commune.insee if commune else epci.siren)
    return claim


def pending_claims(session: TenantSession, operator: User) -> list[TerritoryClaim]:
    with cross_tenant_read(session, operator, "revue des demandes de territoire"):
        # Pending first (the status is stored as text: alphabetically "approved" would lead).
        awaiting = case((TerritoryClaim.status == ClaimStatus.pending, 0), else_=1)
        stmt = select(TerritoryClaim).order_by(awaiting, TerritoryClaim.created_at.desc(), TerritoryClaim.id.desc())
        return list(session.scalars(stmt))


def get_claim(session: TenantSession, operator: User, claim_id: int) -> TerritoryClaim:
    with cross_tenant_read(session, operator, "décision sur une demande de territoire", object_id=claim_id):
        claim = session.get(TerritoryClaim, claim_id)
    if claim is None:
        raise NotFound()
    return claim


def decide_claim(session: TenantSession, operator: User, claim: TerritoryClaim, approve: bool, comment: str = "") -> None:
    if claim.status is not ClaimStatus.pending:
        raise ServiceError("Cette demande a déjà été traitée.")
    if not approve and not comment.strip():
        raise ServiceError("Expliquez le refus : le demandeur le lira.", "comment")
    with all_tenants(session, because="the operator decides the claim it has just read (audited in get_claim)"):
        claim.status = ClaimStatus.approved if approve else ClaimStatus.rejected
        claim.decided_by_id = operator.id
        claim.decided_at = utcnow()
        claim.decision_comment = comment.strip()
        tenant = claim.tenant
        if approve:
            tenant.status = TenantStatus.active
            audit.record(session, E.claim_approved, actor_id=operator.id, tenant_id=tenant.id, obj=claim)
            audit.record(session, E.tenant_activated, actor_id=operator.id, tenant_id=tenant.id, obj=tenant)
        else:
            # A rejected tenant keeps its history but no longer holds the territory (partial
            # unique index), so the real representative can claim it.
            tenant.status = TenantStatus.rejected
            audit.record(session, E.claim_rejected, actor_id=operator.id, tenant_id=tenant.id, obj=claim,
                         comment=comment.strip())
        session.flush()


def tenant_audit_log(session: Session, tenant_id: int, page: int, per_page: int = 50) -> tuple[list[AuditEvent], int]:
    base = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.scalars(base.order_by(AuditEvent.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total
