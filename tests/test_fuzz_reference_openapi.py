"""Schemathesis over the *reference* Classic Amigo OpenAPI (not tertulia's self-description), against a real
``tertulia serve`` subprocess, authenticated as the super administrator of a fresh organization: whatever a client
built from Amigo's own spec sends, no response is a 5xx, and the responses of the operations tertulia serves match
Amigo's documented schemas. Operations tertulia does not serve answer 404 (tools, for instance).

Skips without the reference spec (``../shared``, see ``tests/support/reference.py``). Marked ``slow`` (about five
minutes on two busy cores with the default 4 examples per operation): ``python -m pytest -m slow
tests/test_fuzz_reference_openapi.py``; ``TERTULIA_FUZZ_REFERENCE_EXAMPLES`` for a longer run."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.support.reference import shared_file
from tests.support.serve_process import ServeProcess, served
from tests.test_fuzz_openapi import STREAMING, documented_status_code, tenant_for

pytestmark = pytest.mark.slow
MAX_EXAMPLES = int(os.environ.get("TERTULIA_FUZZ_REFERENCE_EXAMPLES", "4"))
# 413: a body over this deployment's configured size limits (documented in the README, not in Amigo's spec).
EXTRA_ALLOWED = {413}


def allowed_status(ctx, response, case):
    if response.status_code in EXTRA_ALLOWED:
        return True
    return documented_status_code(ctx, response, case)


@pytest.fixture(scope="module")
def reference_schema(served: ServeProcess):
    return schemathesis.openapi.from_path(str(shared_file("reference", "amigo-openapi.json")))


schema = schemathesis.pytest.from_fixture("reference_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_amigo_clients_never_cause_a_server_error(case, served, tenant_for):
    fuzz_tenant = tenant_for(case)
    if "organization" in (case.path_parameters or {}):
        case.path_parameters["organization"] = fuzz_tenant.org_id
    headers = {"Authorization": f"Bearer {fuzz_tenant.token}", "X-ORG-ID": fuzz_tenant.org_id}
    try:
        response = case.call(base_url=served.base_url, headers=headers, timeout=30)
        if response.status_code == 404 and response.json() == {"detail": "Not Found"}:
            return  # an operation tertulia does not serve (no route): nothing more to check
        content_type = response.headers.get("content-type") or [""]
        streaming = (content_type[0] if isinstance(content_type, list) else content_type).startswith(STREAMING)
        checks = [not_a_server_error, content_type_conformance]
        if not streaming:
            checks += [response_schema_conformance, allowed_status]
        case.validate_response(response, checks=checks)
    except Exception as exc:
        raise AssertionError(f"{exc}\n--- server log tail ---\n{served.logs()[-6000:]}") from exc
