"""Tenant isolation: another tenant's object answers 404 on every route, and the guard's holes are closed."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, select, text, update

from marketplace.core.audit import AuditEvent, PlatformEvent
from marketplace.core.db import Base, TenantIsolationError, TenantOwned, all_tenants, bound_to_tenant
from marketplace.models import metadata
from search.indexing import without_indexing
from tenants import services
from tenants.models import ApiToken, Invitation, Membership, Role, TerritoryClaim
from tests.factories import make_city, make_member, make_startup, make_user
from tests.helpers import sign_in


# Every URL parameter that names an object must be listed here: either with a factory that makes
# such an object in *another* tenant, or with the reason it is not tenant-owned. A new route with a
# new parameter fails test_every_object_parameter_is_classified until someone decides.
def _other_membership(db, other):
    return make_member(db, other, Role.member)[1].id


def _other_invitation(db, other):
    admin, _ = make_member(db, other, Role.admin)
    with bound_to_tenant(db, other.id):
        invitation, _ = services.invite(db, admin, other, "invitee@exemple.test", Role.member)
    return invitation.id


def _other_token(db, other):
    user, membership = make_member(db, other, Role.member)
    with bound_to_tenant(db, other.id):
        api_token, _ = services.create_api_token(db, user, membership, "jeton")
    return api_token.id


def _other_claim(db, other):
    user = make_user(db)
    from tenants.territories.models import Commune

    claim = services.claim_territory(db, user, commune=db.get(Commune, "36088"), job_title="DGS")
    return claim.id


def _other_solution(db, other):
    # Solutions are shared once published; a draft is private to its startup (and operators).
    from tests.factories import make_solution

    return make_solution(db, make_startup(db)).id


def _published_solution(db):
    from tests.factories import make_solution

    return make_solution(db, make_startup(db), status="published")


def _other_reference(db, other):
    # A reference naming the other city, on another startup's solution: neither side is ours.
    from tests.factories import make_reference

    return make_reference(db, _published_solution(db), insee=other.commune_insee).id


def _other_shortlist_item(db, other):
    from marketplace.catalog import services as catalog

    with bound_to_tenant(db, other.id):
        item, _ = catalog.add_to_shortlist(db, make_user(db), other, _published_solution(db).id)
    return item.id


def _other_lead(db, other):
    from marketplace.catalog import services as catalog

    with bound_to_tenant(db, other.id):
        lead = catalog.contact_startup(db, make_user(db), other, _published_solution(db).id,
                                       "Bonjour, nous aimerions une démonstration de la solution.")
    return lead.id


def _other_funding_plan(db, other):
    from marketplace.funding.plan import services as plans

    data = {"title": "Plan d'une autre ville", "cost_ht_cents": 100_000, "eligible_cost_ht_cents": 100_000,
            "lines": [{"label": "DSIL", "category": "state_grant", "state_family": "DSIL", "requested_rate_bp": 5000}]}
    with bound_to_tenant(db, other.id):
        return plans.create_plan(db, make_member(db, other, Role.admin)[0], other, data).id


def _other_programme(db, other):
    # Programmes are shared once published; a draft is its funder's (and ANCT's) only.
    from tests.factories import make_programme

    return make_programme(db, status="draft").id


def _other_call(db, other):
    from marketplace.funding import services as funding
    from tests.factories import make_programme, make_user

    programme = make_programme(db, status="draft")
    with without_indexing(db):
        call = funding.create_call(db, make_user(db), programme, {"title": "Appel 2026", "closes_on": None})
    return call.id


def _other_label(db, other):
    # Labels are public lists, but only their operator (and ANCT) edits them: the pages are operators'.
    from tests.factories import make_label

    return make_label(db, "Liste d'un autre opérateur", ()).id


def _other_alert(db, other):
    from marketplace.funding.mine import alerts
    from marketplace.funding.mine.services import Criteria

    user, _ = make_member(db, other, Role.member)
    with bound_to_tenant(db, other.id):
        return alerts.create_alert(db, user, other, {"name": "Alerte d'une autre ville", "email": user.email,
                                                     "frequency": "daily", "criteria": Criteria(q="éclairage")}).id


def _other_import(db, other):
    # Import reports are tenant-owned: only the operator that ran the import reads them.
    from marketplace.funding.importer import runs as import_runs
    from tests.factories import make_operator

    operator = make_operator(db, "Opérateur importateur")
    user, _ = make_member(db, operator, Role.member)
    data = "Nom,Lien,Financeurs,Bénéficiaire,Types d'aides,Récurrence\n" \
           "Aide test,https://exemple.test/aides/1,Banque des Territoires,Communes,Prêt,Permanente\n"
    with without_indexing(db):
        return import_runs.import_programmes(db, user, operator, "aides.csv", data.encode()).id


def _other_dossier(db, other):
    from tests.factories import make_contract_draft

    return make_contract_draft(db, other).dossier_id


def _other_draft(db, other):
    from tests.factories import make_contract_draft

    return make_contract_draft(db, other, "achat-innovant").id


def _other_document(db, other):
    from tests.factories import make_contract_document

    return make_contract_document(db, other).id


def _other_purchase(db, other):
    # A draft group purchase is its coordinator's only; an open one is public (its figures).
    from tests.factories import make_purchase

    return make_purchase(db, other, status="draft").id


def _other_project(db, other):
    # A project is its collectivité's; published as a need, startups read it, never another city.
    from tests.factories import make_project

    return make_project(db, other, need_text="Nous cherchons des capteurs de qualité de l'air pour nos écoles.").id


def _other_tenant(db, other):
    return other.id  # the platform admins' pages: anyone else gets 404


OBJECT_FACTORIES = {
    "tenant_id": _other_tenant,
    "membership_id": _other_membership,
    "invitation_id": _other_invitation,
    "token_id": _other_token,
    "claim_id": _other_claim,
    "solution_id": _other_solution,
    "reference_id": _other_reference,
    "item_id": _other_shortlist_item,
    "lead_id": _other_lead,
    "plan_id": _other_funding_plan,
    "programme_id": _other_programme,
    "call_id": _other_call,
    "label_id": _other_label,
    "import_id": _other_import,
    "alert_id": _other_alert,
    "dossier_id": _other_dossier,
    "draft_id": _other_draft,
    "document_id": _other_document,
    "purchase_id": _other_purchase,
    "project_id": _other_project,
}
NOT_TENANT_OBJECTS = {
    "filename": "static assets",
    "insee": "public territory registry (open data)",
    "siren": "public territory registry (open data)",
    "token": "secret tokens (invitation, password reset): the token itself is the authorisation",
    "job_id": "RQ jobs: operators only; answers 404 to everyone else",
    "user_id": "people's accounts: platform admins' pages only; answers 404 to everyone else",
    "template_id": "contract template versions: shared data, ANCT curators' pages only (404 to everyone else)",
    "threshold_id": "procurement thresholds: shared data, platform admins' pages only (404 to everyone else)",
}


def _object_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.arguments]


def test_every_object_parameter_is_classified(app):
    unknown = {
        (rule.rule, arg)
        for rule in _object_rules(app)
        for arg in rule.arguments
        if arg not in OBJECT_FACTORIES and arg not in NOT_TENANT_OBJECTS
    }
    assert not unknown, f"classify these URL parameters in OBJECT_FACTORIES or NOT_TENANT_OBJECTS: {unknown}"


def test_another_tenants_object_answers_404_on_every_route(app, client, db):
    mine = make_city(db, "36044")
    other = make_city(db, "45155")
    me, membership = make_member(db, mine, Role.admin)
    with bound_to_tenant(db, mine.id):
        _, token = services.create_api_token(db, me, membership, "isolation")
    db.commit()
    checked = 0
    for rule in _object_rules(app):
        ids = [a for a in rule.arguments if a in OBJECT_FACTORIES]
        if not ids:
            continue
        values = {arg: OBJECT_FACTORIES[arg](db, other) for arg in ids}
        db.commit()
        url = rule.rule
        for arg, value in values.items():
            url = re.sub(rf"<(?:\w+:)?{arg}>", str(value), url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            sign_in(client, me, membership)
            if url.startswith("/api/"):  # the API speaks with a personal token
                response = client.open(url, method=method, json={"quantity": 1},
                                       headers={"Authorization": f"Bearer {token}"})
            else:
                response = client.open(url, method=method, data={"role": "viewer", "decision": "approve"})
            assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
            checked += 1
    assert checked >= 6
    # Nothing changed in the other tenant.
    with all_tenants(db, because="the test reads every tenant"):
        assert db.scalar(select(Membership).where(Membership.tenant_id == other.id)) is not None


def test_every_table_with_a_tenant_id_is_guarded():
    """Association tables are the classic hole: a bare Table is not an entity, the ORM criteria skip it."""
    guarded = {m.class_.__table__.name for m in Base.registry.mappers if issubclass(m.class_, TenantOwned)}
    mapped = {m.class_.__table__.name for m in Base.registry.mappers}
    for table in metadata.tables.values():
        if "tenant_id" in table.c and not table.c.tenant_id.nullable:
            assert table.name in mapped, f"{table.name}: tenant-owned link tables must be mapped models"
            assert table.name in guarded, f"{table.name} has a NOT NULL tenant_id but is not TenantOwned"


@pytest.fixture
def two_tenants(db):
    a, b = make_city(db, "36044"), make_startup(db)
    ua, ma = make_member(db, a, Role.admin)
    ub, mb = make_member(db, b, Role.admin)
    db.commit()
    return a, b, ma, mb


def test_queries_see_only_the_bound_tenant(db, two_tenants):
    a, b, ma, mb = two_tenants
    with bound_to_tenant(db, a.id):
        ids = set(db.scalars(select(Membership.id)))
        assert ma.id in ids and mb.id not in ids
        # Joins and relationship loads are filtered too.
        rows = db.execute(select(Membership.id).join(Membership.user)).all()
        assert mb.id not in {r[0] for r in rows}
        # Bulk UPDATE and DELETE cannot reach the other tenant.
        db.execute(update(Membership).values(role=Role.viewer))
        db.execute(delete(Invitation))
    db.expire_all()
    assert db.get(Membership, mb.id).role is Role.admin


def test_identity_map_does_not_leak_another_tenants_object(db, two_tenants):
    a, b, ma, mb = two_tenants
    db.get(Membership, mb.id)  # now in the identity map, loaded without a tenant bound
    with bound_to_tenant(db, a.id):
        assert db.get(Membership, mb.id) is None
        assert db.get(Membership, ma.id) is not None


def test_text_queries_are_refused_in_a_tenant_session(db, two_tenants):
    a, *_ = two_tenants
    with bound_to_tenant(db, a.id):
        with pytest.raises(TenantIsolationError):
            db.execute(text("SELECT id FROM memberships"))
        # An explicit, reviewed opt-out still works.
        rows = db.execute(text("SELECT count(*) FROM memberships").execution_options(all_tenants=True)).scalar()
        assert rows >= 2


def test_new_rows_are_stamped_and_foreign_rows_refused(db, two_tenants):
    a, b, ma, mb = two_tenants
    with bound_to_tenant(db, a.id):
        token = ApiToken(membership_id=ma.id, name="x", prefix="pas_x", token_hash="h" * 64)
        db.add(token)
        db.flush()
        assert token.tenant_id == a.id
        db.add(ApiToken(tenant_id=b.id, membership_id=mb.id, name="y", prefix="pas_y", token_hash="g" * 64))
        with pytest.raises(TenantIsolationError):
            db.flush()
    db.rollback()


def test_cross_tenant_reads_are_explicit_and_audited(db, two_tenants):
    a, b, ma, mb = two_tenants
    operator_user = make_user(db)
    with bound_to_tenant(db, a.id):
        make_claim_user = make_user(db)
        from tenants.territories.models import Commune

        with all_tenants(db, because="the test reads every tenant"):
            services.claim_territory(db, make_claim_user, commune=db.get(Commune, "45155"), job_title="DGS")
        assert db.scalars(select(TerritoryClaim)).all() == []
        claims = services.pending_claims(db, operator_user)
        assert len(claims) >= 1
    event = db.scalars(select(AuditEvent).where(AuditEvent.event_type == PlatformEvent.cross_tenant_read)
                       .order_by(AuditEvent.id)).all()[-1]
    assert event.actor_id == operator_user.id and event.data["reason"]


def test_a_member_of_another_tenant_cannot_switch_into_it(client, db, two_tenants):
    a, b, ma, mb = two_tenants
    sign_in(client, ma.user, ma)
    assert client.post("/espace/changer", data={"tenant_id": b.id}).status_code == 404
