"""Planning and validating a turn: pure functions over ``TurnInputs`` (no SQL, no I/O).

Everything a create/interact request checks BEFORE the status line lives here or in ``service.py`` (which adds
the store and the lease), so 400/404/409/422 are real HTTP statuses; what comes out is the engine's
``TurnRequest`` inside a ``TurnPlan``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tertulia.auth.principal import Principal
from tertulia.core.errors import BadRequest, Unprocessable
from tertulia.core.ids import new_object_id
from tertulia.engine.contract import GraphVersion, StatePointer, TranscriptMessage, TurnRequest
from tertulia.engine.prompts import TRANSCRIPT_WINDOW
from tertulia.turns.contract import PendingMessage, StoredMessage, TurnInputs

EXTERNAL_SENDER = "External event"
# External-event timestamps must be in the past; clients stamp them from their own clocks (the SDK's integration test
# places them 1-2 s after the latest message and sends at once), so a few seconds of skew are tolerated.
CLOCK_SKEW = timedelta(seconds=5)
MESSAGE_TYPES = ("user-message", "external-event", "skip")
# How much of the transcript a create/interact turn loads: exactly what the engine's prompts see, the last
# ``prompts.TRANSCRIPT_WINDOW`` messages (behavior selection fewer; a turn's new messages come after the stored ones,
# so the stored part the prompts can reach is never longer). A long conversation's turn reads a constant amount, not
# its whole history; ``tests/test_turn_window.py`` checks that the prompts are the same as with the whole history.
TURN_TRANSCRIPT = TRANSCRIPT_WINDOW


def compile_action_filter(pattern: str | None) -> re.Pattern[str]:
    try:
        return re.compile(pattern if pattern is not None else "^.*$")
    except re.error as exc:
        raise Unprocessable(f"current_agent_action_type is not a valid regular expression: {exc}.") from exc


def wants_actions(who: Principal, attrs: dict[str, Any], emit: bool | None) -> bool:
    """``current-agent-action`` events need ``Conversation:GetInteractionInsights``. The current spec emits them by
    default (filtered by ``current_agent_action_type``); the older ``emit_current_agent_action_event=false`` still
    turns them off."""
    return emit is not False and who.has("Conversation:GetInteractionInsights", attrs)


def check_voice_output(has_tts: bool, agent: dict[str, Any], response_format: str) -> None:
    if response_format != "voice":
        return
    if not agent.get("voice_config"):
        raise BadRequest("The agent does not have voice config specified; voice responses are unavailable.")
    if not has_tts:
        raise BadRequest("Voice responses need a text-to-speech adapter, and none is configured on this server.")


def agent_name(agent: dict[str, Any]) -> str:
    return str((agent.get("identity") or {}).get("name") or "Agent")


def user_sender(inputs: TurnInputs) -> str:
    return inputs.user.display_name if inputs.user is not None else inputs.conversation.user_id


def parse_timestamp(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise Unprocessable(f"external_event_message_timestamp {raw!r} is not an ISO-8601 datetime.") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def check_interact_input(
    message_type: str, text: str, external_contents: list[str], external_timestamps: list[str]
) -> list[datetime]:
    """The interact body's own rules; returns the parsed external-event timestamps."""
    if message_type not in MESSAGE_TYPES:
        raise Unprocessable("initial_message_type must be user-message, external-event or skip.")
    if message_type == "skip":
        if text or external_contents or external_timestamps:
            raise BadRequest("A skip carries no message and no external events.")
    elif not text.strip():
        raise BadRequest("The user message is empty.")
    if len(external_contents) != len(external_timestamps):
        raise BadRequest("external_event_message_content and external_event_message_timestamp must have the same length.")
    if any(not c.strip() for c in external_contents):
        raise BadRequest("External event messages cannot be empty.")
    return [parse_timestamp(t) for t in external_timestamps]


def check_timestamps(stamps: list[datetime], last: datetime, now: datetime) -> None:
    """External events happened in the past, after the conversation's last message (``last``), in order."""
    if any(s > now + CLOCK_SKEW for s in stamps):
        raise BadRequest("The timestamps for external event messages must be in the past.")
    if any(s <= last for s in stamps) or any(b < a for a, b in zip(stamps, stamps[1:], strict=False)):
        raise BadRequest(
            "The timestamps for external event messages must come after the conversation's last message, in "
            "chronological order."
        )


