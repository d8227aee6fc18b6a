"""Given tools declared as HTTP endpoints (TERTULIA_TOOLS_FILE), when a tool-call state runs, then the real endpoint
is called with the generated parameters, and failures reach the agent as failed results, never as a failed turn."""

from __future__ import annotations

import asyncio
import json

import pytest
import uvicorn
from fastapi import FastAPI, Request

from tertulia.engine.adapters.http_tools import HttpToolRunner
from tertulia.engine.fakes import ScriptedLLM
from tests.engine.openai_stub import free_port
from tests.engine.support import ports, request, run
from tests.engine.test_silent_states import go_exit, silent_graph

TOOL_ID = "a1" * 12


def tool_app() -> FastAPI:
    app = FastAPI()
    app.state.calls = []

    @app.post("/weather")
    async def weather(req: Request) -> dict:
        params = await req.json()
        app.state.calls.append(params)
        return {"forecast": f"Sunny in {params['city']}"}

    @app.post("/broken")
    async def broken() -> dict:
        raise RuntimeError("boom")

    @app.post("/slow")
    async def slow() -> dict:
        await asyncio.sleep(2)
        return {}

    return app


@pytest.fixture
async def tool_server():
    app = tool_app()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


def tools_file(tmp_path, base: str) -> str:
    spec = {"tools": [
        {"tool_id": TOOL_ID, "name": "weather", "version": "2.0.0", "url": f"{base}/weather",
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
        {"tool_id": "b2" * 12, "name": "broken", "url": f"{base}/broken"},
        {"tool_id": "c3" * 12, "name": "slow", "url": f"{base}/slow", "timeout_seconds": 0.2},
    ]}
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(spec))
    return str(path)


async def test_tool_call_state_calls_the_declared_endpoint(tool_server, tmp_path):
    app, base = tool_server
    runner = HttpToolRunner.from_file(tools_file(tmp_path, base))
    llm = go_exit(ScriptedLLM())
    llm.script_decision("GenerateToolParams", {"city": "Porto"})
    g = silent_graph([{
        "type": "tool-call", "name": "lookup", "next_state": "help",
        "designated_tool": {"tool_id": TOOL_ID, "version_constraint": ">=2", "additional_instruction": "",
                            "audio_fillers": [], "audio_filler_triggered_after": 1.0, "result_persistence": "persisted"},
        "designated_tool_call_params_generation_audio_fillers": [],
        "designated_tool_call_params_generation_audio_filler_triggered_after": 1.0,
        "designated_tool_call_objective": "Get weather", "designated_tool_call_context": "Trip",
        "designated_tool_call_guidances": [], "designated_tool_call_validations": [], "tool_call_specs": [],
    }], "lookup")
    res = await run(request(g, "help", state="start"), ports(llm, tools=runner))
    assert app.state.calls == [{"city": "Porto"}]
    out = res.of("navigate-state-machine-tool-call-state-tool-output-available")[0]
    assert json.loads(out["tool_output"]) == {"forecast": "Sunny in Porto"}
    assert res.insights["state_transition_logs"][1]["designated_tool_call_log"]["tool_version"] == "2.0.0"
    await runner.aclose()


async def test_failures_are_failed_results(tool_server, tmp_path):
    _, base = tool_server
    runner = HttpToolRunner.from_file(tools_file(tmp_path, base))
    broken = await runner.invoke("b2" * 12, "", {})
    assert not broken.succeeded and "HTTP 500" in broken.output
    slow = await runner.invoke("c3" * 12, "", {})
    assert not slow.succeeded and "timed out" in slow.output
    unknown = await runner.invoke("d4" * 12, "", {})
    assert not unknown.succeeded and "not configured" in unknown.output
    assert await runner.describe("d4" * 12, "") is None
    await runner.aclose()


def test_a_malformed_tools_file_is_a_clear_startup_error(tmp_path):
    path = tmp_path / "tools.yaml"
    path.write_text("tools:\n  - name: no_id\n")
    with pytest.raises(RuntimeError, match="tool_id, name and url"):
        HttpToolRunner.from_file(path)
