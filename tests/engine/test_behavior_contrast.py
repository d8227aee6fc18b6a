"""Behaviors under ``Ports.reasoning == "contrast"``: each best-ranked candidate is judged in its own request as a pick
between two descriptions of what the user just said: the behavior's situation, or a near miss (an ordinary question,
thanks or chat, the topic merely mentioned, a past event or someone else's, a figure of speech), listed first. Only the best-ranked
candidate is asked (``CONTRAST_TOP_K``), with a previous behavior still in play; the best-ranked one picked applies."""

from __future__ import annotations

from tertulia.engine.contract import BehaviorVersion
from tertulia.engine.dbs import NOT_NOW, SITUATION_KEY
from tertulia.engine.fakes import ScriptedLLM
from tests.engine.support import ports, request, run, simple_graph


def behavior(n: int, *triggers: str) -> BehaviorVersion:
    return BehaviorVersion(f"{n:024x}", 1, list(triggers), [
        {"type": "inject-instruction", "instruction": f"Rule {n}", "overrides_instructions": False}])


SUICIDE = behavior(1, "The user expresses suicidal thoughts", "The user talks about harming themselves")
COST = behavior(2, "The user asks about cost, prices or insurance coverage")
WEATHER = behavior(3, "The user mentions the weather")
COST_TEXT = "The user asks about cost, prices or insurance coverage"


def checks(llm: ScriptedLLM):
    return [r for r in llm.requests if r.interaction == "SelectDynamicBehavior"]


async def test_only_the_best_ranked_candidate_is_a_pick_between_its_situation_and_a_near_miss():
    llm = ScriptedLLM()
    picked = {"The user expresses suicidal thoughts (or: The user talks about harming themselves)",
              "The user asks about cost, prices or insurance coverage"}
    llm.decision_defaults["check_dynamic_behavior"] = lambda req, schema: {
        SITUATION_KEY: next((c for c in schema["properties"][SITUATION_KEY]["enum"] if c in picked), NOT_NOW)}
    res = await run(request(simple_graph(), "I keep having suicidal thoughts, I want to harm myself", state="ask",
                            behaviors=[COST, WEATHER, SUICIDE]), ports(llm, reasoning="contrast"))
    asked = checks(llm)
    assert len(asked) == 1  # CONTRAST_TOP_K: the best-ranked candidate only (COST, also "picked", is not asked)
    schema = next(s for n, s in llm.schemas if n == "check_dynamic_behavior")
    assert schema["properties"][SITUATION_KEY]["enum"] == [NOT_NOW, next(iter(picked - {COST_TEXT}))]
    prompt = asked[0].messages[-1].content
    assert "Which of these describes what the user just said?" in prompt and f"- {NOT_NOW}" in prompt
    assert "missing one is far worse than a false alarm" in prompt
    assert prompt.index("## What the user just said\nI keep having suicidal") < prompt.index("- " + NOT_NOW)
    assert res.insights["triggered_dynamic_behavior_set_version_info"] == [SUICIDE.set_id, 1]


async def test_a_lower_ranked_candidate_is_not_asked_so_its_situation_cannot_apply():
    llm = ScriptedLLM()
    llm.decision_defaults["check_dynamic_behavior"] = lambda req, schema: {SITUATION_KEY: (
        COST_TEXT if COST_TEXT in schema["properties"][SITUATION_KEY]["enum"] else NOT_NOW)}
    res = await run(request(simple_graph(), "I keep having suicidal thoughts, what does it cost?", state="ask",
                            behaviors=[COST, WEATHER, SUICIDE]), ports(llm, reasoning="contrast"))
    assert len(checks(llm)) == 1
    assert res.insights["triggered_dynamic_behavior_set_version_info"] is None


async def test_the_previous_behavior_is_asked_about_too_when_it_is_not_the_best_ranked():
    llm = ScriptedLLM()
    await run(request(simple_graph(), "I keep having suicidal thoughts, I want to harm myself, forget the cost and "
                      "prices", state="ask", behaviors=[COST, WEATHER, SUICIDE], previous_behavior=(COST.set_id, 1)),
              ports(llm, reasoning="contrast"))
    asked = [s["properties"][SITUATION_KEY]["enum"][1] for n, s in llm.schemas if n == "check_dynamic_behavior"]
    assert len(asked) == 2 and COST_TEXT in asked


async def test_the_near_miss_everywhere_selects_nothing():
    llm = ScriptedLLM()  # unscripted: the schema's first value, the near miss
    res = await run(request(simple_graph(), "Where do I park?", state="ask", behaviors=[SUICIDE, WEATHER, COST]),
                    ports(llm, reasoning="contrast"))
    assert len(checks(llm)) == 1
    assert res.insights["triggered_dynamic_behavior_set_version_info"] is None


async def test_a_yes_no_answer_still_resolves():
    llm = ScriptedLLM()
    llm.decision_defaults["check_dynamic_behavior"] = lambda req, schema: {"applies": "yes"}
    res = await run(request(simple_graph(), "I don't want to be alive anymore", state="ask", behaviors=[SUICIDE]),
                    ports(llm, reasoning="contrast"))
    assert res.insights["triggered_dynamic_behavior_set_version_info"] == [SUICIDE.set_id, 1]


async def test_the_checklist_depth_keeps_the_yes_no_checks():
    llm = ScriptedLLM()
    await run(request(simple_graph(), "I don't want to be alive anymore", state="ask", behaviors=[SUICIDE]),
              ports(llm, reasoning="checklist"))
    schema = next(s for n, s in llm.schemas if n == "check_dynamic_behavior")
    assert list(schema["properties"]) == ["applies"]
