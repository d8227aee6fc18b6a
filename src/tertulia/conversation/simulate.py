"""Simulate an interaction (seed 002; absent from the OpenAPI):
``POST /conversation/{conversation_id}/interaction/{interaction_id}/simulate``.

Re-runs the interaction from the state it started in, with the transcript as it stood then plus that interaction's
own inputs, optionally with the agent version (fields merged over the pinned version) and/or the context-graph
version (the body replaced) overridden. Persists nothing. As the seed says, the currently active dynamic behaviors
are used, not those of the original run. Side-effect states are run by the engine like any other state (the
engine has no "skip" switch); since nothing is persisted, their effects on the conversation are discarded.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.conversation import repository as repo
from tertulia.conversation.service import conv_attrs, require_conversation
from tertulia.conversation.versions import resolve_pinned
from tertulia.core.errors import ApiError, NotFound
from tertulia.core.ids import new_object_id
from tertulia.core.schemas import WireModel
from tertulia.engine.contract import EngineError, GraphVersion, StatePointer, TranscriptMessage, TurnOutcome, TurnRequest
from tertulia.runtime import Runtime
from tertulia.user.models import User


class SimulateInteractionRequest(WireModel):
    agent_version_override: dict[str, Any] | None = None
    state_machine_version_override: dict[str, Any] | None = None


class SimulateInteractionResponse(BaseModel):
    agent_message: str
    conversation_ended: bool


class _EngineFailed(ApiError):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = code


async def simulate_interaction(
    session: AsyncSession, runtime: Runtime, who: Principal, conversation_id: str, interaction_id: str,
    body: SimulateInteractionRequest,
) -> SimulateInteractionResponse:
    from sqlalchemy import select

    from tertulia.engine.turn import run_turn
    from tertulia.engine.wiring import make_ports

    conv = await require_conversation(session, who, conversation_id)
    interaction = await repo.get_interaction(session, who.org_id, conv.id, interaction_id)
    if interaction is None:
        raise NotFound(f"Interaction {interaction_id} not found in conversation {conversation_id}.")
    who.require("Conversation:InteractWithConversation", conv_attrs(conv))
    replay = interaction.replay or {}
    versions = await resolve_pinned(session, conv.org_id, conv.service_id, conv.version_set_info)
    agent = {**versions.agent, **(body.agent_version_override or {})}
    graph = versions.graph
    if body.state_machine_version_override is not None:
        graph = GraphVersion(graph.graph_id, graph.version, {**graph.body, **body.state_machine_version_override})
    history = await repo.transcript(session, conv.org_id, conv.id)
    inputs = set(replay.get("new_message_ids") or [])
    own = [m for m in history if m.interaction_id == interaction.id]
    cutoff = min((m.position for m in own), default=len(history))
    transcript = [
        TranscriptMessage(m.id, m.message_type, m.message, m.created_at, m.interaction_id)
        for m in history
        if m.position < cutoff or m.id in inputs
    ]
    user = await session.scalar(select(User).where(User.org_id == conv.org_id, User.user_id == conv.user_id))
    previous = replay.get("previous_behavior")
    request = TurnRequest(
        org_id=conv.org_id, conversation_id=conv.id, user_id=conv.user_id, interaction_id=new_object_id(),
        agent=agent, graph=graph, referenced_graphs=versions.referenced_graphs,
        llm_model_preferences=versions.llm_model_preferences, behaviors=versions.behaviors,
        previous_behavior=(previous[0], int(previous[1])) if previous else None,
        state=StatePointer.from_json(replay["state"]) if replay.get("state") else None,
        is_returning_user=bool(replay.get("is_returning_user")), transcript=transcript,
        new_message_ids=[m.id for m in own if m.id in inputs], user_model=[],
        user_preferences=dict(user.preferences or {}) if user else {},
    )
    outcome: TurnOutcome | None = None
    try:
        async for event in run_turn(request, make_ports(runtime)):
            if isinstance(event, TurnOutcome):
                outcome = event
    except EngineError as exc:
        raise _EngineFailed(exc.http_error_code, exc.description) from exc
    if outcome is None:
        raise _EngineFailed(502, "The agent ended the simulated turn without a reply.")
    return SimulateInteractionResponse(agent_message=outcome.agent_message, conversation_ended=outcome.conversation_completed)
