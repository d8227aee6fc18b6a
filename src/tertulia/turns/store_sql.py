"""``SqlTurnStore``: the ``TurnStore`` on the database, through each domain's own repository functions.

* reads (``conversation``, ``versions``, ``load``, ``load_new``, ``speaker_hints``) use the request's session when
  given one (``SqlTurnStore(db, reads=session)``), else a short session of their own; ``load`` takes a fixed number
  of queries whatever the conversation's length (transcript, active behaviors, the user with its returning-user and
  memory checks, user model; the interactions' replays only for simulate and recommend; the pinned versions come
  from the process's cache of immutable version rows);
* the lease goes through ``conversation.lease`` (its own short transactions);
* ``save`` writes the whole outcome in ONE unit of work: the conversation moved on by an UPDATE conditional on the
  lease token (the lease check itself), the interaction and its messages (conversation repository), the behavior
  invocation (dynamic-behavior-set repository), the user's turn stats (user repository) and, when the turn finished
  the conversation, its post-processing jobs (analysis). It reads nothing: the plan carries the conversation as the
  lease found it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tertulia.analysis.memory_store import UserMemoryStore
from tertulia.conversation import lease
from tertulia.conversation import repository as conversations
from tertulia.conversation.models import Conversation
from tertulia.conversation.postprocessing import schedule_post_processing
from tertulia.core.clock import utcnow
from tertulia.core.db import Database, read_connection, read_session, run_core
from tertulia.core.prepared import StaleWrite
from tertulia.core.ids import new_object_id
from tertulia.dynamic_behavior_set import repository as behaviors
from tertulia.engine.contract import EngineError, TurnOutcome
from tertulia.service import resolution
from tertulia.service.resolution import resolve_version_set
from tertulia.turns.contract import (
    ConversationView,
    LeaseRenewal,
    PinnedVersions,
    StoredMessage,
    TurnInputs,
    TurnPlan,
    UserView,
)
from tertulia.turns.versions import pinned_from, resolve_pinned
from tertulia.user import repository as users


def _inputs_statement(*, recent: bool, replays: bool) -> Any:
    """Everything a turn reads besides the conversation and its pinned versions, in ONE statement: the transcript
    (window), optionally the interactions' replays, the active behavior sets, the user, its user model, whether it
    is a returning user and whether it has memories. Each part comes from its own domain's repository."""
    org, user, conversation = bindparam("org_id"), bindparam("user_id"), bindparam("conversation_id")
    parts = [
        conversations.transcript_rows(recent=recent).label("t_transcript"),
        resolution.active_set_rows().label("t_sets"),
        users.user_rows().label("t_user"),
        users.model_rows().label("t_model"),
        conversations.earlier_finished_exists(org, user, bindparam("service_id"), bindparam("before"),
                                              conversation).label("t_returning"),
        users.memories_exist(org, user).label("t_has_memories"),
    ]
    if replays:
        parts.append(conversations.replay_rows().label("t_replays"))
    return select(*parts)


_INPUTS = {(recent, replays): _inputs_statement(recent=recent, replays=replays)
           for recent in (False, True) for replays in (False, True)}


TAKEN_OVER = "The conversation was taken over by another request; the turn was discarded."


def view_of(conv: Any) -> ConversationView:
    """The view of a conversation: its ORM instance or its row (the same attribute names)."""
    return ConversationView(
        org_id=conv.org_id, id=conv.id, user_id=conv.user_id, service_id=conv.service_id, created_at=conv.created_at,
        version_set_info=dict(conv.version_set_info or {}), is_finished=conv.is_finished, is_test=conv.is_test,
        tags=dict(conv.tags or {}), state=conv.state,
        active_behavior=tuple(conv.active_dynamic_behavior) if conv.active_dynamic_behavior else None,  # type: ignore[arg-type]
        num_interactions=conv.num_interactions, performed_queries=tuple(conv.performed_queries or ()),
    )


