"""Given a conversation, when asking for recommended responses, starters or a simulated turn, then the engine answers
without persisting anything."""

from __future__ import annotations

from tertulia.engine.contract import TurnOutcome
from tertulia.engine.extras import conversation_starters, recommend_responses, simulate_turn
from tertulia.engine.fakes import ScriptedLLM
from tests.engine.support import AGENT, action, graph, ports, request, simple_graph, transcript


async def test_recommend_responses_uses_context_and_dedupes():
    llm = ScriptedLLM()
    llm.script_decision("RecommendResponses", {"recommended_responses": ["Yes please", "Yes please", "Not now", " "]})
    out = await recommend_responses(AGENT, transcript(("agent-message", "Shall we start?")), ports(llm),
                                    context="PERSONA: a busy nurse", count=3)
    assert out == ["Yes please", "Not now"]
    prompt = llm.requests[0].messages[1].content
    assert "a busy nurse" in prompt and "Shall we start?" in prompt


async def test_recommend_responses_default_fake_is_non_empty():
    out = await recommend_responses(AGENT, transcript(("agent-message", "Hi")), ports())
    assert len(out) == 1 and out[0]


async def test_conversation_starters_respect_facets_and_counts():
    llm = ScriptedLLM()
    llm.script_decision("GenerateConversationStarters", {"prompts": [
        {"prompt": "Help me sleep better", "facets": ["sleep", "unknown"]},
        {"prompt": "Plan my meals", "facets": []},
        {"prompt": "", "facets": ["diet"]},
    ]})
    out = await conversation_starters(AGENT, simple_graph(), ports(llm), facets=["sleep", "diet"], min_count=1,
                                      max_count=5, generation_instructions="Keep them short")
    assert out == [{"prompt": "Help me sleep better", "facets": ["sleep"]}, {"prompt": "Plan my meals", "facets": ["diet"]}]
    assert "Keep them short" in llm.requests[0].messages[1].content


async def test_conversation_starters_fake_default_meets_min_count():
    out = await conversation_starters(AGENT, simple_graph(), ports(), facets=["sleep"], min_count=2, max_count=3)
    assert len(out) == 2 and all(p["facets"] == ["sleep"] for p in out)


async def test_simulate_turn_with_graph_override():
    other = graph([action("welcome", ["Say welcome"]), action("end", ["Close"])], initial="welcome", terminal="end")
    events = [e async for e in simulate_turn(request(simple_graph(), None), ports(), graph=other)]
    outcome = events[-1]
    assert isinstance(outcome, TurnOutcome)
    assert outcome.insights["current_state_action"] == "Say welcome"
