"""Schemathesis drives the whole OpenAPI document over real HTTP, with and without a token: whatever
comes in, the API answers with a status it documents or a 4xx — never a 5xx.

A bounded run (a few examples per operation) keeps the suite fast; raise FUZZ_EXAMPLES to dig.
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from marketplace.core.db import make_engine, make_session_factory
from marketplace.core.settings import load_settings
from tenants import services as tenant_services
from tenants.models import Role
from tests.factories import make_member, make_startup

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))


@pytest.fixture
def fuzzed(tmp_path, fresh_database_url, redis_url, live_server):
    """The app on a database of its own, served over HTTP, and a startup member's API token."""
    from marketplace.app import create_app

    engine = make_engine(fresh_database_url)
    with make_session_factory(engine)() as session:
        startup = make_startup(session, "Startup fuzzée")
        user, membership = make_member(session, startup, Role.admin)
        session.flush()
        _, token = tenant_services.create_api_token(session, user, membership, "fuzz")
        session.commit()
    app = create_app(load_settings(passerelle_home=tmp_path / "home", secret_key="fuzz-secret", redis_url=redis_url,
                                   database_url=fresh_database_url, sign_in_rate="100000/minute"), engine=engine)
    base = live_server(app)
    yield base, token
    engine.dispose()


def test_the_api_never_answers_a_server_error(fuzzed):
    """Every operation, positive and negative data (valid and invalid inputs), with and without a token."""
    from hypothesis import given

    base, token = fuzzed
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    failures, calls = [], []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                for headers in ({}, {"Authorization": f"Bearer {token}"}):
                    response = case.call(base_url=base, headers=headers)
                    calls.append(response.status_code)
                    try:
                        case.validate_response(response, checks=CHECKS)
                    except AssertionError as failure:  # schemathesis' failures are AssertionErrors
                        failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200}"
                                        f" → {response.status_code}: {str(failure)[:400]}")

            try:
                run()
            except Unsatisfiable:  # e.g. no invalid input exists for an operation without parameters
                continue
    print(sorted(__import__("collections").Counter(calls).items()), [o.method+" "+o.path for o in operations])
    assert len(calls) >= 4 * len(operations), "the fuzzer hardly called the API"
    assert not failures, "\n".join(failures[:20])
