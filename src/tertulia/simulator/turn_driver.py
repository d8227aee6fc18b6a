"""Drive real agent turns in-process, on the same code path as HTTP: plan the turn in a unit of work (what the
create/interact request handlers do), then consume the NDJSON stream the response would carry.

This is the simulator's port onto the turn service. It calls the conversation domain's planning and streaming
functions until the in-process turn entrypoint of ``tertulia.turns`` exists; then only this module changes.
"""

from __future__ import annotations

import json
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from tertulia.auth.principal import Principal
from tertulia.core.errors import ApiError
from tertulia.runtime import Runtime


@dataclass
class TurnResult:
    conversation_id: str | None = None
    interaction_id: str | None = None
    agent_message: str = ""
    conversation_completed: bool = False
    error: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)


async def _consume(stream: Any) -> TurnResult:
    result = TurnResult()
    async with aclosing(stream) as events:
        async for chunk in events:
            for line in chunk.decode().splitlines():
                if not line.strip():
                    continue
                event = json.loads(line)
                kind = event.get("type")
                if kind == "conversation-created":
                    result.conversation_id = event["conversation_id"]
                elif kind == "interaction-complete":
                    result.interaction_id = event["interaction_id"]
                    result.agent_message = event["full_message"]
                    result.conversation_completed = bool(event["conversation_completed"])
                elif kind == "error":
                    result.error = f"{event.get('http_error_code')}: {event.get('error_description')}"
                if kind != "new-message":
                    result.events.append(event)
    return result


async def open_conversation(
    runtime: Runtime, who: Principal, *, service_id: str, version_set: str, message: str | None,
    message_type: str | None, tags: dict[str, str],
) -> TurnResult:
    """create-conversation (``is_test``: no post-processing, no webhooks, no memories) and its opening turn."""
    from tertulia.conversation import start
    from tertulia.conversation.schemas import CreateConversationRequest
    from tertulia.conversation.turn import stream_turn

    body = CreateConversationRequest(
        service_id=service_id, service_version_set_name=version_set, initial_message=message,
        initial_message_type=message_type if message is not None else None, tags=tags, is_test=True,
    )
    try:
        async with runtime.db.unit_of_work() as session:
            plan = await start.plan_create(session, runtime, who, body, "text", None, False)
    except ApiError as exc:
        return TurnResult(error=f"{exc.status_code}: {exc.detail}")
    result = await _consume(stream_turn(runtime, plan))
    result.conversation_id = result.conversation_id or plan.conversation_id
    return result


async def interact(runtime: Runtime, who: Principal, conversation_id: str, *, message: str, message_type: str) -> TurnResult:
    from tertulia.conversation import start
    from tertulia.conversation.turn import stream_turn

    try:
        async with runtime.db.unit_of_work() as session:
            plan = await start.plan_interact(
                session, runtime, who, conversation_id, message_type=message_type, text=message, external_contents=[],
                external_timestamps=[], response_format="text", action_type=None, emit=False,
            )
    except ApiError as exc:
        return TurnResult(conversation_id=conversation_id, error=f"{exc.status_code}: {exc.detail}")
    result = await _consume(stream_turn(runtime, plan))
    result.conversation_id = conversation_id
    return result


async def finish(runtime: Runtime, who: Principal, conversation_id: str) -> str | None:
    """finish-conversation; the error text, or None when it finished."""
    from tertulia.conversation.service import finish_conversation

    try:
        async with runtime.db.unit_of_work() as session:
            problem = await finish_conversation(session, who, conversation_id)
    except ApiError as exc:
        return f"{exc.status_code}: {exc.detail}"
    return None if problem is None else f"{problem.status_code}: {problem.detail}"
