"""The ``fake`` provider (serve-mode demos and end-to-end tests) confirms a behavior only when the user said one of its
triggers word for word; anything else stays ``none``, as an unscripted ScriptedLLM answers."""

from __future__ import annotations

from tertulia.engine.contract import BehaviorVersion
from tertulia.engine.fakes import ScriptedLLM, behavior_said_word_for_word
from tests.engine.support import ports, request, run, simple_graph


def behavior(n: int, *triggers: str) -> BehaviorVersion:
    return BehaviorVersion(f"{n:024x}", 1, list(triggers), [
        {"type": "inject-instruction", "instruction": f"Rule {n}", "overrides_instructions": False}])


SAFETY = behavior(1, "I want to hurt myself", "I have chest pain and I can't breathe")
COST = behavior(2, "How much does it cost")


def fake_provider_llm() -> ScriptedLLM:
    llm = ScriptedLLM()
    llm.decision_defaults["select_dynamic_behavior"] = behavior_said_word_for_word
    return llm


async def test_a_trigger_said_word_for_word_is_confirmed_even_when_it_is_not_the_first():
    llm = fake_provider_llm()
    res = await run(request(simple_graph(), "Help, I have chest pain and I can't breathe.", state="ask",
                            behaviors=[COST, SAFETY]), ports(llm, reasoning="none"))
    assert res.insights["triggered_dynamic_behavior_set_version_info"] == [SAFETY.set_id, 1]


async def test_anything_else_is_none():
    llm = fake_provider_llm()
    res = await run(request(simple_graph(), "My chest feels fine today", state="ask", behaviors=[COST, SAFETY]),
                    ports(llm, reasoning="none"))
    assert llm.calls["SelectDynamicBehavior"] == 1  # the confirmation was asked, and said none
    assert res.insights["triggered_dynamic_behavior_set_version_info"] is None
