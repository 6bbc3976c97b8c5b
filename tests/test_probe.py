"""The probe: every kind of user requests every route with every kind of object, theirs and others'.

Each endpoint says once, in AUDIENCE, who may use it; a new endpoint fails
test_every_endpoint_has_an_audience until someone decides. The probe then signs in as each persona
(ANCT curator, funder, city admin, member, viewer, startup, anonymous) and, for every route and
method, with objects of their own organisation and of others:

- where the persona is outside the audience, or the object is someone else's (and not one the
  persona reaches across organisations), the answer is a refusal — 404, 403, 401, or the sign-in
  page — never a form error, and nothing in the database changes;
- every page it may read keeps the others' secrets out: the private objects of other
  organisations carry markers, and no marker shows where it should not, in HTML, JSON, CSV, ICS,
  XLSX or PDF.
"""
from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from marketplace.catalog.models import Solution
from marketplace.core.db import all_tenants, bound_to_tenant
from marketplace.models import metadata
from search.indexing import without_indexing
from tenants import services
from tenants.models import Role, TenantKind
from tenants.territories.models import Commune
from tests.factories import (
    make_anct,
    make_city,
    make_label,
    make_member,
    make_operator,
    make_programme,
    make_reference,
    make_solution,
    make_startup,
    make_user,
)
from tests.helpers import sign_in

# Who may use an endpoint ---------------------------------------------------------------------------

CITY, STARTUP, OPERATOR = (TenantKind.collectivite,), (TenantKind.startup,), (TenantKind.operator,)
ANY_KIND = tuple(TenantKind)


@dataclass(frozen=True)
class Persona:
    name: str
    home: str | None = None  # the key of the organisation it acts for, in World.tenants
    kind: TenantKind | None = None
    role: Role | None = None
    curator: bool = False
    funder: bool = False
    may_see: frozenset[str] = frozenset()  # markers of others' private objects it may read

    @property
    def signed_in(self) -> bool:
        return self.home is not None


def public(p: Persona) -> bool:
    return True


def signed_in(p: Persona) -> bool:
    return p.signed_in


def member_of(kinds: tuple[TenantKind, ...], role: Role):
    def allowed(p: Persona) -> bool:
        return p.kind in kinds and p.role is not None and p.role.at_least(role)

    allowed.__name__ = f"{role.value} of {'/'.join(k.value for k in kinds)}"
    return allowed


def operator_staff(p: Persona) -> bool:
    return p.funder or p.curator


def curator(p: Persona) -> bool:
    return p.curator


def platform_admin(p: Persona) -> bool:
    return False  # no persona is one: the organisations' administration is refused to all of them


city_viewer, city_member = member_of(CITY, Role.viewer), member_of(CITY, Role.member)
startup_viewer, startup_member = member_of(STARTUP, Role.viewer), member_of(STARTUP, Role.member)
any_viewer, any_admin = member_of(ANY_KIND, Role.viewer), member_of(ANY_KIND, Role.admin)
coordinator_member = member_of((TenantKind.collectivite, TenantKind.operator), Role.member)
startup_admin = member_of(STARTUP, Role.admin)
city_admin = member_of(CITY, Role.admin)


def reads(get, write=None):
    """GET for some, the other methods for others."""
    return {"GET": get, "*": write or get}


