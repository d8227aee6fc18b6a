"""One agent turn, streamed as NDJSON and committed atomically.

Design (the request handler has already validated the input and taken the conversation's lease, so 400/404/409
are real HTTP statuses):

* the engine runs while the response streams; its actions and reply fragments are forwarded as they come;
* the whole turn (input messages, inner thoughts, the agent message, the interaction with its insights, the state
  pointer, the dynamic-behavior invocation, user stats, auto-finish + post-processing) is written in ONE
  transaction at the end, which first re-confirms the lease;
* any failure yields an ``error`` event and nothing of the turn persists; a client that disconnects (the request
  is cancelled) leaves nothing either. In every case the lease is released in ``finally`` under a shielded cancel
  scope, and a failed opening turn deletes the conversation row it had reserved.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import func, select, update

from tertulia.analysis import schedule_post_processing
from tertulia.conversation import lease
from tertulia.conversation.models import Conversation, Interaction, Message
from tertulia.core.clock import utcnow
from tertulia.dynamic_behavior_set.models import DynamicBehaviorInvocation
from tertulia.engine.contract import AgentAction, EngineError, Fragment, TurnOutcome, TurnRequest
from tertulia.runtime import Runtime
from tertulia.user.models import User

log = logging.getLogger("tertulia.conversation")

VISIBLE_TYPES = ("user-message", "agent-message", "external-event")


@dataclass
class PendingMessage:
    id: str
    message_type: str  # user-message | external-event
    text: str
    created_at: datetime
    sender: str
    format: str = "text"
    audio_key: str | None = None
    audio_content_type: str | None = None


@dataclass
class TurnPlan:
    org_id: str
    conversation_id: str
    user_id: str
    service_id: str
    interaction_id: str
    agent_message_id: str
    token: str
    is_opening: bool  # a create: the conversation row is deleted when this turn fails
    request: TurnRequest
    agent_sender: str
    new_messages: list[PendingMessage] = field(default_factory=list)
    leading_events: list[dict[str, Any]] = field(default_factory=list)
    emit_actions: bool = False
    action_filter: re.Pattern[str] | None = None
    response_format: str = "text"
    audio_type: str = "pcm"  # voice replies: pcm (base64 PCM16) | audio/wav | audio/mpeg, from the Accept header
    agent_audio_key: str | None = None  # the spoken reply, kept for retrieve-message-source


def ndjson(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, separators=(",", ":"), default=_json_default) + "\n").encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)


def error_event(code: int, description: str) -> dict[str, Any]:
    return {"type": "error", "http_error_code": code, "error_description": description}


def _piece(plan: TurnPlan, text: str, sequence: int, stop: bool) -> dict[str, Any]:
    return {
        "type": "new-message",
        "message": text,
        "message_metadata": [],
        "transcript_alignment": None,
        "stop": stop,
        "sequence_number": sequence,
        "message_id": plan.agent_message_id,
    }


def _speech_stream(runtime: Runtime, plan: TurnPlan) -> Any:
    if plan.response_format != "voice":
        return None
    from tertulia.speech.stream import SpeechStream

    return SpeechStream(runtime, plan.request.agent.get("voice_config"), plan.audio_type)


def _voice_piece(plan: TurnPlan, piece: Any, sequence: int) -> dict[str, Any]:
    """A spoken sentence: base64 audio in ``message`` and its ``[ms, char]`` transcript alignment."""
    return {**_piece(plan, piece.message, sequence, stop=False), "transcript_alignment": piece.transcript_alignment}


async def _store_reply_audio(runtime: Runtime, plan: TurnPlan, speech: Any) -> None:
    if runtime.blobs is None or not speech.pieces:
        return
    from tertulia.speech.voice import store_original

    plan.agent_audio_key = await store_original(
        runtime, plan.org_id, plan.conversation_id, plan.agent_message_id, speech.wav(), "audio/wav"
    )


async def _make_ports(runtime: Runtime, plan: TurnPlan) -> Any:
    from tertulia.engine.wiring import make_ports

    return make_ports(runtime, memories=await _memories(runtime, plan))


async def _memories(runtime: Runtime, plan: TurnPlan) -> Any:
    """The user's long-term memories (extracted by post-processing of earlier conversations)."""
    try:
        from tertulia.analysis.memory_store import UserMemoryStore
    except ImportError:  # the analysis package is optional for the turn: the engine then sees no memories
        return None
    return UserMemoryStore(runtime.db.sessions, plan.org_id, plan.user_id, runtime.embedder)


