"""Builders for engine tests: graphs, requests, ports, and a runner that validates every event with the SDK models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from amigo_sdk.generated.model import ConversationGetInteractionInsightsResponse, CurrentAgentActionEvent

from tertulia.engine.contract import (
    AgentAction,
    BehaviorVersion,
    Fragment,
    GraphVersion,
    Ports,
    StatePointer,
    TranscriptMessage,
    TurnOutcome,
    TurnRequest,
)
from tertulia.engine.fakes import EmptyMemories, FakeEmbedder, FakeTools, FixedClock, ScriptedLLM
from tertulia.engine.turn import run_turn

GRAPH_ID = "a" * 24
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

AGENT = {
    "initials": "AM",
    "identity": {
        "name": "Amigo",
        "role": "wellness coach",
        "developed_by": "Tertulia",
        "default_spoken_language": "eng",
        "relationship_to_developer": {"ownership": "owned", "type": "assistant",
                                      "conversation_visibility": "visible", "thought_visibility": "visible"},
    },
    "background": "Ten years helping people build healthy habits.",
    "behaviors": ["Be warm and concise."],
    "communication_patterns": ["Short sentences."],
    "voice_config": None,
}


def action(name: str, actions: list[str] | None = None, exits: list[tuple[str, Any]] | None = None, **kw) -> dict:
    return {
        "type": "action",
        "name": name,
        "objective": kw.pop("objective", f"Objective of {name}"),
        "actions": actions or [f"Do {name}"],
        "intra_state_navigation_guidelines": kw.pop("intra_state_navigation_guidelines", []),
        "action_guidelines": kw.pop("action_guidelines", []),
        "boundary_constraints": kw.pop("boundary_constraints", []),
        "exit_conditions": [{"description": d, "next_state": n} for d, n in (exits or [])],
        "action_tool_call_specs": [],
        "exit_condition_tool_call_specs": [],
        "skip_active_memory_retrieval": kw.pop("skip_active_memory_retrieval", False),
        **kw,
    }


def graph(states: list[dict], initial: str, terminal: str, graph_id: str = GRAPH_ID, version: int = 1,
          **body: Any) -> GraphVersion:
    return GraphVersion(graph_id, version, {
        "description": body.pop("description", "A test graph"),
        "states": states,
        "new_user_initial_state": initial,
        "returning_user_initial_state": body.pop("returning_user_initial_state", initial),
        "terminal_state": terminal,
        "references": body.pop("references", {}),
        "global_intra_state_navigation_guidelines": body.pop("global_intra_state_navigation_guidelines", []),
        "global_action_guidelines": body.pop("global_action_guidelines", []),
        "global_boundary_constraints": body.pop("global_boundary_constraints", []),
        **body,
    })


def simple_graph() -> GraphVersion:
    return graph(
        [
            action("greet", ["Greet the user warmly"], [("The user has said hello", "ask")]),
            action("ask", ["Ask about sleep", "Ask about food"], [("The user wants to stop", "bye")]),
            action("bye", ["Say goodbye"]),
        ],
        initial="greet",
        terminal="bye",
    )


def transcript(*pairs: tuple[str, str]) -> list[TranscriptMessage]:
    return [TranscriptMessage(f"m{i}", kind, text, T0, f"i{i}") for i, (kind, text) in enumerate(pairs)]


def request(g: GraphVersion, user: str | None = "Hello!", state: str | None = None, *,
            history: list[tuple[str, str]] | None = None, behaviors: list[BehaviorVersion] | None = None,
            previous_behavior: tuple[str, int] | None = None, prefs: dict | None = None,
            referenced: dict[str, GraphVersion] | None = None, stack: list | None = None,
            returning: bool = False, user_model: list[str] | None = None, **kw: Any) -> TurnRequest:
    msgs = transcript(*(history or []))
    new_ids = []
    if user is not None:
        msgs += [TranscriptMessage("new", "user-message", user, T0, "now")]
        new_ids = ["new"]
    pointer = None
    if state is not None:
        gid, ver = kw.pop("pointer_graph", (g.graph_id, g.version))
        pointer = StatePointer(gid, ver, state, stack or [])
    return TurnRequest(
        org_id="org", conversation_id="c" * 24, user_id="u1", interaction_id="i" * 24, agent=AGENT, graph=g,
        referenced_graphs=referenced or {}, llm_model_preferences=prefs or {}, behaviors=behaviors or [],
        previous_behavior=previous_behavior, state=pointer, is_returning_user=returning, transcript=msgs,
        new_message_ids=new_ids, user_model=user_model or [], agent_message_id="f" * 24, **kw,
    )


def ports(llm: ScriptedLLM | None = None, **kw: Any) -> Ports:
    return Ports(
        llm=llm or ScriptedLLM(), embedder=kw.pop("embedder", FakeEmbedder()), clock=FixedClock(T0),
        memories=kw.pop("memories", EmptyMemories()), tools=kw.pop("tools", FakeTools()), **kw,
    )


@dataclass
class Result:
    events: list = field(default_factory=list)
    outcome: TurnOutcome | None = None

    @property
    def actions(self) -> list[dict]:
        return [e.action for e in self.events if isinstance(e, AgentAction)]

    @property
    def types(self) -> list[str]:
        return [a["type"] for a in self.actions]

    @property
    def fragments(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, Fragment)]

    @property
    def insights(self) -> dict:
        return self.outcome.insights

    def of(self, type_: str) -> list[dict]:
        return [a for a in self.actions if a["type"] == type_]


def validate_action(action: dict) -> None:
    """The SDK must parse the event into the model of exactly this ``type``."""
    parsed = CurrentAgentActionEvent.model_validate({"type": "current-agent-action", "action": action})
    inner = parsed.action
    while hasattr(inner, "root"):
        inner = inner.root
    assert inner.type == action["type"], (inner, action)
    assert inner.model_dump(mode="json", exclude_unset=False) == action, (inner.model_dump(mode="json"), action)


async def run(req: TurnRequest, p: Ports) -> Result:
    result = Result()
    async for event in run_turn(req, p):
        assert result.outcome is None, "nothing may follow the TurnOutcome"
        if isinstance(event, TurnOutcome):
            result.outcome = event
        else:
            if isinstance(event, AgentAction):
                validate_action(event.action)
            result.events.append(event)
    assert result.outcome is not None
    ConversationGetInteractionInsightsResponse.model_validate(result.outcome.insights)
    assert set(result.outcome.insights) == set(ConversationGetInteractionInsightsResponse.model_fields)
    return result
