"""The per-conversation lease: at most one create/interact/finish in flight per conversation, across processes.

A lease is taken with ONE conditional UPDATE (``WHERE lock_token IS NULL OR lock_expires_at < now``), so two
processes racing for it cannot both win; the loser answers 409. The lease outlives the longest turn
(``LEASE_SECONDS``) and the holder renews it while a long turn streams (``Renewal``); a crashed holder's lease
simply expires. Release is conditional on the token, so a holder never frees a lease someone else took after its
own expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from datetime import timedelta

import anyio
from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tertulia.conversation.models import Conversation
from tertulia.core.clock import utcnow

# Longer than any turn may take (the SDK reads with a 300 s timeout). TERTULIA_CONVERSATION_LEASE_SECONDS shortens
# it (fault tests: a crashed holder's conversation is usable again sooner); renewal keeps pace with it.
LEASE_SECONDS = float(os.environ.get("TERTULIA_CONVERSATION_LEASE_SECONDS", "600"))
RENEW_EVERY = min(60.0, LEASE_SECONDS / 3)


def new_token() -> str:
    return secrets.token_hex(16)


async def try_acquire(session: AsyncSession, org_id: str, conversation_id: str, token: str) -> bool:
    """Take the lease on an unfinished conversation in the caller's transaction; False when held or finished."""
    now = utcnow()
    result = await session.execute(
        update(Conversation)
        .where(
            Conversation.org_id == org_id,
            Conversation.id == conversation_id,
            Conversation.is_finished.is_(False),
            or_(Conversation.lock_token.is_(None), Conversation.lock_expires_at < now),
        )
        .values(lock_token=token, lock_expires_at=now + timedelta(seconds=LEASE_SECONDS))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def still_held(session: AsyncSession, org_id: str, conversation_id: str, token: str) -> bool:
    """Confirm (and extend) the lease inside the caller's transaction: the turn's commit does this first."""
    result = await session.execute(
        update(Conversation)
        .where(Conversation.org_id == org_id, Conversation.id == conversation_id, Conversation.lock_token == token)
        .values(lock_expires_at=utcnow() + timedelta(seconds=LEASE_SECONDS))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def release(sessions: async_sessionmaker, org_id: str, conversation_id: str, token: str) -> None:
    """Free the lease if we still hold it. Shielded: runs to completion even while the request is cancelled."""
    with anyio.CancelScope(shield=True):
        async with sessions() as session:
            await session.execute(
                update(Conversation)
                .where(
                    Conversation.org_id == org_id, Conversation.id == conversation_id, Conversation.lock_token == token
                )
                .values(lock_token=None, lock_expires_at=None)
                .execution_options(synchronize_session=False)
            )
            await session.commit()


class Renewal:
    """Extends the lease every ``RENEW_EVERY`` seconds while a turn streams."""

    def __init__(self, sessions: async_sessionmaker, org_id: str, conversation_id: str, token: str) -> None:
        self.sessions, self.org_id, self.conversation_id, self.token = sessions, org_id, conversation_id, token
        self._task: asyncio.Task | None = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            with contextlib.suppress(Exception):
                async with self.sessions() as session:
                    await still_held(session, self.org_id, self.conversation_id, self.token)
                    await session.commit()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
