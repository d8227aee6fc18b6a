"""Given real adapters (an OpenAI-compatible server on 127.0.0.1, the embedded local model), when a conversation runs
through them, then the engine's contract holds end to end."""

from __future__ import annotations

import pytest

from tertulia.engine.adapters.openai_compat import OpenAICompatEmbedder, OpenAICompatLLM, strict_compatible
from tertulia.engine.contract import BehaviorVersion, EngineError
from tests.engine.openai_stub import StubServer
from tests.engine.support import ports, request, run, simple_graph


@pytest.fixture(scope="module")
def stub():
    with StubServer() as server:
        yield server


async def test_conversation_through_openai_compatible_adapter(stub):
    stub.state.requests.clear()
    llm = OpenAICompatLLM(stub.base_url, "k", default_model="house-model",
                          model_map={"openai_gpt-5.2-2025-12-11": "llama3.1"})
    embedder = OpenAICompatEmbedder(stub.base_url, "k", model="minilm")
    behaviors = [BehaviorVersion("d" * 24, 1, ["talk about sleep problems"],
                                 [{"type": "inject-instruction", "instruction": "Be gentle.", "overrides_instructions": False}])]
    prefs = {"EngageUser": {"llm_name": "openai_gpt-5.2-2025-12-11", "params": {"temperature": 0.1, "bogus": 1}}}
    p = ports(llm, embedder=embedder)
    # turn 1 (opening): stays in greet
    res = await run(request(simple_graph(), None, prefs=prefs), p)
    assert res.outcome.agent_message == "Hello from the stub model. How can I help you today?"
    assert "".join(res.fragments) == res.outcome.agent_message
    # turn 2: scripted exit to "ask", DBS selected through real embeddings + json_schema confirmation
    # scripted twice: the speculative decision (made assuming no behavior) is redone once the behavior is selected
    stub.state.script("select_next_action", {"next": "exit 1: The user has said hello"})
    stub.state.script("select_next_action", {"next": "exit 1: The user has said hello"})
    stub.state.script("select_dynamic_behavior", {"behavior": "behavior 1"})
    res = await run(request(simple_graph(), "hello, I have sleep problems", state="greet", behaviors=behaviors,
                            prefs=prefs), p)
    assert res.outcome.state.state == "ask"
    assert res.insights["triggered_dynamic_behavior_set_version_info"] == ["d" * 24, 1]
    models = [(r.get("response_format", {}).get("json_schema", {}).get("name"), r["model"]) for r in stub.state.requests]
    assert (None, "llama3.1") in models  # EngageUser mapped through TERTULIA_LLM_MODEL_MAP
    assert ("select_next_action", "house-model") in models
    assert models.count(("select_next_action", "house-model")) == 1 + 2 + 1  # turn 1, turn 2 (redone), then "ask"
    engage = [r for r in stub.state.requests if r.get("stream")][0]
    assert engage["temperature"] == 0.1 and "bogus" not in engage
    decision = [r for r in stub.state.requests if "response_format" in r][0]
    assert decision["response_format"]["json_schema"]["strict"] is True
    assert "temperature" not in decision  # no decision temperature configured: the provider's default
    await llm.aclose()
    await embedder.aclose()


async def test_decision_temperature_is_sent_with_decisions_only_and_never_over_a_preference(stub):
    stub.state.requests.clear()
    llm = OpenAICompatLLM(stub.base_url, "k", default_model="m", decision_temperature=0.0)
    prefs = {"SelectNextAction": {"llm_name": "m", "params": {"temperature": 0.3}}}
    await run(request(simple_graph(), "hello", state="greet"), ports(llm))
    await run(request(simple_graph(), "hello", state="greet", prefs=prefs), ports(llm))
    decisions = [r for r in stub.state.requests if "response_format" in r]
    replies = [r for r in stub.state.requests if r.get("stream")]
    assert [d.get("temperature") for d in decisions] == [0.0, 0.3]
    assert all("temperature" not in r for r in replies)
    await llm.aclose()


async def test_unreachable_provider_is_an_engine_error():
    llm = OpenAICompatLLM("http://127.0.0.1:9/v1", "k", default_model="m", timeout=2, max_retries=0)
    with pytest.raises(EngineError) as info:
        await run(request(simple_graph(), "hi"), ports(llm))
    assert info.value.http_error_code in (502, 504)
    await llm.aclose()


def test_strict_compatibility():
    assert strict_compatible({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
                              "additionalProperties": False})
    assert not strict_compatible({"type": "object", "properties": {"a": {"type": "string"}}})
    assert not strict_compatible({"type": "object"})


async def test_packaged_minilm_embeddings_rank_by_meaning():
    """The real packaged model (the 'embeddings' extra is part of the test install: never skipped)."""
    import numpy as np

    from tertulia.engine.adapters.local_embeddings import OnnxSentenceEmbedder, load_local_embedder

    embedder = load_local_embedder()
    assert isinstance(embedder, OnnxSentenceEmbedder), "install the 'embeddings' extra (pip install -e '.[test]')"
    v = np.array(await embedder.embed(["I feel hopeless and want to hurt myself", "I am so sad I want to end my life",
                                       "healthy dinner recipes"]))
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > 0.5 > 0.1 > v[0] @ v[2]  # meaning, not shared words


async def test_embedding_model_dir_override_must_hold_both_files(tmp_path, monkeypatch):
    from tertulia.engine.adapters.local_embeddings import load_local_embedder

    monkeypatch.setenv("TERTULIA_EMBEDDING_MODEL_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="model.onnx and tokenizer.json"):
        load_local_embedder()


async def test_quotes_in_option_texts_never_reach_the_servers_grammar_and_come_back_exact(stub):
    """An author's exit condition or trigger may hold a double quote or a backslash; llama.cpp servers die compiling
    such an enum into a grammar. The adapter sends them as ``'`` and ``/`` and maps the answer back."""
    from tertulia.engine.ports import ChatMessage, LLMRequest

    stub.state.requests.clear()
    quoted = 'The user says "cancel" or types C:\\stop'
    schema = {"type": "object", "additionalProperties": False, "required": ['Has said "yes"', "pick"],
              "properties": {'Has said "yes"': {"type": "string", "enum": ["no", "yes"]},
                             "pick": {"type": "string", "enum": ["stay", quoted]}}}
    stub.state.script("pick", {"Has said 'yes'": "yes", "pick": "The user says 'cancel' or types C:/stop"})
    llm = OpenAICompatLLM(stub.base_url, "k", default_model="m")
    answer = await llm.decide(LLMRequest("SelectNextAction", [ChatMessage("user", "Pick.")]), schema, "pick")
    await llm.aclose()
    sent = stub.state.requests[-1]["response_format"]["json_schema"]["schema"]
    assert '"' not in "".join([*sent["properties"], *sent["required"], *sent["properties"]["pick"]["enum"]])
    assert "\\" not in "".join(sent["properties"]["pick"]["enum"])
    assert answer == {'Has said "yes"': "yes", "pick": quoted}