AUDIENCE = {
    # Public pages and the public API.
    "home.index": public, "home.accessibility": public, "home.legal_notice": public, "home.personal_data": public,
    "home.cookies": public, "home.site_map": public, "home.favicon": public, "search.results": public, "search_api.search": public,
    "catalog.index": public, "catalog.solution": public, "catalog.logo": public, "catalog.compare": public,
    "catalog.contact": city_member,
    "funding.index": public, "funding.programme": public, "funding.communes": public,
    "funding.communes_csv": public, "funding.history": public, "funding_mine.calendar_feed": public,
    "funding_mine.confirm_alert": public, "funding_mine.unsubscribe": public,
    "auth.sign_in": public, "auth.register": public, "auth.forgot_password": public,
    "auth.reset_password": public, "auth.accept_invitation": public,
    "api-docs.openapi_json": public, "api-docs.openapi_swagger_ui": public,
    "programmes.programmes": public, "programmes.programme": public, "programmes.programme_communes": public,
    "territory_programmes.commune_programmes": public, "territory_programmes.epci_programmes": public,
    "territories.communes": public, "territories.commune": public, "territories.epci": public,
    "solutions.solutions": public, "solutions.solution": public, "funding_plans.compute": public,
    "home.dev_outbox": public,  # embedded mode, from the machine itself only (tests/test_pages.py)
    # The API with a personal token.
    "me.me": signed_in, "solutions.create": startup_member,
    # Anyone signed in.
    "auth.sign_out": public,  # signing out when not signed in is harmless
    "workspace.home": signed_in, "workspace.switch": signed_in,
    # Every organisation's own space.
    "workspace.members": reads(any_viewer, any_admin), "workspace.change_role": any_admin,
    "workspace.remove_member": any_admin, "workspace.revoke_invitation": any_admin,
    "workspace.audit_log": any_admin, "workspace.tokens": any_viewer, "workspace.revoke_token": any_viewer,
    # A collectivité's space.
    "catalog_ws.shortlist": reads(city_viewer, city_member), "catalog_ws.shortlist_csv": city_viewer,
    "catalog_ws.shortlist_note": city_member, "catalog_ws.shortlist_remove": city_member,
    "catalog_ws.city_references": city_viewer, "catalog_ws.confirm_reference": city_member,
    "catalog_ws.decline_reference": city_member,
    "funding_mine.index": city_viewer, "funding_mine.calendar_download": city_viewer,
    "funding_mine.alert_list": city_viewer, "funding_mine.new_alert": city_viewer,
    "funding_mine.delete_alert": city_viewer, "funding_mine.resend_alert": city_viewer,
    "funding_plan.index": city_viewer, "funding_plan.show": city_viewer, "funding_plan.rules": city_viewer,
    "funding_plan.export_pdf": city_viewer, "funding_plan.export_xlsx": city_viewer,
    "funding_plan.new": city_member, "funding_plan.edit": city_member, "funding_plan.duplicate": city_member,
    "funding_plan.delete": city_member,
    # A startup's space.
    "catalog_ws.my_solutions": startup_viewer, "catalog_ws.references": reads(startup_viewer, startup_member),
    "catalog_ws.leads": startup_viewer, "catalog_ws.lead_handled": startup_member,
    "catalog_ws.new_solution": startup_member, "catalog_ws.edit_solution": startup_member,
    "catalog_ws.submit": startup_member, "catalog_ws.withdraw": startup_member,
    "catalog_ws.withdraw_edit": startup_member, "catalog_ws.archive": startup_member,
    "catalog_ws.restore": startup_member, "catalog_ws.remove_reference": startup_member,
    # Funders (and curators): programmes, calls, labels, imports.
    "funding_op.programmes": operator_staff, "funding_op.new_programme": operator_staff,
    "funding_op.edit_programme": operator_staff, "funding_op.scope": operator_staff,
    "funding_op.workflow": operator_staff, "funding_op.held_changes": operator_staff,
    "funding_op.held_change": operator_staff, "funding_op.new_call": operator_staff,
    "funding_op.edit_call": operator_staff, "funding_op.call_workflow": operator_staff,
    "funding_op.import_programmes": operator_staff, "funding_op.import_report": operator_staff,
    "funding_op.labels": operator_staff, "funding_op.label": operator_staff, "funding_op.bulk": operator_staff,
    # ANCT curators: moderation, claims, background jobs.
    "catalog_op.moderation": curator, "catalog_op.review": curator, "catalog_op.operator_archive": curator,
    "operator.claims": curator, "operator.claim": curator,
    "ops.jobs": curator, "ops.retry": curator, "ops.search_index": curator, "ops.rebuild_search_index": curator,
    "ops.test_worker": curator,
    # Contracts: a collectivité's dossiers (members write, viewers read); ANCT's templates; thresholds.
    "contracts.index": city_viewer, "contracts.dossier": city_viewer, "contracts.show_document": city_viewer,
    "contracts.document_docx": city_viewer, "contracts.document_pdf": city_viewer,
    "contracts.new_dossier": city_member, "contracts.new_draft": city_member, "contracts.interview": city_member,
    "contracts.live_preview": city_member, "contracts.review": city_member, "contracts.generate": city_member,
    "contracts.delete_draft": city_member, "contracts.delete_document": city_member,
    "contracts_op.templates": curator, "contracts_op.template": curator, "contracts_op.new_version": curator,
    "contracts_op.publish": curator, "contracts_op.archive": curator,
    "procurement_rules.thresholds": platform_admin, "procurement_rules.supersede": platform_admin,
    "procurement.decide": public,
    "matching.preview": public,
    # Group purchases: public pages and figures; a city's commitment; the coordinator's pages; the
    # startup's offer.
    "purchasing.index": public, "purchasing.show": public, "purchasing.commit": city_member,
    "purchasing.withdraw": city_member, "purchasing_ws.mine": any_viewer,
    "purchasing_ws.new": coordinator_member, "purchasing_ws.edit": coordinator_member,
    "purchasing_ws.open_": coordinator_member, "purchasing_ws.extend": coordinator_member,
    "purchasing_ws.award": coordinator_member, "purchasing_ws.cancel": coordinator_member,
    "purchasing_ws.members": coordinator_member, "purchasing_ws.members_csv": coordinator_member,
    "purchasing_ws.convention": coordinator_member, "purchasing_ws.offer": startup_member,
    "group_purchases.purchases": public, "group_purchases.purchase": public,
    "group_purchases.put_commitment": city_member, "group_purchases.delete_commitment": city_member,
    # Projects: a collectivité's (viewers read, members write, admins set the digest's threshold); the
    # needs it publishes are read by every startup and answered by its members.
    "projects.index": city_viewer, "projects.show": city_viewer, "projects.new": city_member,
    "projects.edit": city_member, "projects.delete": city_member, "projects.publish_need": city_member,
    "projects.withdraw_need": city_member, "projects.threshold": city_admin,
    "needs.index": startup_viewer, "needs.show": startup_viewer, "needs.answer": startup_member,
    # Billing: a startup's subscription (its admins pay); Stripe's webhook (its signature is the key).
    "billing.subscription": startup_viewer, "billing.checkout": startup_admin, "billing.portal": startup_admin,
    "billing.webhook": public, "catalog_ws.leads_csv": startup_viewer, "catalog_ws.statistics": startup_viewer,
    # Platform admins.
    "admin.tenants": platform_admin, "admin.tenant": platform_admin, "admin.suspend": platform_admin,
    "admin.reactivate": platform_admin, "admin.disable_user": platform_admin, "admin.enable_user": platform_admin,
}
STATIC = {"static", "dsfr_static", "swagger_static"}