async def stream_turn(runtime: Runtime, plan: TurnPlan) -> AsyncIterator[bytes]:
    """The NDJSON body of a create/interact response (see the module docstring)."""
    renewal = lease.Renewal(runtime.db.sessions, plan.org_id, plan.conversation_id, plan.token)
    renewal.start()
    committed = False
    speech: Any = None
    try:
        for event in plan.leading_events:
            yield ndjson(event)
        from tertulia.engine.turn import run_turn

        ports = await _make_ports(runtime, plan)
        outcome: TurnOutcome | None = None
        held: str | None = None  # the latest fragment, sent once we know whether it is the last
        sequence = 0
        speech = _speech_stream(runtime, plan)  # voice replies: speak sentence by sentence as the text streams
        async for event in run_turn(plan.request, ports):
            if isinstance(event, AgentAction):
                kind = str(event.action.get("type", ""))
                if plan.emit_actions and plan.action_filter is not None and plan.action_filter.search(kind):
                    yield ndjson({"type": "current-agent-action", "action": event.action})
            elif isinstance(event, Fragment) and speech is not None:
                speech.feed(event.text)
                for piece in speech.ready():
                    yield ndjson(_voice_piece(plan, piece, sequence))
                    sequence += 1
            elif isinstance(event, Fragment):
                if held is not None:
                    yield ndjson(_piece(plan, held, sequence, stop=False))
                    sequence += 1
                held = event.text
            elif isinstance(event, TurnOutcome):
                outcome = event
        if outcome is None:
            raise EngineError("The agent ended the turn without a reply.")
        if speech is not None:
            async for piece in speech.finish(outcome.agent_message):
                yield ndjson(_voice_piece(plan, piece, sequence))
                sequence += 1
            yield ndjson(_piece(plan, "", sequence, stop=True))  # closes the audio stream: no more audio
            await _store_reply_audio(runtime, plan, speech)
        else:
            yield ndjson(_piece(plan, held if held is not None else outcome.agent_message, sequence, stop=True))
        with anyio.CancelScope(shield=True):
            await commit_turn(runtime, plan, outcome)
        committed = True
        yield ndjson(
            {
                "type": "interaction-complete",
                "message_id": plan.agent_message_id,
                "interaction_id": plan.interaction_id,
                "full_message": outcome.agent_message,
                "conversation_completed": bool(outcome.conversation_completed),
            }
        )
    except EngineError as exc:
        yield ndjson(error_event(exc.http_error_code, exc.description))
    except Exception as exc:  # noqa: BLE001 - reported in-band: the status line is already sent
        log.exception("turn %s of conversation %s failed", plan.interaction_id, plan.conversation_id)
        yield ndjson(error_event(500, f"The interaction failed and was rolled back ({type(exc).__name__})."))
    finally:
        renewal.stop()
        if speech is not None:
            speech.cancel()
        if not committed:
            await discard_turn(runtime, plan)


async def discard_turn(runtime: Runtime, plan: TurnPlan) -> None:
    """Leave nothing of a failed or abandoned turn: its stored audio goes, and the lease is released (a create's
    reservation with it). Nothing else was written: the outcome is written only by ``commit_turn``."""
    with anyio.CancelScope(shield=True):
        from tertulia.conversation.voice import discard_audio

        await discard_audio(runtime, [m.audio_key for m in plan.new_messages] + [plan.agent_audio_key])
        await lease.release(runtime.db.sessions, plan.org_id, plan.conversation_id, plan.token, reserved=plan.is_opening)


