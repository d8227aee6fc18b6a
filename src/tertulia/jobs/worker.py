"""The worker: claims jobs, runs their handlers with a heartbeat on the lease, retries with backoff.

Runs inside ``tertulia serve`` (in-process, by default) or alone (``tertulia worker``); any number of workers in
any number of processes can share one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import traceback

from tertulia.core.clock import utcnow
from tertulia.jobs.models import FAILED
from tertulia.jobs.port import enqueue
from tertulia.jobs.queue import LeaseLost
from tertulia.jobs.registry import JobContext, known_kinds, lookup, periodic_kinds
from tertulia.jobs.settings import JobSettings
from tertulia.observability.jobs import job_observed

log = logging.getLogger("tertulia.jobs")


class Worker:
    def __init__(
        self, runtime, settings: JobSettings | None = None, worker_id: str | None = None, org_id: str | None = None  # noqa: ANN001
    ) -> None:
        self.runtime = runtime
        self.org_id = org_id
        self.queue = runtime.jobs
        self.settings = settings or JobSettings()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = asyncio.Event()

    def backoff(self, attempt: int) -> float:
        base, cap = self.settings.backoff_base_seconds, self.settings.backoff_max_seconds
        return min(cap, base * (2 ** max(0, attempt - 1)))

    async def run_one(self) -> bool:
        """Claim and run one job; False when nothing was claimable."""
        job = await self.queue.claim(self.worker_id, self.org_id, known_kinds())
        if job is None:
            return False
        await self._run(job)
        return True

    async def _run(self, job) -> None:  # noqa: ANN001
        if job.attempts > job.max_attempts:  # reclaimed after its worker died on the last attempt
            await self.queue.retry_or_fail(job, job.last_error or "worker lost (lease expired) on the last attempt", 0)
            log.warning("job %s (%s) failed: out of attempts after a lost worker", job.id, job.kind)
            return
        kind = lookup(job.kind)
        if kind is None:
            job.attempts = job.max_attempts
            await self.queue.retry_or_fail(job, f"no handler for job kind {job.kind!r}", 0)
            return
        with job_observed(job) as observed:
            beat = asyncio.create_task(self._heartbeat(job))
            try:
                await kind.handler(JobContext(self.runtime, job))
                if job.status != "succeeded":
                    async with self.runtime.db.unit_of_work() as session:
                        await self.queue.complete(session, job)
                observed.outcome = "succeeded"
            except LeaseLost:
                observed.outcome = "lease_lost"
                log.warning("job %s (%s): lease lost to another worker; results discarded", job.id, job.kind)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any handler error is a failed attempt
                error = f"{type(exc).__name__}: {exc}"
                delay = kind.backoff(job.attempts, self.settings) if kind.backoff else self.backoff(job.attempts)
                status = await self.queue.retry_or_fail(job, error, delay)
                observed.failed(exc, "failed" if status == FAILED else "retried")
                level = logging.ERROR if status == FAILED else logging.WARNING
                log.log(level, "job %s (%s) attempt %d/%d: %s -> %s", job.id, job.kind, job.attempts,
                        job.max_attempts, error, status)
                log.debug("%s", traceback.format_exc())
            finally:
                beat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beat

    async def _heartbeat(self, job) -> None:  # noqa: ANN001
        interval = max(0.05, self.queue.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                if not await self.queue.heartbeat(job):
                    return
            except Exception:  # noqa: BLE001 - a missed beat is retried at the next interval
                log.warning("job %s: heartbeat failed", job.id, exc_info=True)

    async def drain(self, timeout: float = 30.0) -> int:
        """Run jobs until none is claimable right now (tests, one-shot CLI). Returns how many ran."""
        ran = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and await self.run_one():
            ran += 1
        return ran

    async def schedule_periodic(self) -> float:
        """Enqueue each periodic kind for the current period (a per-period ``dedupe_key``: every worker may do this,
        one job per period runs). Returns seconds until this should be checked again."""
        now = utcnow()
        wait = 60.0
        for kind, period in periodic_kinds().items():
            seconds = max(1.0, float(period(self.settings)))
            bucket = int(now.timestamp() // seconds)
            async with self.runtime.db.unit_of_work() as session:
                await enqueue(session, kind, {}, dedupe_key=f"periodic:{kind}:{seconds:g}:{bucket}", max_attempts=3)
            wait = min(wait, (bucket + 1) * seconds - now.timestamp() + 0.01)
        return max(0.5, wait)

    async def run_forever(self) -> None:
        slots = asyncio.Semaphore(max(1, self.settings.concurrency))
        running: set[asyncio.Task] = set()
        loop = asyncio.get_running_loop()
        next_periodic = 0.0
        log.info("job worker %s started", self.worker_id)
        try:
            while not self._stop.is_set():
                if self.org_id is None and loop.time() >= next_periodic:
                    try:
                        next_periodic = loop.time() + await self.schedule_periodic()
                    except Exception:  # noqa: BLE001 - database briefly unavailable: try again at the next poll
                        log.warning("scheduling periodic jobs failed", exc_info=True)
                        next_periodic = loop.time() + self.settings.poll_seconds
                await slots.acquire()
                try:
                    job = await self.queue.claim(self.worker_id, self.org_id, known_kinds())
                except Exception:  # noqa: BLE001 - database briefly unavailable: wait and poll again
                    log.warning("job claim failed", exc_info=True)
                    job = None
                if job is None:
                    slots.release()
                    await self.queue.wait_for_work(self.settings.poll_seconds)
                    continue
                task = asyncio.create_task(self._run(job))
                running.add(task)
                task.add_done_callback(lambda t: (running.discard(t), slots.release()))
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            log.info("job worker %s stopped", self.worker_id)

    def stop(self) -> None:
        self._stop.set()
        self.queue.notify()