class SqlTurnStore:
    def __init__(self, db: Database, embedder: Any = None, *, reads: AsyncSession | None = None) -> None:
        self.db = db
        self.embedder = embedder  # ranks the user's memories by meaning when present
        self._reads = reads

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        if self._reads is not None:
            yield self._reads
            return
        async with read_session(self.db.sessions) as session:
            yield session

    # -- reads ---------------------------------------------------------------------------------------------------

    async def conversation(self, org_id: str, conversation_id: str) -> ConversationView | None:
        async with self._session() as session:
            conv = await conversations.conversation_row(session, org_id, conversation_id)
        return view_of(conv) if conv is not None else None

    async def versions(self, conversation: ConversationView) -> PinnedVersions:
        """The versions the conversation is pinned to, without the active behaviors (read by ``load``). Immutable
        rows: normally from the process's version cache, no statement."""
        async with self._session() as session:
            return await resolve_pinned(session, conversation.org_id, conversation.service_id,
                                        conversation.version_set_info, behaviors=False)

    async def load(
        self, conversation: ConversationView, *, recent: int | None = None, versions: PinnedVersions | None = None,
        replays: bool = True,
    ) -> TurnInputs:
        conv = conversation
        if self._reads is None and versions is not None:  # a streamed turn's own read: no ORM session when cached
            async with read_connection(self.db.sessions) as connection:
                row = await self._inputs(connection, conv, conv.created_at, recent=recent, replays=replays)
            behaviors = resolution.cached_active_behaviors(conv.org_id, conv.service_id, row.t_sets)
            if behaviors is None:
                async with self._session() as session:
                    behaviors = await resolution.active_behaviors(session, conv.org_id, conv.service_id,
                                                                  rows=row.t_sets)
            return self._inputs_of(conv, versions, behaviors, row, replays)
        async with self._session() as session:
            if versions is None:
                versions = await resolve_pinned(session, conv.org_id, conv.service_id, conv.version_set_info,
                                                behaviors=False)
            row = await self._inputs(session, conv, conv.created_at, recent=recent, replays=replays)
            behaviors = await resolution.active_behaviors(session, conv.org_id, conv.service_id, rows=row.t_sets)
        return self._inputs_of(conv, versions, behaviors, row, replays)

    def _inputs_of(self, conv: ConversationView, versions: PinnedVersions, behaviors: list, row: Any,
                   replays: bool) -> TurnInputs:
        # the repository's rows have StoredMessage's fields in its order (id, interaction, type, text, time, position)
        transcript = list(map(StoredMessage._make, conversations.transcript_from_rows(row.t_transcript)))
        done = conversations.replays_from_rows(row.t_replays) if replays else {}
        user, model = self._user(conv, row)
        return TurnInputs(conv, replace(versions, behaviors=behaviors), transcript, done, bool(row.t_returning), user,
                          model, self._memories(conv, bool(row.t_has_memories)))

    async def last_message_at(self, conversation: ConversationView) -> Any:
        """When the conversation's latest message was sent (None before its first)."""
        async with self._session() as session:
            last = await conversations.transcript(session, conversation.org_id, conversation.id, last=1)
        return last[0].created_at if last else None

    async def load_new(
        self, org_id: str, user_id: str, service_id: str, version_set_name: str, *, is_test: bool, tags: dict[str, Any]
    ) -> TurnInputs:
        now = utcnow()
        async with self._session() as session:
            resolved = await resolve_version_set(session, org_id, service_id, version_set_name)
            conv = ConversationView(org_id=org_id, id=new_object_id(), user_id=user_id, service_id=service_id,
                                    created_at=now, version_set_info=resolved.version_set_info, is_test=is_test,
                                    tags=dict(tags))
            row = await self._inputs(session, conv, now, recent=0, replays=False)
        user, model = self._user(conv, row)
        return TurnInputs(conv, pinned_from(resolved), [], {}, bool(row.t_returning), user, model,
                          self._memories(conv, bool(row.t_has_memories)))

    @staticmethod
    async def _inputs(session: AsyncSession | AsyncConnection, conv: ConversationView, before: Any, *, recent: int | None,
                      replays: bool) -> Any:
        statement = _INPUTS[(recent is not None, replays)]
        params = {"org_id": conv.org_id, "conversation_id": conv.id, "user_id": conv.user_id,
                  "service_id": conv.service_id, "before": before}
        if recent is not None:
            params["last"] = recent
        return (await run_core(session, statement, params)).one()

    @staticmethod
    def _user(conv: ConversationView, row: Any) -> tuple[UserView | None, list[str]]:
        """The user (None when there is no such user any more) and its user model plus additional context."""
        model = users.model_from_rows(row.t_model)
        user = users.user_from_rows(row.t_user)
        if user is None:
            return None, model
        model.extend(str(c) for c in (user.additional_context or []))
        name = f"{user.first_name} {user.last_name}".strip() or conv.user_id
        return UserView(conv.user_id, name, dict(user.preferences or {})), model

    def _memories(self, conv: ConversationView, known_any: bool | None = None) -> UserMemoryStore:
        return UserMemoryStore(self.db.sessions, conv.org_id, conv.user_id, self.embedder, known_any=known_any)

    async def speaker_hints(self, org_id: str, conversation_id: str) -> tuple[str | None, list[str]]:
        """The conversation user's preferred language and ``audio_keyterms`` (user preferences)."""
        async with self._session() as session:
            conv = await conversations.get_conversation(session, org_id, conversation_id)
            user = await users.get_user(session, org_id, conv.user_id) if conv is not None else None
        preferences = (user.preferences if user is not None else None) or {}
        keyterms = [str(k) for k in preferences.get("audio_keyterms") or [] if k]
        return preferences.get("preferred_language") or None, keyterms

    # -- the lease (its own short transactions) ------------------------------------------------------------------

    async def _end_reads(self) -> None:
        """End the request's read transaction before a lease transaction starts (it wrote nothing, so committing it
        only returns its connection to the pool). A request then never holds two pooled connections at once: with
        a bounded pool, as many concurrent turns as the pool has connections, each holding its reads while waiting
        for a second connection for its lease, would wait for each other until the pool's timeout."""
        if self._reads is not None and self._reads.in_transaction():
            await self._reads.commit()

    async def reserve(self, conversation: ConversationView) -> str | None:
        await self._end_reads()
        conv = conversation
        open_key = f"{conv.user_id}|{conv.service_id}"

        def holding(token: str) -> Conversation:  # a fresh row per attempt
            return Conversation(
                id=conv.id, org_id=conv.org_id, user_id=conv.user_id, service_id=conv.service_id,
                version_set_info=conv.version_set_info, is_test=conv.is_test, tags=dict(conv.tags), open_key=open_key,
                lock_token=token, lock_expires_at=conv.created_at + timedelta(seconds=lease.LEASE_SECONDS),
                created_at=conv.created_at, num_messages=0, num_interactions=0, is_finished=False,
            )

        reserved = await lease.reserve(self.db.sessions, holding, conv.org_id, open_key)
        return reserved.lock_token if reserved is not None else None

    async def acquire(self, conversation: ConversationView) -> str | None:
        await self._end_reads()
        return await lease.acquire(self.db.sessions, conversation.org_id, conversation.id, conversation.num_interactions)

    async def release(self, plan: TurnPlan) -> None:
        await lease.release(self.db.sessions, plan.org_id, plan.conversation_id, plan.token, reserved=plan.is_opening)

    def renewal(self, plan: TurnPlan) -> LeaseRenewal:
        return lease.Renewal(self.db.sessions, plan.org_id, plan.conversation_id, plan.token)

    # -- the outcome (one transaction) ---------------------------------------------------------------------------

    async def save(self, plan: TurnPlan, outcome: TurnOutcome) -> None:
        """Four statements for a plain turn: the conversation's conditional UPDATE (the lease check), the interaction,
        its messages (one multi-row INSERT) and the user's stats; the behavior invocation and post-processing jobs
        only when the turn triggered or finished them."""
        now = utcnow()
        conv = plan.conversation
        if conv is None:
            raise EngineError("The turn has no conversation to write to.", 500)
        # a plain turn's four statements all go through run_core and read nothing back: no ORM session, and on
        # SQLite one trip to the connection's thread, COMMIT included (``core_batch``)
        plain = not outcome.triggered_behavior and not outcome.conversation_completed
        try:
            await self._write(plan, outcome, now, conv, plain)
        except StaleWrite:  # the lease check (append_turn's guarded UPDATE): everything was rolled back
            raise EngineError(TAKEN_OVER, 409) from None

    async def _write(self, plan: TurnPlan, outcome: TurnOutcome, now: Any, conv: ConversationView, plain: bool) -> None:
        async with (self.db.core_batch if plain else self.db.unit_of_work)(write=True) as session:
            messages = _messages(plan, outcome, now)
            replay = {
                "state": conv.state,  # where the turn started (the lease kept it unchanged since)
                "previous_behavior": list(plan.request.previous_behavior) if plan.request.previous_behavior else None,
                "new_message_ids": [m.id for m in plan.new_messages],
                "is_returning_user": plan.request.is_returning_user,
                "performed_queries": list(outcome.performed_queries or []),
            }
            visible = await conversations.append_turn(
                session, plan.org_id, plan.conversation_id, plan.token, sequence=conv.num_interactions,
                after_position=plan.last_position, interaction_id=plan.interaction_id, messages=messages,
                insights=outcome.insights, replay=replay, state=outcome.state.as_json(),
                active_behavior=list(outcome.active_behavior) if outcome.active_behavior else None,
                performed_queries=list(dict.fromkeys([*conv.performed_queries, *(outcome.performed_queries or [])])),
                final_message_id=plan.agent_message_id, finished=bool(outcome.conversation_completed), now=now,
            )
            if outcome.triggered_behavior:
                await behaviors.record_invocation(
                    session, plan.org_id, set_id=outcome.triggered_behavior[0],
                    version=int(outcome.triggered_behavior[1]), conversation_id=plan.conversation_id,
                    service_id=plan.service_id, user_id=plan.user_id,
                    initial_message_id=next((m.id for m in plan.new_messages if m.message_type == "user-message"), None),
                    agent_message_id=plan.agent_message_id,
                    agent_inner_thoughts_ids=[t.id for t in outcome.inner_thoughts],
                    external_event_message_ids=[m.id for m in plan.new_messages if m.message_type == "external-event"],
                    invoked_at=now,
                )
            await users.add_turn_stats(session, plan.org_id, plan.user_id, messages=visible,
                                       conversations=1 if plan.is_opening else 0, at=now)
            if outcome.conversation_completed:
                await schedule_post_processing(session, conv)


def _messages(plan: TurnPlan, outcome: TurnOutcome, now: Any) -> list[dict[str, Any]]:
    """The turn's messages in conversation order: its inputs, the inner thoughts, then the agent's reply."""
    rows: list[dict[str, Any]] = [
        dict(id=m.id, sender=m.sender, message=m.text, format=m.format, message_type=m.message_type,
             created_at=m.created_at, audio_key=m.audio_key, audio_content_type=m.audio_content_type)
        for m in plan.new_messages
    ]
    rows += [
        dict(id=t.id, sender=plan.agent_sender, message=t.text, format="text", message_type="agent-inner-thought",
             created_at=t.created_at or now)
        for t in outcome.inner_thoughts
    ]
    rows.append(dict(
        id=plan.agent_message_id, sender=plan.agent_sender, message=outcome.agent_message,
        format="voice" if plan.response_format == "voice" else "text", message_type="agent-message",
        audio_key=plan.agent_audio_key, audio_content_type="audio/wav" if plan.agent_audio_key else None,
        created_at=max(now, *(r["created_at"] for r in rows)) if rows else now,
    ))
    return rows
