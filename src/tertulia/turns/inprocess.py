"""Run turns in-process, without HTTP: the same planning, lease, engine and one-transaction save as the API.

For code that drives agents from inside the server (simulations from a job handler, scripts, tests)::

    from tertulia.turns.inprocess import interact, principal_for, start_conversation

    who = await principal_for(runtime, org_id, user_id)      # the user the conversation belongs to
    first = await start_conversation(runtime, who, service_id)  # the agent speaks first
    first.raise_for_error()
    reply = await interact(runtime, who, first.conversation_id, "I'd like to practise my Spanish.")
    print(reply.agent_message, reply.conversation_completed)

Each call takes and releases the conversation's lease like an HTTP request does, so it is safe next to API
traffic on the same conversation (a concurrent turn makes it raise ``Conflict``). Validation failures raise the
same ``ApiError``s the API answers with (``BadRequest``, ``NotFound``, ``Conflict``, ...); a turn that fails once
started (the engine or the LLM failing) persists nothing and comes back with ``error`` set, exactly like the
stream's ``error`` event. ``events`` holds every event the HTTP stream would have carried. ``store``: another
``TurnStore`` (default: the SQL one on ``runtime.db``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tertulia.auth.principal import Principal
from tertulia.core.errors import ApiError, NotFound
from tertulia.identity.principals import load_principal
from tertulia.runtime import Runtime
from tertulia.turns import service
from tertulia.turns.contract import TurnPlan, TurnStore
from tertulia.turns.pump import pump
from tertulia.turns.schemas import CreateConversationRequest
from tertulia.turns.store_sql import SqlTurnStore


class TurnFailed(ApiError):
    """A started turn that failed (the stream's ``error`` event); nothing of it was saved."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.status_code = code


@dataclass
class TurnResult:
    conversation_id: str
    interaction_id: str
    agent_message: str | None = None  # the full reply (None when the turn failed)
    conversation_completed: bool = False
    error: dict[str, Any] | None = None  # {"type": "error", "http_error_code", "error_description"}
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.agent_message is not None

    def raise_for_error(self) -> TurnResult:
        if self.error is not None:
            raise TurnFailed(int(self.error["http_error_code"]), str(self.error["error_description"]))
        return self


async def principal_for(runtime: Runtime, org_id: str, user_id: str) -> Principal:
    """The principal of an existing user (with its role's grants), to run turns as that user."""
    async with runtime.db.sessions() as session:
        principal = await load_principal(session, org_id, user_id)
    if principal is None:
        raise NotFound(f"User {user_id} not found.")
    return principal


def _store(runtime: Runtime) -> TurnStore:
    return SqlTurnStore(runtime.db, runtime.embedder)


async def _run(runtime: Runtime, store: TurnStore, plan: TurnPlan) -> TurnResult:
    result = TurnResult(plan.conversation_id, plan.interaction_id)
    async for event in pump(runtime, store, plan):
        result.events.append(event)
        if event["type"] == "interaction-complete":
            result.agent_message = event["full_message"]
            result.conversation_completed = bool(event["conversation_completed"])
        elif event["type"] == "error":
            result.error = event
    return result


async def start_conversation(
    runtime: Runtime,
    who: Principal,
    service_id: str,
    *,
    version_set_name: str = "release",
    initial_message: str | None = None,
    initial_message_type: str | None = None,
    tags: dict[str, str | None] | None = None,
    is_test: bool = False,
    emit_actions: bool | None = None,
    store: TurnStore | None = None,
) -> TurnResult:
    """Create a conversation of ``who`` with ``service_id`` and run its opening turn (``create-conversation``).
    ``emit_actions=False`` leaves the ``current-agent-action`` events out (as ``emit_current_agent_action_event``)."""
    body = CreateConversationRequest(
        service_id=service_id, service_version_set_name=version_set_name, initial_message=initial_message,
        initial_message_type=initial_message_type, tags=tags or {}, is_test=is_test,
    )
    store = store or _store(runtime)
    plan = await service.plan_create(store, runtime, who, body, "text", None, emit_actions)
    return await _run(runtime, store, plan)


async def interact(
    runtime: Runtime,
    who: Principal,
    conversation_id: str,
    text: str = "",
    *,
    message_type: str = "user-message",
    external_events: list[tuple[str, str]] | None = None,
    emit_actions: bool | None = None,
    store: TurnStore | None = None,
) -> TurnResult:
    """One turn of an existing conversation (``interact-with-conversation``, text in and out). ``message_type``:
    ``user-message``, ``external-event`` or ``skip`` (no text); ``external_events``: (content, ISO timestamp)."""
    events = external_events or []
    store = store or _store(runtime)
    plan = await service.plan_interact(
        store, runtime, who, conversation_id, message_type=message_type, text=text,
        external_contents=[c for c, _ in events], external_timestamps=[t for _, t in events],
        response_format="text", action_type=None, emit=emit_actions,
    )
    return await _run(runtime, store, plan)
