"""Probes. ``/healthz``: the process answers (liveness). ``/readyz``: it can serve (readiness) — the database
answers ``SELECT 1``, its Alembic revision is the code's head (migrations current), and, when this process runs an
in-process job worker, that worker's task is still running. Each check is bounded by ``CHECK_TIMEOUT`` seconds.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

CHECK_TIMEOUT = 5.0


@lru_cache(maxsize=1)
def code_heads() -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    from tertulia.migrations import alembic_config

    return tuple(sorted(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()))


def _error(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def check_database(db: Any) -> tuple[str, str]:
    """(database status, migrations status); both ``ok`` when ready."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import text

    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                current = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    except Exception as exc:  # noqa: BLE001 - any failure to reach the database means not ready
        return f"unreachable ({_error(exc)})", "unknown"
    heads = code_heads()
    if tuple(sorted(current)) == heads:
        return "ok", "ok"
    shown = ", ".join(current) or "none"
    return "ok", f"behind (database at {shown}, code at {', '.join(heads)}; run `tertulia migrate`)"


def check_worker(runtime: Any) -> str:
    task = runtime.worker_task
    if task is None:
        return "disabled"
    if task.done():
        reason = "stopped"
        if not task.cancelled() and task.exception() is not None:
            reason = f"crashed ({_error(task.exception())})"
        return reason
    return "ok"


async def readiness(runtime: Any) -> tuple[bool, dict[str, str]]:
    database, migrations = await check_database(runtime.db)
    checks = {"database": database, "migrations": migrations, "worker": check_worker(runtime)}
    ready = all(value in ("ok", "disabled") for value in checks.values())
    return ready, checks