# Published objects are everyone's to read on these endpoints (and only there).
PUBLIC_READERS = {"catalog.solution", "catalog.logo", "catalog.contact", "solutions.solution",
                  "funding.programme", "funding.communes", "funding.communes_csv", "funding.history",
                  "programmes.programme", "programmes.programme_communes",
                  # an open group purchase: anyone reads its figures, any city may join it
                  "purchasing.show", "purchasing.commit", "purchasing.withdraw", "group_purchases.purchase",
                  "group_purchases.put_commitment", "group_purchases.delete_commitment",
                  # a need a city published: every startup reads it and may answer it
                  "needs.show", "needs.answer"}

# Object kinds an ANCT curator reaches in every organisation: it reviews solutions and programmes
# (their calls and labels with them) and decides territory claims.
CURATOR_REACH = {"solution_id", "programme_id", "call_id", "label_id", "claim_id", "template_id"}

# Markers of private objects, and who besides their owner may read them.
SECRETS = {
    "SECRET_PLAN_V", "SECRET_ALERTE_V", "SECRET_JETON_V", "secret.invite.v@exemple.test", "SECRET_MEMBRE_V",
    "SECRET_NOTE_V", "SECRET_MESSAGE_V", "SECRET_BROUILLON_W", "SECRET_PROGRAMME_G", "SECRET_APPEL_G",
    "SECRET_IMPORT_G", "SECRET_DEMANDEUR", "secret.demandeur@exemple.test", "SECRET_FONCTION", "SECRET_CONTRAT_V",
    "SECRET_BROUILLON_CONTRAT_V", "SECRET_ACHAT_BROUILLON_V", "SECRET_NOTE_ENGAGEMENT_V",
    # A project, and what a published need keeps to its city: the description, the cost, the answers.
    "SECRET_PROJET_V", "SECRET_DESCRIPTION_PROJET_V", "9\u202f876\u202f543,21", "SECRET_REPONSE_V",
}
CURATOR_SEES = frozenset({"SECRET_BROUILLON_W", "SECRET_PROGRAMME_G", "SECRET_APPEL_G", "SECRET_DEMANDEUR",
                          "secret.demandeur@exemple.test", "SECRET_FONCTION"})

