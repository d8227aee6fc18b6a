"""Given dynamic behaviors and user memories, when the user speaks, then the right behavior is selected (with its
overrides applied) and active memory fills working memory - concurrently, with events in spec order."""

from __future__ import annotations

import asyncio

from tertulia.engine import dbs
from tertulia.engine.contract import BehaviorVersion
from tertulia.engine.fakes import FakeEmbedder, ListMemories, ScriptedLLM
from tests.engine.support import action, graph, ports, request, run, simple_graph

CRISIS = BehaviorVersion("d" * 24, 2, ["I feel hopeless and want to hurt myself", "suicidal thoughts"],
                         [{"type": "inject-instruction", "instruction": "Give the crisis hotline number verbatim.",
                           "overrides_instructions": True}])
RECIPES = BehaviorVersion("e" * 24, 1, ["healthy dinner recipes", "what should I cook tonight"],
                          [{"type": "inject-instruction", "instruction": "Suggest one simple recipe.",
                            "overrides_instructions": False},
                           {"type": "change-tool-candidates", "overrides_existing_tool_call_specs": False,
                            "tool_call_specs": []}])


async def test_no_behaviors_means_no_selection_call():
    llm = ScriptedLLM()
    embedder = FakeEmbedder()
    res = await run(request(simple_graph(), "Hello"), ports(llm, embedder=embedder))
    assert res.of("select-dynamic-behavior-completed")[0] == {
        "type": "select-dynamic-behavior-completed",
        "selected_dynamic_behavior_set_version_info": None,
        "previous_selected_dynamic_behavior_set_version_info": None,
    }
    assert llm.calls["SelectDynamicBehavior"] == 0 and embedder.calls == 0


async def test_relevant_behavior_is_selected_confirmed_and_overrides_instructions():
    llm = ScriptedLLM()
    llm.script_decision("SelectDynamicBehavior", {"behavior": "behavior 1"})
    res = await run(request(simple_graph(), "I feel so hopeless, I want to hurt myself", state="ask",
                            behaviors=[RECIPES, CRISIS]), ports(llm))
    assert llm.calls["SelectDynamicBehavior"] == 1
    prompt = [r for r in llm.requests if r.interaction == "SelectDynamicBehavior"][0].messages[1].content
    # every top-ranked candidate is judged (no absolute similarity gate), the best match first
    assert prompt.index("hopeless") < prompt.index("healthy dinner")
    assert "missing one is far worse than a false alarm" in prompt  # told to err toward safety behaviors
    assert res.of("select-dynamic-behavior-completed")[0]["selected_dynamic_behavior_set_version_info"] == ["d" * 24, 2]
    assert res.of("navigate-state-machine-dynamic-behavior-override")[0] == {
        "type": "navigate-state-machine-dynamic-behavior-override",
        "overriding_instructions": True, "overriding_tool_candidates": False}
    assert res.of("engage-user-dynamic-behavior-override")[0]["overriding_instructions"] is True
    types = res.types
    assert types.index("navigate-state-machine-dynamic-behavior-override") < types.index(
        "navigate-state-machine-action-state-action-selected") < types.index("engage-user-dynamic-behavior-override")
    assert res.insights["triggered_dynamic_behavior_set_version_info"] == ["d" * 24, 2]
    assert res.outcome.triggered_behavior == ("d" * 24, 2) == res.outcome.active_behavior
    engage = [r for r in llm.requests if r.interaction == "EngageUser"][0].messages[1].content
    assert "Give the crisis hotline number verbatim." in engage and "override everything" in engage
    assert "Objective of ask" not in engage  # state guidance replaced


async def test_llm_can_reject_candidates():
    llm = ScriptedLLM()
    llm.script_decision("SelectDynamicBehavior", {"behavior": "none"})
    res = await run(request(simple_graph(), "what should I cook tonight? dinner recipes", state="ask",
                            behaviors=[RECIPES]), ports(llm))
    assert res.insights["triggered_dynamic_behavior_set_version_info"] is None
    assert "navigate-state-machine-dynamic-behavior-override" not in res.types


async def test_inject_instruction_merges_into_guidelines_and_previous_is_kept_without_llm():
    llm = ScriptedLLM()
    llm.script_decision("SelectDynamicBehavior", {"behavior": "behavior 1"})
    res = await run(request(simple_graph(), "what should I cook tonight for dinner?", state="ask",
                            behaviors=[RECIPES, CRISIS]), ports(llm))
    assert res.outcome.active_behavior == ("e" * 24, 1)
    engage = [r for r in llm.requests if r.interaction == "EngageUser"][0].messages[1].content
    assert "Suggest one simple recipe." in engage and "Objective of ask" in engage
    assert res.of("navigate-state-machine-dynamic-behavior-override")[0]["overriding_instructions"] is False
    # next turn, same topic: the previous behavior leads the ranking by a clear margin -> kept, no confirmation call
    llm2 = ScriptedLLM()
    res2 = await run(request(simple_graph(), "any dinner recipes with fish?", state="ask", behaviors=[RECIPES, CRISIS],
                             previous_behavior=("e" * 24, 1)), ports(llm2))
    assert res2.of("select-dynamic-behavior-completed")[0] == {
        "type": "select-dynamic-behavior-completed",
        "selected_dynamic_behavior_set_version_info": ["e" * 24, 1],
        "previous_selected_dynamic_behavior_set_version_info": ["e" * 24, 1]}
    assert llm2.calls["SelectDynamicBehavior"] == 0
    assert res2.outcome.triggered_behavior is None  # still active, not a new invocation
    assert res2.outcome.llm_calls == 2  # speculative navigation stayed valid


