"""Job kinds and their handlers. Packages register at import; the worker looks kinds up here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass
class JobContext:
    runtime: Any  # tertulia.runtime.Runtime
    job: Any  # tertulia.jobs.models.Job

    @property
    def payload(self) -> dict[str, Any]:
        return self.job.payload

    async def complete(self, session: AsyncSession) -> None:
        """Settle the job inside the handler's own transaction (exactly-once in effect); call it first."""
        await self.runtime.jobs.complete(session, self.job)

    @asynccontextmanager
    async def settle(self) -> AsyncIterator[AsyncSession]:
        """The handler's result transaction: settles the job first (``LeaseLost`` when another worker reclaimed it),
        then the block writes the results; ONE commit when the block completes, nothing when it raises."""
        async with self.runtime.db.unit_of_work() as session:
            await self.complete(session)
            yield session


Handler = Callable[[JobContext], Awaitable[None]]
Backoff = Callable[[int, Any], float]  # (attempt that just failed, 1-based; JobSettings) -> seconds to wait


@dataclass
class JobKind:
    name: str
    handler: Handler
    backoff: Backoff | None = None  # None: the worker's exponential default


_KINDS: dict[str, JobKind] = {}
_PERIODIC: dict[str, Callable[[Any], float]] = {}  # kind -> (JobSettings) -> period in seconds


def register_periodic(name: str, period: Callable[[Any], float]) -> None:
    """Make ``name`` (a registered kind) run once per period: workers enqueue it with a per-period dedupe key."""
    _PERIODIC[name] = period


def periodic_kinds() -> dict[str, Callable[[Any], float]]:
    load_handlers()
    return dict(_PERIODIC)


def register(name: str, handler: Handler, backoff: Backoff | None = None) -> None:
    _KINDS[name] = JobKind(name, handler, backoff)


def known_kinds() -> list[str]:
    """The kinds this process can run (workers claim only these)."""
    load_handlers()
    return list(_KINDS)


def lookup(name: str) -> JobKind | None:
    load_handlers()
    return _KINDS.get(name)


def load_handlers() -> None:
    """Import the packages that register job kinds (lazily: they import the domain models)."""
    import importlib

    global _LOADED
    if _LOADED:
        return
    from tertulia.jobs.settings import JobSettings

    for module_name in (*HANDLER_MODULES, *JobSettings().handler_modules):
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module_name.startswith(exc.name):
                raise
    _LOADED = True


_LOADED = False
HANDLER_MODULES = (
    "tertulia.analysis.jobs",
    "tertulia.webhook.delivery",
    "tertulia.api_key.expiry",
    "tertulia.organization.cleanup",
    "tertulia.simulator.jobs",
    "tertulia.prompt_log.jobs",
)
