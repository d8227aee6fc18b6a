"""Behavior selection ranks and always confirms: the best-ranked candidates reach the LLM however low their absolute
similarity, the confirmation names behaviors by their first trigger text (brief reasoning) after restating what the user
just said, and it is told to err toward safety behaviors."""

from __future__ import annotations

from tertulia.engine.contract import BehaviorVersion
from tertulia.engine.fakes import ScriptedLLM
from tests.engine.support import ports, request, run, simple_graph


def behavior(n: int, *triggers: str) -> BehaviorVersion:
    return BehaviorVersion(f"{n:024x}", 1, list(triggers), [
        {"type": "inject-instruction", "instruction": f"Rule {n}", "overrides_instructions": False}])


SUICIDE = behavior(1, "The user expresses suicidal thoughts", "The user talks about harming themselves")
COST = behavior(2, "The user asks about cost, prices or insurance coverage")
WEATHER = behavior(3, "The user mentions the weather")
PARKING = behavior(4, "The user asks where to park")


def dbs_request(llm: ScriptedLLM):
    return next(r for r in llm.requests if r.interaction == "SelectDynamicBehavior")


async def test_a_candidate_sharing_no_word_with_the_message_is_still_confirmed_by_the_llm():
    llm = ScriptedLLM()
    llm.script_decision("SelectDynamicBehavior", {"user_just_said": "does not want to live",
                                                  "behavior": "The user expresses suicidal thoughts"})
    res = await run(request(simple_graph(), "I don't want to be alive anymore", state="ask", behaviors=[SUICIDE, COST]),
                    ports(llm, reasoning="brief"))
    assert llm.calls["SelectDynamicBehavior"] == 1
    assert res.insights["triggered_dynamic_behavior_set_version_info"] == [SUICIDE.set_id, 1]
    schema = next(s for n, s in llm.schemas if n == "select_dynamic_behavior")
    assert list(schema["properties"]) == ["user_just_said", "behavior"]
    assert schema["properties"]["behavior"]["enum"][0] == "none"
    assert set(schema["properties"]["behavior"]["enum"][1:]) == {
        "The user expresses suicidal thoughts", "The user asks about cost, prices or insurance coverage"}
    prompt = dbs_request(llm).messages[1].content
    assert "(also: The user talks about harming themselves)" in prompt  # a behavior's other triggers stay visible
    assert prompt.index("## Conversation so far") < prompt.index("## What the user just said\nI don't want to be alive")
    assert "missing one is far worse than a false alarm" in prompt and "figures of speech" in prompt


async def test_only_the_top_ranked_candidates_are_judged_and_none_is_the_default():
    llm = ScriptedLLM()
    res = await run(request(simple_graph(), "Where can I park near the clinic? Is parking free?", state="ask",
                            behaviors=[SUICIDE, COST, WEATHER, PARKING]), ports(llm, reasoning="brief"))
    enum = next(s for n, s in llm.schemas if n == "select_dynamic_behavior")["properties"]["behavior"]["enum"]
    assert len(enum) == 1 + 3 and "The user asks where to park" in enum  # TOP_K of the four, best included
    assert res.insights["triggered_dynamic_behavior_set_version_info"] is None  # the scripted default: "none"


async def test_an_answer_naming_no_candidate_selects_nothing():
    llm = ScriptedLLM()
    llm.script_decision("SelectDynamicBehavior", {"user_just_said": "x", "behavior": "The user sings"})
    res = await run(request(simple_graph(), "la la la", state="ask", behaviors=[SUICIDE]), ports(llm, reasoning="brief"))
    assert res.insights["triggered_dynamic_behavior_set_version_info"] is None


async def test_one_pick_confirmation_uses_labels_and_lists_triggers():
    llm = ScriptedLLM()
    llm.script_decision("SelectDynamicBehavior", {"behavior": "behavior 1"})
    res = await run(request(simple_graph(), "How much does a visit cost?", state="ask", behaviors=[SUICIDE, COST]),
                    ports(llm))
    schema = next(s for n, s in llm.schemas if n == "select_dynamic_behavior")
    assert list(schema["properties"]) == ["behavior"] and schema["properties"]["behavior"]["enum"][0] == "none"
    assert "- behavior 1: The user asks about cost" in dbs_request(llm).messages[1].content  # best-ranked first
    assert res.insights["triggered_dynamic_behavior_set_version_info"] == [COST.set_id, 1]


def _situation(request) -> str:  # noqa: ANN001
    text = request.messages[-1].content
    return text.split("## The situation\n", 1)[1].split("\n", 1)[0].removesuffix(" (currently in effect)")


async def test_small_models_judge_each_candidate_in_its_own_request_and_the_best_ranked_yes_applies():
    llm = ScriptedLLM()
    yes = {"The user expresses suicidal thoughts", "The user asks about cost, prices or insurance coverage"}
    llm.decision_defaults["check_dynamic_behavior"] = lambda req, schema: {
        "applies": "yes" if _situation(req) in yes else "no"}
    res = await run(request(simple_graph(), "I don't want to be alive anymore", state="ask",
                            behaviors=[COST, WEATHER, SUICIDE]), ports(llm, reasoning="checklist"))
    checks = [r for r in llm.requests if r.interaction == "SelectDynamicBehavior"]
    assert len(checks) == 3  # one request per candidate (TOP_K), concurrently
    assert all(r.messages[-1].content.count("## The situation") == 1 for r in checks)  # each sees only its own
    assert {n for n, _ in llm.schemas if n.startswith("check_dynamic")} == {"check_dynamic_behavior"}
    assert "missing one is far worse than a false alarm" in checks[0].messages[-1].content
    # both SUICIDE and COST said yes: the one ranked higher (its request is made first) applies
    first_yes = next(_situation(r) for r in checks if _situation(r) in yes)
    expected = SUICIDE if first_yes.startswith("The user expresses") else COST
    assert res.insights["triggered_dynamic_behavior_set_version_info"] == [expected.set_id, 1]
    # the speculative navigation decision (made before the behavior was known) is redone with its instructions
    assert llm.calls["SelectNextAction"] == 2 and llm.calls["EngageUser"] == 1


async def test_small_models_with_every_candidate_answered_no_select_nothing():
    llm = ScriptedLLM()  # unscripted: the schema's first value, "no"
    res = await run(request(simple_graph(), "What a lovely day", state="ask", behaviors=[SUICIDE, WEATHER]),
                    ports(llm, reasoning="checks"))
    assert llm.calls["SelectDynamicBehavior"] == 2
    assert res.insights["triggered_dynamic_behavior_set_version_info"] is None