PERSONAS = [
    Persona("curateur ANCT", "ANCT", TenantKind.operator, Role.member, curator=True, funder=True, may_see=CURATOR_SEES),
    Persona("financeur", "F", TenantKind.operator, Role.member, funder=True),
    Persona("admin de ville", "A", TenantKind.collectivite, Role.admin),
    Persona("membre de ville", "A", TenantKind.collectivite, Role.member),
    Persona("lecteur de ville", "A", TenantKind.collectivite, Role.viewer),
    Persona("startup", "S", TenantKind.startup, Role.admin),
    Persona("anonyme"),
]


def audience_of(endpoint: str, method: str):
    spec = AUDIENCE[endpoint]
    if isinstance(spec, dict):
        return spec.get(method, spec["*"])
    return spec


# The world -------------------------------------------------------------------------------------------

@dataclass
class Obj:
    id: object
    owners: frozenset[str]  # organisations it belongs to (a reference and a lead have two sides)
    published: bool = False


@dataclass
class World:
    tenants: dict = field(default_factory=dict)
    people: dict = field(default_factory=dict)  # persona name -> (user, membership, api token)
    objects: dict = field(default_factory=dict)  # URL parameter -> [Obj]

    def add(self, kind: str, id_, *owners: str, published: bool = False) -> None:
        self.objects.setdefault(kind, []).append(Obj(id_, frozenset(owners), published))


def _plan(db, user, tenant, title):
    from marketplace.funding.plan import services as plans

    data = {"title": title, "cost_ht_cents": 100_000, "eligible_cost_ht_cents": 100_000,
            "lines": [{"label": "DSIL", "category": "state_grant", "state_family": "DSIL", "requested_rate_bp": 5000}]}
    with bound_to_tenant(db, tenant.id):
        return plans.create_plan(db, user, tenant, data)


def _alert(db, user, tenant, name):
    from marketplace.funding.mine import alerts
    from marketplace.funding.mine.services import Criteria

    with bound_to_tenant(db, tenant.id):
        return alerts.create_alert(db, user, tenant, {"name": name, "email": user.email, "frequency": "daily",
                                                      "criteria": Criteria(q="éclairage")})


def _city_side(db, world, key, tenant, admin, marks: bool):
    """A collectivité's private objects: a plan, an alert, a member with a token, an invitation."""
    suffix = "_" + key
    secret = (lambda s: f"SECRET_{s}{suffix}") if marks else (lambda s: f"{s.title()} de {tenant.name}")
    world.add("plan_id", _plan(db, admin, tenant, secret("PLAN")).id, key)
    world.add("alert_id", _alert(db, admin, tenant, secret("ALERTE")).id, key)
    member, membership = make_member(db, tenant, Role.member, name=secret("MEMBRE"))
    world.add("membership_id", membership.id, key)
    with bound_to_tenant(db, tenant.id):
        token, _ = services.create_api_token(db, member, membership, secret("JETON"))
        invitation, _ = services.invite(db, admin, tenant, f"secret.invite.{key.lower()}@exemple.test"
                                        if marks else f"invitee.{key.lower()}@exemple.test", Role.member)
    world.add("token_id", token.id, key)
    world.add("invitation_id", invitation.id, key)


