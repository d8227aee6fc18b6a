"""The per-conversation lease: at most one create/interact in flight per conversation, across processes.

The lease is its OWN short transaction, separate from the request's unit of work and from the turn's outcome
transaction; this module is the only place that commits lease changes:

* ``acquire`` (interact) — ONE conditional UPDATE (``WHERE lock_token IS NULL OR lock_expires_at < now``), so two
  processes racing for it cannot both win; the loser answers 409.
* ``reserve`` (create) — inserts the new conversation already holding its lease; the ``open_key`` unique
  constraint refuses a second unfinished conversation of the same user and service in any process.
* ``still_held`` — re-confirms and extends the lease inside the caller's transaction; ``Renewal`` uses it while a
  long turn streams. The turn's outcome needs no separate check: its conversation UPDATE is itself conditional on
  the token (``repository.append_turn``), so a lost lease writes nothing.
* ``release`` — frees the lease if we still hold it; a reservation whose opening turn never completed is released
  by removing the reserved conversation (it has no interaction yet).

The lease outlives the longest turn (``LEASE_SECONDS``); a crashed holder's lease simply expires. Every write is
conditional on the token, so a holder never frees a lease someone else took after its own expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import anyio
from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tertulia.conversation.models import Conversation, Interaction
from tertulia.core.clock import utcnow
from tertulia.core.db import changed_alone, unit_of_work

# Longer than any turn may take (the SDK reads with a 300 s timeout). TERTULIA_CONVERSATION_LEASE_SECONDS shortens
# it (fault tests: a crashed holder's conversation is usable again sooner); renewal keeps pace with it.
LEASE_SECONDS = float(os.environ.get("TERTULIA_CONVERSATION_LEASE_SECONDS", "600"))
RENEW_EVERY = min(60.0, LEASE_SECONDS / 3)


def new_token() -> str:
    return secrets.token_hex(16)


def _acquire_statement(expected: bool) -> Any:
    """Built once (per variant), on the table's columns (``run_core``): the conditional UPDATE that takes the lease."""
    table = Conversation.__table__
    now = bindparam("b_now", type_=table.c.lock_expires_at.type)
    conditions = [table.c.org_id == bindparam("b_org_id"), table.c.id == bindparam("b_conversation_id"),
                  table.c.is_finished.is_(False), or_(table.c.lock_token.is_(None), table.c.lock_expires_at < now)]
    if expected:
        conditions.append(table.c.num_interactions == bindparam("b_expected"))
    return (
        update(table)
        .where(*conditions)
        .values(lock_token=bindparam("b_token"),
                lock_expires_at=bindparam("b_until", type_=table.c.lock_expires_at.type))
    )


_ACQUIRE = {False: _acquire_statement(False), True: _acquire_statement(True)}


async def acquire(
    sessions: async_sessionmaker, org_id: str, conversation_id: str, expected_interactions: int | None = None
) -> str | None:
    """Take the lease on an unfinished conversation in its own transaction: the token, or None when it is held
    by another request or the conversation is finished. ``expected_interactions``: also None when another turn
    completed since the caller read the conversation (its inputs would be stale)."""
    token = new_token()
    now = utcnow()
    params = {"b_org_id": org_id, "b_conversation_id": conversation_id, "b_now": now, "b_token": token,
              "b_until": now + timedelta(seconds=LEASE_SECONDS), "b_expected": expected_interactions}
    taken = await changed_alone(sessions, _ACQUIRE[expected_interactions is not None], params, write=True)
    return token if taken else None


async def reserve(sessions: async_sessionmaker, make: Callable[[str], Conversation], org_id: str, open_key: str) -> Conversation | None:
    """Insert the conversation ``make(token)`` builds, holding its lease, in its own transaction; None when the
    user already has an unfinished conversation of the service. A leftover of a crashed create (no interaction,
    lease expired) is swept away once."""
    for attempt in range(2):
        conv = make(new_token())
        try:
            async with unit_of_work(sessions, write=True) as session:
                session.add(conv)
            return conv
        except IntegrityError:
            pass
        if attempt == 0 and await _sweep_stale(sessions, org_id, open_key):
            continue
        break
    return None


async def _sweep_stale(sessions: async_sessionmaker, org_id: str, open_key: str) -> bool:
    """Remove an abandoned reservation of ``open_key`` (lease free, no interaction); True when the slot is free."""
    async with unit_of_work(sessions, write=True) as session:
        other = await session.scalar(
            select(Conversation).where(Conversation.org_id == org_id, Conversation.open_key == open_key)
        )
        if other is None:
            return True
        expired = other.lock_token is None or (other.lock_expires_at is not None and other.lock_expires_at < utcnow())
        if not expired or await _has_interactions(session, org_id, other.id):
            return False
        await session.execute(delete(Conversation).where(Conversation.id == other.id, Conversation.org_id == org_id))
    return True


async def _has_interactions(session: AsyncSession, org_id: str, conversation_id: str) -> bool:
    count = await session.scalar(
        select(func.count())
        .select_from(Interaction)
        .where(Interaction.org_id == org_id, Interaction.conversation_id == conversation_id)
    )
    return bool(count)


async def still_held(session: AsyncSession, org_id: str, conversation_id: str, token: str) -> bool:
    """Confirm (and extend) the lease inside the caller's transaction: the turn's commit does this first."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.org_id == org_id, Conversation.id == conversation_id, Conversation.lock_token == token)
        .values(lock_expires_at=utcnow() + timedelta(seconds=LEASE_SECONDS))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def release(
    sessions: async_sessionmaker, org_id: str, conversation_id: str, token: str, *, reserved: bool = False
) -> None:
    """Free the lease if we still hold it, in its own transaction. ``reserved``: the lease of a create whose
    opening turn did not complete; the reserved conversation goes with it. Shielded: runs to completion even while
    the request is cancelled."""
    with anyio.CancelScope(shield=True):
        mine = (Conversation.org_id == org_id, Conversation.id == conversation_id, Conversation.lock_token == token)
        async with unit_of_work(sessions, write=True) as session:
            if reserved:
                await session.execute(delete(Conversation).where(*mine))
            else:
                await session.execute(
                    update(Conversation)
                    .where(*mine)
                    .values(lock_token=None, lock_expires_at=None)
                    .execution_options(synchronize_session=False)
                )


class Renewal:
    """Extends the lease every ``RENEW_EVERY`` seconds while a turn streams. Until the first renewal is due only a
    timer is set: most turns end well before it, and a timer costs far less to set and cancel than a task."""

    def __init__(self, sessions: async_sessionmaker, org_id: str, conversation_id: str, token: str) -> None:
        self.sessions, self.org_id, self.conversation_id, self.token = sessions, org_id, conversation_id, token
        self._task: asyncio.Task | None = None
        self._timer: asyncio.TimerHandle | None = None

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                async with unit_of_work(self.sessions, write=True) as session:
                    await still_held(session, self.org_id, self.conversation_id, self.token)
            await asyncio.sleep(RENEW_EVERY)

    def _due(self) -> None:
        self._timer = None
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def start(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(RENEW_EVERY, self._due)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            self._task = None
