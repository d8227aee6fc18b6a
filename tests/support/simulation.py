"""Simulation test support: personas, scenarios, metrics, unit tests and sets created over HTTP, and a user of the
tenant's organization with chosen permission grants."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from tertulia.role.models import Role
from tests.support.conversation import make_service
from tests.support.orgs import Tenant, sign_in

PERSONA_VERSION = {
    "background": "Maria is a retired teacher who sleeps badly and wants practical advice.",
    "preferred_language": "spa",
    "timezone": "Europe/Madrid",
    "user_models": ["Maria prefers short, concrete suggestions.", "Maria walks her dog every morning."],
    "nonsensitive_user_variables": {"city": "Seville"},
    "sensitive_user_variables": {"member_number": "A-1234"},
}
SCENARIO_VERSION = {
    "objective": "Get one concrete tip to fall asleep faster.",
    "instructions": "Describe your sleep trouble, then ask for one tip.",
    "initial_message_type": "user-message",
    "conversation_starts_at": None,
}
BOOL_METRIC = {"type": "boolean"}


async def add_user(client, runtime, tenant: Tenant, grants: list) -> Tenant:  # noqa: ANN001
    """Another user of the tenant's organization holding exactly ``grants``, signed in."""
    from tertulia.user.models import User

    async with runtime.db.sessions() as s:
        role = Role(org_id=tenant.org_id, name=f"Custom{secrets.token_hex(3)}", permission_grants=grants)
        s.add(role)
        await s.flush()
        user = User(org_id=tenant.org_id, first_name="Sim", last_name="Tester", email=f"{secrets.token_hex(4)}@example.com",
                    role_id=role.id, preferences={})
        s.add(user)
        await s.commit()
        user_id = user.user_id
    other = Tenant(tenant.org_id, user_id, tenant.api_key_id, tenant.api_key, role_ids=tenant.role_ids)
    other.token = await sign_in(client, other, user_id)
    return other


async def create_persona(client, tenant: Tenant, name: str = "Maria", **version) -> str:  # noqa: ANN001
    body = {"name": name, "role": "patient", "tags": {"team": "sleep"},
            "initial_version": {**PERSONA_VERSION, **version}}
    r = await client.post(tenant.url("/simulation/persona/"), json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    return r.json()["simulation_persona_id"]


async def create_scenario(client, tenant: Tenant, name: str = "Sleep tip", **version) -> str:  # noqa: ANN001
    body = {"name": name, "tags": {"team": "sleep"}, "initial_version": {**SCENARIO_VERSION, **version}}
    r = await client.post(tenant.url("/simulation/scenario/"), json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    return r.json()["simulation_scenario_id"]


async def create_metric(client, tenant: Tenant, name: str = "Tip given", value: dict = BOOL_METRIC) -> str:  # noqa: ANN001
    body = {"name": name, "applied_to_services": [], "additional_notes": None, "tags": {},
            "initial_version_metric_value": {"description": f"Did the agent achieve: {name}?", "metric_value": value}}
    r = await client.post(tenant.url("/metric/"), json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


@dataclass
class Fixture:
    service_id: str
    agent_id: str
    graph_id: str
    persona_id: str
    scenario_id: str
    metric_id: str


async def simulation_fixture(client, tenant: Tenant, **scenario) -> Fixture:  # noqa: ANN001
    service = await make_service(client, tenant, name=f"Sim{secrets.token_hex(2)}")
    persona_id = await create_persona(client, tenant)
    scenario_id = await create_scenario(client, tenant, **scenario)
    metric_id = await create_metric(client, tenant)
    return Fixture(service.service_id, service.agent_id, service.graph_id, persona_id, scenario_id, metric_id)


def unit_test_body(fx: Fixture, name: str = "Gives a sleep tip", max_interactions: int = 4, **extra) -> dict:
    return {
        "name": name, "description": "The agent gives Maria one concrete tip.", "service_id": fx.service_id,
        "service_version_set_name": "release", "persona_id": fx.persona_id, "scenario_id": fx.scenario_id,
        "max_interactions": max_interactions,
        "success_criterions": [{"name": "tip", "metric_id": fx.metric_id,
                                "criterion": {"type": "boolean", "expected_value": True}}],
        "tags": {"area": "sleep"}, **extra,
    }


async def create_unit_test(client, tenant: Tenant, fx: Fixture, **extra) -> str:  # noqa: ANN001
    r = await client.post(tenant.url("/simulation/unit_test/"), json=unit_test_body(fx, **extra), headers=tenant.headers)
    assert r.status_code == 201, r.text
    return r.json()["simulation_unit_test_id"]


async def create_set(client, tenant: Tenant, runs: list[tuple[str, int]], name: str = "Nightly") -> str:  # noqa: ANN001
    body = {"name": name, "description": "Every night.", "tags": {"when": "nightly"},
            "unit_test_runs": [{"unit_test_id": t, "run_count": n} for t, n in runs]}
    r = await client.post(tenant.url("/simulation/unit_test_set/"), json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    return r.json()["simulation_unit_test_set_id"]
