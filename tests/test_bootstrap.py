"""``tertulia bootstrap --json`` as a real subprocess on its own SQLite file, and the demo service it installs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from tertulia.app import create_app
from tertulia.demo import load_definition
from tertulia.service.resolution import resolve_version_set

KEYS = {"organization_id", "user_id", "api_key_id", "api_key", "service_id"}


def _command() -> list[str]:
    """The installed ``tertulia`` console script of this interpreter (``python -m tertulia.cli`` if absent)."""
    script = Path(sys.executable).with_name("tertulia")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tertulia.cli"]


def _bootstrap(env: dict[str, str]) -> dict:
    done = subprocess.run(
        [*_command(), "bootstrap", "--json"],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    result = json.loads(last)
    assert set(result) == KEYS
    assert all(isinstance(result[k], str) and result[k] for k in KEYS)
    return result


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict, dict]:
    tmp = tmp_path_factory.mktemp("bootstrap")
    url = f"sqlite+aiosqlite:///{tmp / 'boot.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
    env.update(TERTULIA_DATABASE_URL=url, TERTULIA_DATA_DIR=str(tmp / "data"))
    first = _bootstrap(env)
    second = _bootstrap(env)
    return url, tmp, first, second


def test_bootstrap_is_idempotent(bootstrapped):
    _, _, first, second = bootstrapped
    for key in ("organization_id", "user_id", "service_id"):
        assert first[key] == second[key]
    assert first["api_key_id"] != second["api_key_id"]  # a fresh key each run (secrets are stored hashed)


async def test_bootstrap_key_signs_in_and_demo_service_is_usable(bootstrapped):
    from tests.conftest import make_runtime, make_settings

    url, tmp, first, second = bootstrapped
    runtime = await make_runtime(make_settings(url, tmp / "data"))
    try:
        app = create_app(runtime)
        async with LifespanManager(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://tertulia.test"
        ) as client:
            org = first["organization_id"]
            tokens = []
            for result in (first, second):
                r = await client.post(f"/v1/{org}/user/signin_with_api_key", headers={
                    "x-api-key": result["api_key"], "x-api-key-id": result["api_key_id"], "x-user-id": result["user_id"]})
                assert r.status_code == 200, r.text
                tokens.append(r.json()["id_token"])
            h = {"Authorization": f"Bearer {tokens[0]}"}
            wrong = await client.post(f"/v1/{org}/user/signin_with_api_key", headers={
                "x-api-key": "nope", "x-api-key-id": first["api_key_id"], "x-user-id": first["user_id"]})
            assert wrong.status_code == 401

            services = (await client.get(f"/v1/{org}/service/", headers=h)).json()["services"]
            assert [s["id"] for s in services] == [first["service_id"]]
            demo = load_definition()
            assert services[0]["name"] == demo["service"]["name"] and services[0]["is_active"] is True
            graphs = (await client.get(f"/v1/{org}/organization/service_hierarchical_state_machine", headers=h)).json()
            [graph] = graphs["service_hierarchical_state_machines"]
            versions = (await client.get(
                f"/v1/{org}/organization/service_hierarchical_state_machine/{graph['id']}/version", headers=h)).json()
            kinds = {s["type"] for s in versions["state_machine_versions"][0]["states"]}
            assert {"action", "decision", "reflection"} <= kinds
            sets = (await client.get(f"/v1/{org}/dynamic_behavior_set/", headers=h)).json()["dynamic_behavior_sets"]
            assert len(sets) == 1 and sets[0]["applied_to_services"] == [first["service_id"]]

        async with runtime.db.sessions() as session:
            resolved = await resolve_version_set(session, org, first["service_id"], "release")
        assert resolved.agent["identity"]["name"] == demo["agent"]["version"]["identity"]["name"]
        assert resolved.graph.body["terminal_state"] == "goodbye"
        [behavior] = resolved.behaviors
        assert behavior.actions[0]["overrides_instructions"] is True
    finally:
        from tertulia.wiring import close_runtime

        await close_runtime(runtime)