async def test_trigger_embeddings_are_cached_per_version():
    embedder = FakeEmbedder()
    p = ports(embedder=embedder)
    await run(request(simple_graph(), "dinner recipes", behaviors=[RECIPES, CRISIS]), p)
    first = embedder.texts_embedded
    await run(request(simple_graph(), "more dinner recipes", behaviors=[RECIPES, CRISIS]), p)
    assert first == 2 + 4 and embedder.texts_embedded - first == 2  # only the context texts the second time
    assert ("e" * 24, 1) in dbs._TRIGGERS.of(embedder)


async def test_active_memory_queries_memories_and_fills_working_memory():
    llm = ScriptedLLM()
    llm.script_decision("CheckIfActiveMemoryNeeded", {"queries": ["sleep schedule"]})
    memories = ListMemories([("Goes to bed at 1am on weekdays", "sleep schedule")])
    res = await run(request(simple_graph(), "Why am I always tired?", state="ask"), ports(llm, memories=memories))
    assert res.of("check-if-active-memory-needed-completed")[0]["queries"] == ["sleep schedule"]
    assert res.of("extract-active-memories-completed")[0]["queries_and_responses"] == [
        ["sleep schedule", "Goes to bed at 1am on weekdays"]]
    assert res.insights["working_memory"] == [{"content": "Goes to bed at 1am on weekdays", "context": "sleep schedule"}]
    nav = [r for r in llm.requests if r.interaction == "SelectNextAction"]
    assert len(nav) == 2  # the speculative decision lacked the new working memory: decided again
    assert "Goes to bed at 1am" in nav[-1].messages[1].content
    engage = [r for r in llm.requests if r.interaction == "EngageUser"][0].messages[1].content
    assert "Goes to bed at 1am on weekdays (sleep schedule)" in engage


async def test_skip_active_memory_retrieval_state_emits_no_memory_events():
    g = graph([action("s", ["Chat"], [("go", "end")], skip_active_memory_retrieval=True), action("end", ["Close"])],
              initial="s", terminal="end")
    llm = ScriptedLLM()
    res = await run(request(g, "hi", state="s"), ports(llm, memories=ListMemories([("x", "y")])))
    assert "check-if-active-memory-needed-completed" not in res.types
    assert llm.calls["CheckIfActiveMemoryNeeded"] == 0


class _RendezvousLLM(ScriptedLLM):
    """Each decision of ``together`` waits (at most 5 s) until all of them are in flight at once, so a run completes
    only when the engine makes those calls concurrently: no wall-clock bound that a loaded machine could miss."""

    def __init__(self, together: set[str]) -> None:
        super().__init__()
        self.together, self.arrived, self.all_in = together, set(), asyncio.Event()

    async def decide(self, request, schema, schema_name):  # noqa: ANN001
        if request.interaction in self.together:
            self.arrived.add(request.interaction)
            if self.arrived == self.together:
                self.all_in.set()
            await asyncio.wait_for(self.all_in.wait(), 5)
        return await super().decide(request, schema, schema_name)


async def test_selection_memory_and_navigation_run_concurrently():
    llm = _RendezvousLLM({"SelectDynamicBehavior", "CheckIfActiveMemoryNeeded", "SelectNextAction"})
    llm.script_decision("SelectDynamicBehavior", {"behavior": "none"})
    res = await run(request(simple_graph(), "dinner recipes please", state="ask", behaviors=[RECIPES]),
                    ports(llm, memories=ListMemories([("likes fish", "diet")])))
    assert llm.arrived == llm.together and llm.all_in.is_set()  # the three were in flight at the same time
    assert llm.calls["SelectDynamicBehavior"] == llm.calls["CheckIfActiveMemoryNeeded"] == 1
    assert res.outcome.llm_calls == 4


async def test_real_embeddings_select_a_behavior_by_meaning_not_shared_words():
    """With the packaged MiniLM (part of the test install) a paraphrase that shares no word with any trigger still
    ranks the crisis behavior first, so the confirmation sees it as the best match."""
    from tertulia.engine.adapters.local_embeddings import load_local_embedder

    llm = ScriptedLLM()
    llm.script_decision("SelectDynamicBehavior", {"behavior": "behavior 1"})
    res = await run(request(simple_graph(), "Lately nothing matters and I keep thinking about ending my life",
                            state="ask", behaviors=[RECIPES, CRISIS]), ports(llm, embedder=load_local_embedder()))
    prompt = [r for r in llm.requests if r.interaction == "SelectDynamicBehavior"][0].messages[1].content
    assert prompt.index("hurt myself") < prompt.index("dinner")
    assert res.insights["triggered_dynamic_behavior_set_version_info"] == ["d" * 24, 2]
