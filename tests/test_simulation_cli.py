"""``tertulia simulate run`` and ``tertulia simulate from-conversation`` as real subprocesses against the suite's
database with the fake LLM (``TERTULIA_LLM_PROVIDER=fake``), and ``run_set`` in-process with a scripted LLM for the
passing path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tertulia.engine.fakes import ScriptedLLM
from tertulia.simulator.cli import run_set
from tests.conftest import JWT_SECRET
from tests.support.conversation import start
from tests.support.simulation import create_set, create_unit_test, simulation_fixture


def cli(migrated: str, tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    environment = {**os.environ, "TERTULIA_DATABASE_URL": migrated, "TERTULIA_LLM_PROVIDER": "fake",
                   "TERTULIA_DATA_DIR": str(tmp_path / "data"), "TERTULIA_JWT_SECRET": JWT_SECRET,
                   "TERTULIA_JOBS_IN_PROCESS": "0", "COLUMNS": "200", **env}
    return subprocess.run([sys.executable, "-m", "tertulia.cli", *args], env=environment, capture_output=True,
                          text=True, timeout=240)


async def test_cli_run_reports_junit_and_exit_codes(client, tenant, migrated, tmp_path):
    fx = await simulation_fixture(client, tenant)
    test_id = await create_unit_test(client, tenant, fx, name="Never satisfied", max_interactions=2)
    await create_set(client, tenant, [(test_id, 1)], name="CLI set")
    out = tmp_path / "junit.xml"
    # the fake LLM's simulated user never reaches the objective and its judge answers false: every run fails
    done = cli(migrated, tmp_path, "simulate", "run", "--set", "CLI set", "--org", tenant.org_id, "--k", "2",
               "--junit", str(out), "--quiet")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Never satisfied" in done.stdout and "pass^k" in done.stdout and "k=2" in done.stdout
    suite = ET.parse(out).getroot().find("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("CLI set", "2", "2", "0")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["Never satisfied #1", "Never satisfied #2"]
    assert cases[0].find("failure").get("message").startswith("Failed: max_interactions (2)")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["Never satisfied.pass_rate"] == "0.0000" and props["Never satisfied.ci95_high"].startswith("0.65")

    lenient = cli(migrated, tmp_path, "simulate", "run", "--set", "CLI set", "--org", tenant.org_id, "--min-pass", "0")
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "Never satisfied" in lenient.stderr and "1/1" in lenient.stderr  # the progress bar, finished
    missing = cli(migrated, tmp_path, "simulate", "run", "--set", "No such set", "--org", tenant.org_id, "--quiet")
    assert missing.returncode == 2 and "No unit test set named" in missing.stderr
    runs = (await client.get(tenant.url("/simulation/unit_test_set_run/"), headers=tenant.headers)).json()
    assert len(runs["simulation_unit_test_set_runs"]) == 2
    assert all(r["is_completed"] and r["creator"]["user_id"] == "tertulia-cli" for r in runs["simulation_unit_test_set_runs"])


@pytest.fixture
def llm(runtime):
    previous = runtime.llm
    runtime.llm = ScriptedLLM()
    yield runtime.llm
    runtime.llm = previous


async def test_run_set_passes_when_every_repetition_passes(client, runtime, tenant, llm, tmp_path):
    fx = await simulation_fixture(client, tenant)
    test_id = await create_unit_test(client, tenant, fx, name="Gives a tip")
    await create_set(client, tenant, [(test_id, 2)], name="Green set")

    def user(request, schema):  # noqa: ANN001 - order-independent: two conversations run at once
        opening = "has not started" in request.messages[-1].content
        return {"objective_reached": not opening, "message": "Any tip for sleeping?" if opening else "Great."}

    for _ in range(4):
        llm.script_decision("SimulateUser", user)
    for _ in range(2):
        llm.script_decision("EvaluateMetric", {"value": True, "references": [], "justification": "A tip was given."})
    out = tmp_path / "green.xml"
    code = await run_set("Green set", org=tenant.org_id, junit=out, runtime=runtime, quiet=True)
    assert code == 0
    suite = ET.parse(out).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "0", "0")
    assert "passed=True" in suite.find("testcase").find("system-out").text


async def test_from_conversation_drafts_an_editable_scenario(client, tenant, migrated, tmp_path):
    fx = await simulation_fixture(client, tenant)
    conversation_id, _ = await start(client, tenant, fx.service_id, initial_message="My order never arrived.")
    editor = "sed -i 's/^objective:.*/objective: Get a refund for the missing order./'"
    done = cli(migrated, tmp_path, "simulate", "from-conversation", conversation_id, "--org", tenant.org_id, "--json",
               EDITOR=editor, VISUAL=editor)
    assert done.returncode == 0, done.stdout + done.stderr
    created = json.loads(done.stdout.strip().splitlines()[-1])
    assert created["initial_message_type"] == "user-message"  # read from the transcript: the user spoke first
    assert created["objective"] == "Get a refund for the missing order."
    versions = await client.get(tenant.url(f"/simulation/scenario/{created['simulation_scenario_id']}/version/"),
                                headers=tenant.headers)
    (version,) = versions.json()["simulation_scenario_versions"]
    assert version["objective"] == "Get a refund for the missing order." and version["instructions"]
    unknown = cli(migrated, tmp_path, "simulate", "from-conversation", "f" * 24, "--org", tenant.org_id, "--no-edit")
    assert unknown.returncode == 2 and "not found" in unknown.stderr
