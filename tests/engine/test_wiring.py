"""Given settings, when the runtime is built, then the engine's ports are attached as configured."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tertulia.engine import wiring
from tertulia.engine.adapters.openai_compat import OpenAICompatLLM
from tertulia.engine.contract import EngineError
from tertulia.engine.fakes import FakeEmbedder, ScriptedLLM
from tertulia.runtime import Runtime
from tertulia.settings import Settings
from tests.engine.support import request, run, simple_graph


def runtime(tmp_path: Path, **settings) -> Runtime:
    s = Settings(database_url="sqlite+aiosqlite:///:memory:", data_dir=tmp_path, jwt_secret="x" * 40, **settings)
    return Runtime(settings=s, db=None, jwt_secret="x" * 40)


async def test_fake_provider(tmp_path):
    rt = runtime(tmp_path, llm_provider="fake")
    await wiring.attach(rt)
    assert isinstance(rt.llm, ScriptedLLM) and isinstance(rt.embedder, FakeEmbedder)
    p = wiring.make_ports(rt)
    assert p.default_model == rt.settings.llm_model and p.max_transitions == rt.settings.max_transitions_per_turn
    res = await run(request(simple_graph(), "hi"), p)
    assert res.outcome.agent_message


async def test_auto_with_base_url_uses_openai_adapter_and_model_map(tmp_path, monkeypatch):
    monkeypatch.setenv("TERTULIA_LLM_MODEL_MAP", '{"openai_gpt-5.2-2025-12-11": "llama3.1", "*": "house"}')
    rt = runtime(tmp_path, llm_provider="auto", llm_base_url="http://127.0.0.1:9/v1", llm_model="m")
    await wiring.attach(rt)
    assert isinstance(rt.llm, OpenAICompatLLM)
    assert rt.llm.model_for("openai_gpt-5.2-2025-12-11") == "llama3.1"
    assert rt.llm.model_for("google_gemini-2.5-pro") == "house"
    for close in rt.extras["closers"]:
        await close()


async def test_auto_without_anything_fails_turns_with_clear_error(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(wiring, "_local_available", lambda: False)
    rt = runtime(tmp_path, llm_provider="auto")
    with caplog.at_level(logging.WARNING, logger="tertulia.engine"):
        await wiring.attach(rt)
    assert "LLM NOT CONFIGURED" in caplog.text
    with pytest.raises(EngineError) as info:
        await run(request(simple_graph(), "hi"), wiring.make_ports(rt))
    assert "TERTULIA_LLM_BASE_URL" in info.value.description and info.value.http_error_code == 503


def test_bad_model_map_is_rejected(monkeypatch):
    monkeypatch.setenv("TERTULIA_LLM_MODEL_MAP", "[1, 2]")
    with pytest.raises(RuntimeError):
        wiring.model_map()
