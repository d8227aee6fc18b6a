"""What the conversation service gives the engine for one turn, and what the engine gives back.

``run_turn(request, ports)`` (in ``engine/turn.py``) is an async generator of ``TurnEvent``: ``AgentAction``s and
``Fragment``s as they happen, then exactly one ``TurnOutcome`` last. It persists nothing: the caller streams the
events to the client and commits the outcome atomically (or nothing, when the generator raises ``EngineError``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tertulia.engine.ports import LLM, Clock, Embedder, MemoryRetriever, ToolRunner


@dataclass
class TranscriptMessage:
    id: str
    message_type: str  # user-message | agent-message | agent-inner-thought | external-event
    text: str
    created_at: datetime
    interaction_id: str


@dataclass
class BehaviorVersion:
    """One active dynamic behavior set version applied to the service."""

    set_id: str
    version: int
    conversation_triggers: list[str]
    actions: list[dict[str, Any]]


@dataclass
class GraphVersion:
    graph_id: str
    version: int
    body: dict[str, Any]  # the spec's context-graph version body (states, initial/terminal states, globals, ...)


@dataclass
class StatePointer:
    """Where the conversation stands: a state of a graph version, plus the jumpback stack of cross-graph calls."""

    graph_id: str
    graph_version: int
    state: str
    stack: list[dict[str, Any]] = field(default_factory=list)  # [{"graph_id", "graph_version", "jumpback_state"}]

    def as_json(self) -> dict[str, Any]:
        return {"graph": [self.graph_id, self.graph_version], "state": self.state, "stack": self.stack}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StatePointer:
        return cls(data["graph"][0], int(data["graph"][1]), data["state"], list(data.get("stack") or []))


@dataclass
class TurnRequest:
    org_id: str
    conversation_id: str
    user_id: str
    interaction_id: str  # pre-allocated by the caller
    agent: dict[str, Any]  # agent version body: initials, identity, background, behaviors, communication_patterns, voice_config
    graph: GraphVersion  # the service's graph
    referenced_graphs: dict[str, GraphVersion]  # by reference name
    llm_model_preferences: dict[str, dict[str, Any]]  # interaction name -> {"llm_name", "params"}
    behaviors: list[BehaviorVersion]
    previous_behavior: tuple[str, int] | None
    state: StatePointer | None  # None on the opening turn: the engine picks the initial state
    is_returning_user: bool
    transcript: list[TranscriptMessage]  # everything so far, INCLUDING this turn's new user/external messages
    new_message_ids: list[str]  # ids of this turn's new user/external messages (empty on an agent-first opening)
    user_model: list[str]  # latest user model contents + additional_context
    user_preferences: dict[str, Any] = field(default_factory=dict)
    voice_response: bool = False  # the reply will be spoken: slow steps emit their audio fillers (action-too-long)
    now: datetime | None = None
    agent_message_id: str | None = None  # pre-allocated id for the reply (new-message events carry it); generated if None
    performed_queries: list[str] = field(default_factory=list)  # recall queries already answered in this conversation


@dataclass
class Ports:
    llm: LLM
    embedder: Embedder
    clock: Clock
    memories: MemoryRetriever
    tools: ToolRunner
    default_model: str = "default"
    max_transitions: int = 12
    call_timeout: float = 120.0  # seconds for one LLM decision / between two streamed fragments; exceeded -> 504
    reasoning: str = "none"  # decisions: "none" (labelled pick) | "brief" | "contrast" | "checklist" | "checks"
    # a decision state's pick under ``contrast`` asked in this many exit orders at once (2: forward and reversed, each
    # with token log-probabilities, so the order cannot decide: ``engine/debias.py``); 1: one request
    decision_orders: int = 1
    # under ``contrast``, an action state's picked exit checked yes/no on its own and dropped when the model is
    # confident it does not hold (``engine/exit_check.py``; needs token log-probabilities)
    exit_checks: bool = False


@dataclass
class AgentAction:
    """One ``current-agent-action`` event: ``action`` is the exact wire object (with its ``type`` literal)."""

    action: dict[str, Any]


@dataclass
class Fragment:
    """A piece of the agent's reply, in order."""

    text: str


@dataclass
class InnerThought:
    id: str  # pre-allocated message id (insights reference it)
    text: str
    created_at: datetime


@dataclass
class TurnOutcome:
    agent_message_id: str  # pre-allocated
    agent_message: str
    inner_thoughts: list[InnerThought]
    state: StatePointer
    insights: dict[str, Any]  # exactly the get-interaction-insights response body
    active_behavior: tuple[str, int] | None  # carried to the next turn
    triggered_behavior: tuple[str, int] | None  # fired this turn (record a DynamicBehaviorInvocation)
    conversation_completed: bool
    llm_calls: int = 0
    performed_queries: list[str] = field(default_factory=list)  # recall queries run this turn (carry them forward)


TurnEvent = AgentAction | Fragment | TurnOutcome


class EngineError(Exception):
    """A turn that cannot complete; the caller emits an ``error`` event and rolls the turn back."""

    def __init__(self, description: str, http_error_code: int = 500) -> None:
        super().__init__(description)
        self.description = description
        self.http_error_code = http_error_code
