"""Attaches the durable job queue (``runtime.jobs``) and, when ``TERTULIA_JOBS_IN_PROCESS`` is on, a worker.

``tertulia serve`` turns the in-process worker on (``--no-worker`` to leave jobs to ``tertulia worker``
processes); runtimes built elsewhere (tests, the ``worker`` command) start workers explicitly.
"""

from __future__ import annotations

import asyncio

from tertulia.jobs.port import bind
from tertulia.jobs.queue import SqlJobQueue
from tertulia.jobs.settings import JobSettings


async def attach(runtime) -> None:  # noqa: ANN001
    settings = JobSettings()
    runtime.jobs = SqlJobQueue(runtime.db, lease_seconds=settings.lease_seconds)
    runtime.job_settings = settings
    bind(runtime.db.sessions, runtime.jobs)  # producers enqueue through runtime.jobs (jobs/port.py)
    if settings.in_process:
        start_worker(runtime)


def start_worker(runtime) -> None:  # noqa: ANN001
    """Start a background worker on the running loop and register its closer (``close_runtime`` awaits it)."""
    from tertulia.jobs.worker import Worker

    worker = Worker(runtime, runtime.job_settings)
    task = asyncio.get_running_loop().create_task(worker.run_forever())

    async def close() -> None:
        worker.stop()
        try:
            await asyncio.wait_for(task, 10)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()

    runtime.closers.insert(0, close)
    runtime.worker = worker
    runtime.worker_task = task  # /readyz: the worker is alive while this task runs