def build_world(db) -> World:
    from marketplace.catalog import services as catalog
    from marketplace.funding import services as funding
    from marketplace.funding.importer import runs as import_runs

    world = World()
    t = world.tenants
    t["ANCT"], t["F"], t["G"] = make_anct(db), make_operator(db, "Région Centre-Val de Loire"), \
        make_operator(db, "Banque des Territoires")
    t["A"], t["V"] = make_city(db, "36044"), make_city(db, "36088")
    t["S"], t["W"] = make_startup(db, "Lumio Territoires"), make_startup(db, "Autre Startup", siren="552100554")
    for persona in PERSONAS:
        if persona.signed_in:
            user, membership = make_member(db, t[persona.home], persona.role)
            with bound_to_tenant(db, t[persona.home].id):
                _, secret_token = services.create_api_token(db, user, membership, "sonde")
            world.people[persona.name] = (user, membership, secret_token)
    v_admin, _ = make_member(db, t["V"], Role.admin)
    a_admin = world.people["admin de ville"][0]

    # Solutions: a draft and a published one on each side, references naming each city, the cities'
    # shortlists and leads.
    for key, city_key, marks in (("S", "A", False), ("W", "V", True)):
        owner = t[key]
        draft = make_solution(db, owner, name="SECRET_BROUILLON_W" if marks else "Brouillon de Lumio")
        published = make_solution(db, owner, status="published", name=f"Solution publiée {key}")
        world.add("solution_id", draft.id, key)
        world.add("solution_id", published.id, key, published=True)
        reference = make_reference(db, published, insee=t[city_key].commune_insee)
        world.add("reference_id", reference.id, key, city_key)
        city_admin = v_admin if marks else a_admin
        with bound_to_tenant(db, t[city_key].id):
            item, _ = catalog.add_to_shortlist(db, city_admin, t[city_key], published.id,
                                               note="SECRET_NOTE_V" if marks else "Note de la ville")
            lead = catalog.contact_startup(db, city_admin, t[city_key], published.id,
                                           "SECRET_MESSAGE_V : nous aimerions une démonstration." if marks
                                           else "Bonjour, nous aimerions une démonstration.")
        world.add("item_id", item.id, city_key)
        world.add("lead_id", lead.id, key, city_key)
    _city_side(db, world, "A", t["A"], a_admin, marks=False)
    _city_side(db, world, "V", t["V"], v_admin, marks=True)

    # Programmes: a draft and a published one per funder, with a draft call on the published one,
    # a label and an import report.
    for key, marks in (("F", False), ("G", True)):
        owner = t[key]
        funder_user = make_member(db, owner, Role.member)[0]
        draft = make_programme(db, owner, status="draft", title="SECRET_PROGRAMME_G" if marks else "Brouillon F")
        published = make_programme(db, owner, title=f"Programme publié {key}")
        world.add("programme_id", draft.id, key)
        world.add("programme_id", published.id, key, published=True)
        with without_indexing(db):
            call = funding.create_call(db, funder_user, published,
                                       {"title": "SECRET_APPEL_G" if marks else "Appel F", "closes_on": None})
        world.add("call_id", call.id, key)
        world.add("label_id", make_label(db, f"Liste {key}", ("36044",), owner=owner).id, key)
        data = "Nom,Lien,Financeurs,Bénéficiaire,Types d'aides,Récurrence\n" \
               f"Aide {key},https://exemple.test/aides/{key},Banque des Territoires,Communes,Prêt,Permanente\n"
        with without_indexing(db), bound_to_tenant(db, owner.id):
            report = import_runs.import_programmes(db, funder_user, owner, "SECRET_IMPORT_G.csv" if marks
                                                   else "aides-f.csv", data.encode())
        world.add("import_id", report.id, key)

    # Contracts: a dossier with a generated document and an interview in progress on each city side;
    # the published template versions (ANCT's pages) and a threshold (the platform admins').
    from marketplace.contracts import services as contracts
    from tests.factories import make_contract_document, make_contract_draft

    for key, marks in (("A", False), ("V", True)):
        doc = make_contract_document(db, t[key], title="SECRET_CONTRAT_V" if marks else "Contrat de la ville")
        draft = make_contract_draft(db, t[key], "achat-innovant", title="SECRET_BROUILLON_CONTRAT_V" if marks
                                    else "Brouillon de la ville")
        world.add("dossier_id", doc.dossier_id, key)
        world.add("document_id", doc.id, key)
        world.add("draft_id", draft.id, key)
        world.add("dossier_id", draft.dossier_id, key)
    for template in contracts.published_templates(db)[:1]:
        world.add("template_id", template.id, "ANCT")
    world.add("threshold_id", contracts.thresholds(db)[0].id, "platform")

    # Group purchases: on each city side a draft and an open purchase around the side's published
    # solution; the victim city commits to its own with a private note.
    from marketplace.purchasing import services as purchasing
    from tests.factories import make_offer, make_purchase

    for key, solution_key, marks in (("A", "S", False), ("V", "W", True)):
        published = next(o.id for o in world.objects["solution_id"] if solution_key in o.owners and o.published)
        solution = db.get(Solution, published)
        make_offer(db, solution)
        draft = make_purchase(db, t[key], solution, status="draft",
                              title="SECRET_ACHAT_BROUILLON_V" if marks else "Brouillon d'achat groupé")
        opened = make_purchase(db, t[key], solution, title=f"Achat groupé ouvert {key}")
        world.add("purchase_id", draft.id, key)
        world.add("purchase_id", opened.id, key, published=True)
        if marks:
            with bound_to_tenant(db, t[key].id):
                purchasing.commit(db, v_admin, t[key], opened, 120, note="SECRET_NOTE_ENGAGEMENT_V")

    # Projects: on each city side a private project and one published as a need (startups read its
    # title and need, never its description nor its cost); another startup answers the victim's need.
    from marketplace.projects.models import NeedAnswer
    from tests.factories import make_project

    for key, marks in (("A", False), ("V", True)):
        author = v_admin if marks else a_admin
        private = make_project(db, t[key], actor=author, title="SECRET_PROJET_V" if marks else "Projet de la ville")
        need = make_project(db, t[key], actor=author, title=f"Besoin publié {key}",
                            description="SECRET_DESCRIPTION_PROJET_V" if marks else "Description du projet",
                            cost_ht_cents=987_654_321 if marks else 100_000,
                            need_text=f"Nous cherchons une solution pour le besoin {key}, sur trois écoles.")
        world.add("project_id", private.id, key)
        world.add("project_id", need.id, key, published=True)
        if marks:
            answering = next(o.id for o in world.objects["solution_id"] if "W" in o.owners and o.published)
            db.add(NeedAnswer(tenant_id=t[key].id, project_id=need.id, solution_id=answering,
                              startup_tenant_id=t["W"].id, message="SECRET_REPONSE_V : notre solution convient."))

    # A territory claim (a person, not yet an organisation), the organisations, a person.
    claimant = make_user(db, "secret.demandeur@exemple.test", "SECRET_DEMANDEUR")
    claim = services.claim_territory(db, claimant, commune=db.get(Commune, "18033"), job_title="SECRET_FONCTION",
                                     message="Je représente la commune.")
    world.add("claim_id", claim.id, "claimant")
    for key in ("A", "V"):
        world.add("tenant_id", t[key].id, key)
    world.add("user_id", v_admin.id, "V")
    db.commit()
    return world


