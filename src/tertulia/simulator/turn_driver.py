"""Drive real agent turns in-process, on the same code path as HTTP: the simulator's port onto the turn service,
``tertulia.turns.inprocess`` (planning, lease, engine and the one-transaction save, without HTTP).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tertulia.auth.principal import Principal
from tertulia.conversation.service import finish_conversation
from tertulia.core.errors import ApiError
from tertulia.runtime import Runtime
from tertulia.turns import inprocess


@dataclass
class TurnResult:
    conversation_id: str | None = None
    interaction_id: str | None = None
    agent_message: str = ""
    conversation_completed: bool = False
    error: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)


def _from(run: inprocess.TurnResult, conversation_id: str | None = None) -> TurnResult:
    result = TurnResult(conversation_id=conversation_id or run.conversation_id)
    if run.ok:
        result.interaction_id = run.interaction_id
        result.agent_message = run.agent_message or ""
        result.conversation_completed = run.conversation_completed
    if run.error is not None:
        result.error = f"{run.error.get('http_error_code')}: {run.error.get('error_description')}"
    result.events = [e for e in run.events if e.get("type") != "new-message"]
    return result


async def open_conversation(
    runtime: Runtime, who: Principal, *, service_id: str, version_set: str, message: str | None,
    message_type: str | None, tags: dict[str, str],
) -> TurnResult:
    """create-conversation (``is_test``: no post-processing, no webhooks, no memories) and its opening turn."""
    try:
        run = await inprocess.start_conversation(
            runtime, who, service_id, version_set_name=version_set, initial_message=message,
            initial_message_type=message_type if message is not None else None, tags=dict(tags), is_test=True,
            emit_actions=False,
        )
    except ApiError as exc:
        return TurnResult(error=f"{exc.status_code}: {exc.detail}")
    return _from(run)


async def interact(runtime: Runtime, who: Principal, conversation_id: str, *, message: str, message_type: str) -> TurnResult:
    try:
        run = await inprocess.interact(runtime, who, conversation_id, message, message_type=message_type,
                                       emit_actions=False)
    except ApiError as exc:
        return TurnResult(conversation_id=conversation_id, error=f"{exc.status_code}: {exc.detail}")
    return _from(run, conversation_id)


async def finish(runtime: Runtime, who: Principal, conversation_id: str) -> str | None:
    """finish-conversation; the error text, or None when it finished."""
    try:
        async with runtime.db.unit_of_work() as session:
            problem = await finish_conversation(session, who, conversation_id)
    except ApiError as exc:
        return f"{exc.status_code}: {exc.detail}"
    return None if problem is None else f"{problem.status_code}: {problem.detail}"
