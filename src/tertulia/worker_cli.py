"""``tertulia worker`` (a standalone job worker) and ``tertulia jobs`` (inspect the queue)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

import typer
from rich.console import Console
from rich.table import Table


async def run_worker(concurrency: int | None) -> None:
    from tertulia.jobs.settings import JobSettings
    from tertulia.jobs.worker import Worker
    from tertulia.wiring import build_runtime, close_runtime

    settings = JobSettings(in_process=False)
    if concurrency:
        settings.concurrency = concurrency
    import os

    os.environ["TERTULIA_JOBS_IN_PROCESS"] = "0"  # the runtime below must not start a second worker
    runtime = await build_runtime()
    worker = Worker(runtime, settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, worker.stop)
    try:
        await worker.run_forever()
    finally:
        await close_runtime(runtime)


async def list_jobs(status: str | None, kind: str | None, limit: int) -> None:
    from tertulia.core.db import Database
    from tertulia.jobs.queue import SqlJobQueue
    from tertulia.settings import get_settings

    db = Database(get_settings().database_url)
    try:
        queue = SqlJobQueue(db)
        counts = await queue.counts()
        rows = await queue.list(status=status, kind=kind, limit=limit)
    finally:
        await db.dispose()
    table = Table(title="jobs " + "  ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    for column in ("id", "kind", "status", "attempts", "run_after", "org", "last_error"):
        table.add_column(column)
    for job in rows:
        table.add_row(job.id, job.kind, job.status, f"{job.attempts}/{job.max_attempts}",
                      job.run_after.isoformat(timespec="seconds"), job.org_id or "", (job.last_error or "")[:80])
    Console().print(table)


def register(app: typer.Typer, prepare: Callable[[], None]) -> None:
    """Add the job commands to ``app``; ``prepare`` runs before a worker starts (logging, migrations)."""

    @app.command()
    def worker(
        concurrency: int = typer.Option(0, help="Jobs run at once (default: TERTULIA_JOBS_CONCURRENCY or 4)."),
    ) -> None:
        """Run a job worker alone (post-processing, webhook deliveries). Any number may share one database."""
        prepare()
        asyncio.run(run_worker(concurrency or None))

    @app.command()
    def jobs(
        status: str = typer.Option(None, help="queued | running | succeeded | failed"),
        kind: str = typer.Option(None, help="e.g. post-processing.compute-metrics, webhook.deliver"),
        limit: int = typer.Option(50),
    ) -> None:
        """List the durable jobs (newest first) with attempts and last error."""
        asyncio.run(list_jobs(status, kind, limit))