# Values for the parameters that do not name a tenant's object.
PLAIN_VALUES = {"token": "lien-inconnu", "job_id": "tache-inconnue", "insee": "36088", "siren": "243600327"}
FORM = {"role": "admin", "decision": "approve", "reason": "Sonde", "note": "Sonde", "name": "Sonde",
        "title": "Sonde", "email": "sonde@exemple.test", "action": "publish", "message": "Sonde de sécurité."}


# Reading responses -------------------------------------------------------------------------------

def _readable(response) -> str:
    body = response.get_data()
    if body.startswith(b"PK"):  # XLSX, DOCX: the text is in the XML parts
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return " ".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    if body.startswith(b"%PDF"):
        from pypdf import PdfReader

        return " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(body)).pages)
    return body.decode("utf-8", "replace")


class _Offers(HTMLParser):
    """The forms a page posts to and the links it follows, as (method, path)."""

    def __init__(self):
        super().__init__()
        self.found: set[tuple[str, str]] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self.found.add(("POST", attrs.get("action") or ""))
        elif tag == "a" and (attrs.get("href") or "").startswith("/"):
            self.found.add(("GET", attrs["href"]))


def _offered(app, html: str, here: str) -> set[tuple[str, str]]:
    """(method, endpoint) of every action and page this HTML offers (the site's own)."""
    parser = _Offers()
    parser.feed(html)
    adapter = app.url_map.bind("passerelle.test")
    endpoints = set()
    for method, target in parser.found:
        path = urlsplit(target or here).path
        try:
            endpoint, _ = adapter.match(path, method=method)
        except HTTPException:
            continue  # a link the app does not route (an anchor, a file under /static…)
        endpoints.add((method, endpoint))
    return endpoints


def _refused(response, persona: Persona, api: bool) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    if response.status_code in (302, 303) and not persona.signed_in and not api:
        return "/connexion" in response.headers.get("Location", "")
    return False