def interact_messages(
    message_type: str, text: str, external_contents: list[str], stamps: list[datetime], now: datetime, *,
    voice: bool = False,
) -> tuple[list[PendingMessage], list[dict[str, Any]]]:
    """This turn's new messages (external events first, then the user's) and the events leading the stream. The
    user message's sender is named by ``name_user_messages`` once the user is loaded."""
    new = [PendingMessage(new_object_id(), "external-event", c.strip(), s, EXTERNAL_SENDER)
           for c, s in zip(external_contents, stamps, strict=True)]
    leading: list[dict[str, Any]] = []
    if message_type != "skip":
        main = PendingMessage(
            new_object_id(), message_type, text.strip(), max(now, *(s for s in stamps)) if stamps else now,
            EXTERNAL_SENDER if message_type == "external-event" else "",
            format="voice" if voice else "text",
        )
        new.append(main)
        leading.append({"type": "user-message-available", "message_id": main.id, "user_message": main.text})
    return new, leading


def name_user_messages(new: list[PendingMessage], inputs: TurnInputs) -> None:
    for message in new:
        if message.message_type == "user-message":
            message.sender = user_sender(inputs)


def opening_messages(inputs: TurnInputs, text: str | None, kind: str | None, now: datetime) -> list[PendingMessage]:
    if text is None:
        return []
    kind = kind or "user-message"
    sender = EXTERNAL_SENDER if kind == "external-event" else user_sender(inputs)
    return [PendingMessage(new_object_id(), kind, text, now, sender)]


def _transcript(messages: list[StoredMessage]) -> list[TranscriptMessage]:
    return [TranscriptMessage(m.id, m.message_type, m.text, m.created_at, m.interaction_id) for m in messages]


def turn_request(
    inputs: TurnInputs, interaction_id: str, new: list[PendingMessage], agent_message_id: str, now: datetime,
    *, voice_response: bool = False,
) -> TurnRequest:
    """The engine's request for the next turn of ``inputs.conversation``."""
    conv, versions = inputs.conversation, inputs.versions
    transcript = _transcript(inputs.transcript)
    transcript += [TranscriptMessage(m.id, m.message_type, m.text, m.created_at, interaction_id) for m in new]
    return TurnRequest(
        org_id=conv.org_id,
        conversation_id=conv.id,
        user_id=conv.user_id,
        interaction_id=interaction_id,
        agent=versions.agent,
        graph=versions.graph,
        referenced_graphs=versions.referenced_graphs,
        llm_model_preferences=versions.llm_model_preferences,
        behaviors=versions.behaviors,
        previous_behavior=conv.active_behavior,
        state=StatePointer.from_json(conv.state) if conv.state else None,
        is_returning_user=inputs.is_returning_user,
        transcript=transcript,
        new_message_ids=[m.id for m in new],
        user_model=list(inputs.user_model),
        user_preferences=dict(inputs.user.preferences) if inputs.user is not None else {},
        now=now,
        agent_message_id=agent_message_id,
        performed_queries=inputs.performed_queries,
        voice_response=voice_response,
    )


def replay_request(
    inputs: TurnInputs, interaction_id: str, agent_override: dict[str, Any] | None,
    graph_override: dict[str, Any] | None,
) -> TurnRequest:
    """Re-run ``interaction_id`` from the state it started in (simulate-an-interaction): the transcript as it stood
    then plus that interaction's own inputs, the pinned versions with the overrides merged in (agent fields merged,
    the context-graph body fields replaced), the currently active behaviors, no user model."""
    conv, versions = inputs.conversation, inputs.versions
    replay = inputs.replays.get(interaction_id) or {}
    agent = {**versions.agent, **(agent_override or {})}
    graph = versions.graph
    if graph_override is not None:
        graph = GraphVersion(graph.graph_id, graph.version, {**graph.body, **graph_override})
    wanted = set(replay.get("new_message_ids") or [])
    own = [m for m in inputs.transcript if m.interaction_id == interaction_id]
    cutoff = min((m.position for m in own), default=len(inputs.transcript))
    previous = replay.get("previous_behavior")
    return TurnRequest(
        org_id=conv.org_id, conversation_id=conv.id, user_id=conv.user_id, interaction_id=new_object_id(),
        agent=agent, graph=graph, referenced_graphs=versions.referenced_graphs,
        llm_model_preferences=versions.llm_model_preferences, behaviors=versions.behaviors,
        previous_behavior=(previous[0], int(previous[1])) if previous else None,
        state=StatePointer.from_json(replay["state"]) if replay.get("state") else None,
        is_returning_user=bool(replay.get("is_returning_user")),
        transcript=_transcript([m for m in inputs.transcript if m.position < cutoff or m.id in wanted]),
        new_message_ids=[m.id for m in own if m.id in wanted], user_model=[],
        user_preferences=dict(inputs.user.preferences) if inputs.user is not None else {},
    )


def visible_history(inputs: TurnInputs) -> list[TranscriptMessage]:
    """The transcript without inner thoughts (what recommendations see)."""
    return _transcript([m for m in inputs.transcript if m.message_type != "agent-inner-thought"])
