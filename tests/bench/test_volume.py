"""The production-volume dataset (bench/volume.py) at a tiny scale: what it writes is what it says,
consistent with the product's rules, and a seeded buyer works with it through the real pages."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bench import volume
from marketplace.core.clock import today
from marketplace.core.db import TenantSession, all_tenants, make_engine
from marketplace.core.settings import load_settings
from marketplace.funding.models import Programme, ProgrammeCall, ProgrammeScope, ProgrammeVersion
from marketplace.projects.models import Project, ProjectMatch
from marketplace.purchasing.models import Commitment, GroupPurchase
from tenants.models import Membership, Tenant, User
from tenants.security import verify_password
from tenants.territories.models import Commune

SCALE = 0.01


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, databases):
    """One empty database seeded once for the module (the seed is the slow part: ≈ 15 s)."""
    url = databases.create_empty(f"passerelle_volume_{databases.tag}_{uuid.uuid4().hex[:6]}")
    path = tmp_path_factory.mktemp("volume") / "manifest.json"
    lines: list[str] = []
    result = volume.seed(url, scale=SCALE, manifest=path, log=lines.append)
    engine = make_engine(url)
    session = sessionmaker(bind=engine, class_=TenantSession)()
    yield {"url": url, "result": result, "manifest": json.loads(path.read_text(encoding="utf-8")), "lines": lines,
           "db": session}
    session.close()
    engine.dispose()


def scaled(name: str) -> int:
    return round(volume.VOLUME[name] * SCALE)


def test_the_counts_are_the_scaled_volume_and_the_manifest_says_them(seeded):
    db, counts = seeded["db"], seeded["manifest"]["counts"]
    with all_tenants(db, because="the test counts every tenant's rows"):
        assert counts["collectivites"] == scaled("collectivites")
        assert counts["startups"] == scaled("startups")
        for name, model in [("programmes", Programme), ("calls", ProgrammeCall), ("projects", Project),
                            ("purchases", GroupPurchase)]:
            # The demo's own rows come on top of the volume's.
            assert db.scalar(select(func.count()).select_from(model)) >= counts[name] == scaled(name), name
        assert counts["solutions"] == scaled("solutions")
        assert counts["contracts"] == scaled("contracts")
        assert counts["alerts"] == scaled("alerts")
        assert db.scalar(select(func.count()).select_from(ProjectMatch)) == counts["project_matches"] > 0
        assert db.scalar(select(func.count()).select_from(Commitment)) >= counts["commitments"] > 0
        assert db.scalar(select(func.count()).select_from(Tenant)) > counts["collectivites"] + counts["startups"]
    assert counts["open_purchases"] >= 1 and counts["open_calls"] >= 1


def test_each_step_and_the_total_are_printed_with_a_key_value_summary(seeded):
    lines = seeded["lines"]
    for step in ("migrations", "demo", "programmes_calls_versions", "matching_nightly_run", "contracts", "alerts"):
        assert any(line.strip().startswith(f"{step}:") and line.endswith(" s") for line in lines), step
    assert any(line.startswith("Total : ") for line in lines)
    assert lines[-1].startswith(f"scale={SCALE:g} total_s=") and "projects=" in lines[-1]
    assert set(seeded["result"]["timings_s"]) >= {"migrations", "demo", "total"}


def test_the_manifest_lists_people_who_can_sign_in_with_their_own_objects(seeded):
    db, m = seeded["db"], seeded["manifest"]
    assert m["password"] == volume.PASSWORD == "passerelle-bench-2026"
    assert len(m["search_terms"]) >= 50 and all(1 <= len(t.split()) <= 3 for t in m["search_terms"])
    assert len(m["operators"]) >= 5 and m["buyers"] and m["startups"]
    with all_tenants(db, because="the test reads every seeded tenant's rows"):
        hashes = set(db.scalars(select(User.password_hash).where(User.email.like("%@%.test"),
                                                                 User.email.in_([b["email"] for b in m["buyers"]]))))
        assert len(hashes) == 1 and verify_password(hashes.pop(), m["password"])  # one hash, shared
        for buyer in m["buyers"]:
            user = db.scalar(select(User).where(User.email == buyer["email"]))
            membership = db.scalar(select(Membership).where(Membership.user_id == user.id))
            assert membership.tenant_id == buyer["tenant_id"] and membership.role.value == "admin"
            owners = set(db.scalars(select(Project.tenant_id).where(Project.id.in_(buyer["project_ids"]))))
            assert buyer["project_ids"] and owners == {buyer["tenant_id"]}
            for pid in buyer["purchase_ids"]:
                assert db.scalar(select(Commitment.id).where(Commitment.purchase_id == pid,
                                                             Commitment.tenant_id == buyer["tenant_id"]))
        statuses = set(db.scalars(select(GroupPurchase.status).where(GroupPurchase.id.in_(m["purchase_ids"]))))
        assert {s.value for s in statuses} == {"open"}
        published = db.scalars(select(Programme.status).where(Programme.id.in_(m["programme_ids"]))).all()
        assert published and {s.value for s in published} == {"published"}


def test_the_data_keeps_the_product_rules(seeded):
    db = seeded["db"]
    with all_tenants(db, because="the test checks every tenant's projects"):
        # A project happens in its collectivité's territory: its commune, or a member of its EPCI.
        rows = db.execute(select(Project.commune_insee, Tenant.commune_insee, Tenant.epci_siren, Commune.epci_siren)
                          .join(Tenant, Tenant.id == Project.tenant_id)
                          .join(Commune, Commune.insee == Project.commune_insee)).all()
        assert rows and all(insee == own if own else epci == member_of for insee, own, epci, member_of in rows)
        # Every published programme has a territory and a version, and its open calls close ahead.
        assert not db.scalar(select(func.count()).select_from(Programme).where(
            Programme.status == "published", ~Programme.scope.any()))
        assert not db.scalar(select(func.count()).select_from(Programme).where(
            Programme.version > 0, ~select(ProgrammeVersion.id).where(
                ProgrammeVersion.programme_id == Programme.id).exists()))
        assert not db.scalar(select(func.count()).select_from(ProgrammeCall).where(
            ProgrammeCall.status == "published", ProgrammeCall.closes_on < today()))
        assert db.scalar(select(func.count()).select_from(ProgrammeScope)) > 0
        # Matches point at published programmes only (the nightly run's targets).
        assert not db.scalar(select(func.count()).select_from(ProjectMatch).join(
            Programme, Programme.id == ProjectMatch.programme_id).where(Programme.status != "published"))


def test_a_seeded_buyer_signs_in_and_sees_mes_financements_and_a_project(seeded, tmp_path, redis_url, redis):
    from marketplace.app import create_app

    settings = load_settings(passerelle_home=tmp_path / "home", database_url=seeded["url"], redis_url=redis_url,
                             secret_key="test-secret-key", base_url="http://passerelle.test")
    app = create_app(settings)
    app.config.update(WTF_CSRF_ENABLED=False)
    m, db = seeded["manifest"], seeded["db"]
    buyer = m["buyers"][0]
    client = app.test_client()
    assert client.post("/connexion", data={"email": buyer["email"], "password": "wrong-password-12"}).status_code == 401
    response = client.post("/connexion", data={"email": buyer["email"], "password": m["password"]})
    assert response.status_code == 302
    page = client.get("/espace/financements")
    assert page.status_code == 200
    titles = db.scalars(select(Programme.title).where(Programme.status == "published")).all()
    assert any(title.replace("'", "&#39;") in page.get_data(as_text=True) for title in titles)
    with all_tenants(db, because="the test reads the buyer's project"):
        project = db.get(Project, buyer["project_ids"][0])
    page = client.get(f"/espace/projets/{project.id}")
    assert page.status_code == 200 and project.title.replace("'", "&#39;") in page.get_data(as_text=True)
    app.extensions["passerelle"].engine.dispose()