def fingerprint(db) -> dict[str, str]:
    """A digest of every table but the journal, the sessions and when a token was last used."""
    digests = {}
    with all_tenants(db, because="the probe compares the whole database before and after"):
        for table in metadata.sorted_tables:
            if table.name in {"audit_events", "user_sessions"}:
                continue
            columns = [c for c in table.c if c.name != "last_used_at"]
            rows = db.execute(select(*columns).order_by(*table.primary_key.columns)).all()
            digests[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


# The probe ----------------------------------------------------------------------------------------

def _requests(app, world: World):
    """(rule, method, url, object or None) for every route, method and kind of object."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in STATIC:
            continue
        kinds = [a for a in rule.arguments if a not in PLAIN_VALUES]
        assert len(kinds) <= 1, f"{rule.rule}: the probe handles one object per route"
        candidates = world.objects[kinds[0]] if kinds else [None]
        for obj in candidates:
            url = rule.rule
            for arg in rule.arguments:
                value = obj.id if arg in kinds else PLAIN_VALUES[arg]
                url = re.sub(rf"<(?:\w+:)?{arg}>", str(value), url)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method, url, (kinds[0] if kinds else None), obj


def _allowed(persona: Persona, rule, method: str, kind: str | None, obj: Obj | None) -> bool:
    if not audience_of(rule.endpoint, method)(persona):
        return False
    if obj is None or persona.home in obj.owners:
        return True
    if obj.published and rule.endpoint in PUBLIC_READERS:
        return True
    return persona.curator and kind in CURATOR_REACH


def test_every_endpoint_has_an_audience(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - STATIC
    assert not endpoints - AUDIENCE.keys(), f"say who may use these endpoints in AUDIENCE: {endpoints - AUDIENCE.keys()}"
    assert not AUDIENCE.keys() - endpoints, f"endpoints gone: {AUDIENCE.keys() - endpoints}"
    params = {a for rule in app.url_map.iter_rules() if rule.endpoint not in STATIC for a in rule.arguments}
    from tests.tenants.test_isolation import NOT_TENANT_OBJECTS, OBJECT_FACTORIES

    assert params - PLAIN_VALUES.keys() <= OBJECT_FACTORIES.keys() | NOT_TENANT_OBJECTS.keys()


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.name)
def test_the_probe_finds_nothing_a_persona_should_not_see_or_change(app, db, persona):
    world = build_world(db)
    client = app.test_client()
    headers = {}
    if persona.signed_in:
        user, membership, api_token = world.people[persona.name]
        sign_in(client, user, membership)
        headers = {"Authorization": f"Bearer {api_token}"}
    hidden = SECRETS - persona.may_see
    before = fingerprint(db)
    problems, writes, checked = [], [], 0
    for rule, method, url, kind, obj in _requests(app, world):
        api = url.startswith("/api/")
        allowed = _allowed(persona, rule, method, kind, obj)
        if allowed and method != "GET":
            continue  # their right, tested with each feature; the probe keeps the world as it is
        response = client.open(url, method=method, data=None if api else FORM, json=FORM if api else None,
                               headers=headers if api else {})
        checked += 1
        if response.status_code >= 500:
            problems.append(f"{method} {url} → {response.status_code}")
        elif not allowed and not _refused(response, persona, api):
            problems.append(f"{method} {url} → {response.status_code}, should be refused")
        elif response.status_code == 200:
            shown = [m for m in hidden if m in _readable(response)]
            if shown:
                problems.append(f"{method} {url} shows {shown}")
            if response.mimetype == "text/html":
                # What a page offers, this persona may do: no button that leads to a 403.
                for offered_method, endpoint in _offered(app, response.get_data(as_text=True), url):
                    if endpoint in AUDIENCE and not audience_of(endpoint, offered_method)(persona):
                        problems.append(f"{method} {url} offers {offered_method} {endpoint}, out of its reach")
        if method != "GET":
            writes.append(f"{method} {url}")
    db.expire_all()
    after = fingerprint(db)
    changed = sorted(name for name in before if before[name] != after[name])
    assert checked > 150
    assert not problems, f"{persona.name}:\n" + "\n".join(problems)
    assert not changed, f"{persona.name}: refused requests changed {changed} (among {len(writes)} writes)"