async def commit_turn(runtime: Runtime, plan: TurnPlan, outcome: TurnOutcome) -> None:
    """Write the whole turn in ONE transaction (the turn's outcome; it re-confirms and releases the lease)."""
    now = utcnow()
    async with runtime.db.unit_of_work() as session:
        if not await lease.still_held(session, plan.org_id, plan.conversation_id, plan.token):
            raise EngineError("The conversation was taken over by another request; the turn was discarded.", 409)
        conv = await session.scalar(
            select(Conversation).where(Conversation.org_id == plan.org_id, Conversation.id == plan.conversation_id)
        )
        if conv is None:
            raise EngineError("The conversation no longer exists.", 404)
        position = int(
            await session.scalar(
                select(func.coalesce(func.max(Message.position), -1)).where(
                    Message.org_id == plan.org_id, Message.conversation_id == plan.conversation_id
                )
            )
        )
        rows: list[Message] = []

        def add(**kw: Any) -> None:
            nonlocal position
            position += 1
            rows.append(
                Message(org_id=plan.org_id, conversation_id=plan.conversation_id, interaction_id=plan.interaction_id,
                        position=position, **kw)
            )

        for m in plan.new_messages:
            add(id=m.id, sender=m.sender, message=m.text, format=m.format, message_type=m.message_type,
                created_at=m.created_at, audio_key=m.audio_key, audio_content_type=m.audio_content_type)
        for thought in outcome.inner_thoughts:
            add(id=thought.id, sender=plan.agent_sender, message=thought.text, format="text",
                message_type="agent-inner-thought", created_at=thought.created_at or now)
        add(id=plan.agent_message_id, sender=plan.agent_sender, message=outcome.agent_message,
            format="voice" if plan.response_format == "voice" else "text", message_type="agent-message",
            audio_key=plan.agent_audio_key, audio_content_type="audio/wav" if plan.agent_audio_key else None,
            created_at=max(now, *(r.created_at for r in rows)) if rows else now)
        session.add_all(rows)
        session.add(
            Interaction(
                id=plan.interaction_id,
                org_id=plan.org_id,
                conversation_id=plan.conversation_id,
                sequence=conv.num_interactions,
                insights=outcome.insights,
                replay={
                    "state": conv.state,
                    "previous_behavior": list(plan.request.previous_behavior) if plan.request.previous_behavior else None,
                    "new_message_ids": [m.id for m in plan.new_messages],
                    "is_returning_user": plan.request.is_returning_user,
                    "performed_queries": list(outcome.performed_queries or []),
                },
                completed_at=now,
            )
        )
        visible = sum(1 for r in rows if r.message_type in VISIBLE_TYPES)
        conv.state = outcome.state.as_json()
        conv.active_dynamic_behavior = list(outcome.active_behavior) if outcome.active_behavior else None
        conv.num_messages += visible
        conv.num_interactions += 1
        conv.final_message_id = plan.agent_message_id
        conv.lock_token = None
        conv.lock_expires_at = None
        if outcome.triggered_behavior:
            session.add(
                DynamicBehaviorInvocation(
                    org_id=plan.org_id,
                    dynamic_behavior_set_id=outcome.triggered_behavior[0],
                    dynamic_behavior_set_version=int(outcome.triggered_behavior[1]),
                    conversation_id=plan.conversation_id,
                    service_id=plan.service_id,
                    user_id=plan.user_id,
                    initial_message_id=next((m.id for m in plan.new_messages if m.message_type == "user-message"), None),
                    agent_message_id=plan.agent_message_id,
                    agent_inner_thoughts_ids=[t.id for t in outcome.inner_thoughts],
                    external_event_message_ids=[m.id for m in plan.new_messages if m.message_type == "external-event"],
                    invoked_at=now,
                )
            )
        await session.execute(
            update(User)
            .where(User.org_id == plan.org_id, User.user_id == plan.user_id)
            .values(
                num_messages=User.num_messages + visible,
                num_conversations=User.num_conversations + (1 if plan.is_opening else 0),
                last_message_time=now,
            )
            .execution_options(synchronize_session=False)
        )
        if outcome.conversation_completed:
            conv.is_finished = True
            conv.open_key = None
            conv.finished_at = now
            await session.flush()
            await schedule_post_processing(session, conv)
