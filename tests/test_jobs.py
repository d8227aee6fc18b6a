"""The durable job queue: crash recovery across processes, no double claims, retries with backoff, failure."""

from __future__ import annotations

import asyncio
import secrets
import os
import signal
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tertulia.core.db import Database
from tertulia.core.ids import new_object_id
from tertulia.jobs.models import Job
from tertulia.jobs.queue import SqlJobQueue, enqueue_job
from tertulia.jobs.registry import register
from tertulia.jobs.settings import JobSettings
from tertulia.jobs.worker import Worker
from tertulia.runtime import Runtime
from tertulia.user.models import UserMemory
from tests.support.postprocessing import FAST

REPO = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("TERTULIA_JOBS_TEST_PG_URL")  # unset: a fresh database per run (see the PostgreSQL race test)

# -- a flaky kind for retry tests ---------------------------------------------------------------------------------
FLAKY_RUNS: list[tuple[str, int, float]] = []


async def _flaky(ctx) -> None:  # noqa: ANN001
    FLAKY_RUNS.append((ctx.job.id, ctx.job.attempts, time.monotonic()))
    if ctx.job.attempts <= ctx.payload["failures"]:
        raise RuntimeError(f"boom {ctx.job.attempts}")


register("test.flaky", _flaky)


async def _enqueue(db: Database, kind: str, payload: dict, org_id: str, **options) -> str:
    async with db.sessions() as session:
        key = options.pop("dedupe_key", None) or new_object_id()
        await enqueue_job(session, kind, payload, org_id=org_id, dedupe_key=key, **options)
        await session.commit()
        return await session.scalar(select(Job.id).where(Job.dedupe_key == key))


async def test_failing_job_is_retried_with_backoff_then_marked_failed(runtime):
    org = "org" + secrets.token_hex(6)
    settings = JobSettings(backoff_base_seconds=0.2, backoff_max_seconds=5)
    job_id = await _enqueue(runtime.db, "test.flaky", {"failures": 99}, org, max_attempts=3)
    worker = Worker(runtime, settings, org_id=org)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not await worker.run_one():
            async with runtime.db.sessions() as session:
                if (await session.get(Job, job_id)).status == "failed":
                    break
            await asyncio.sleep(0.02)
    runs = [r for r in FLAKY_RUNS if r[0] == job_id]
    assert [attempt for _, attempt, _ in runs] == [1, 2, 3]
    gaps = [b[2] - a[2] for a, b in zip(runs, runs[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # exponential: base, then 2 * base
    async with runtime.db.sessions() as session:
        job = await session.get(Job, job_id)
    assert job.status == "failed" and job.attempts == 3 and job.last_error == "RuntimeError: boom 3"
    assert job.finished_at is not None
    assert job_id in {j.id for j in await runtime.jobs.list(status="failed", kind="test.flaky")}


async def test_transient_failure_recovers(runtime):
    org = "org" + secrets.token_hex(6)
    job_id = await _enqueue(runtime.db, "test.flaky", {"failures": 1}, org)
    worker = Worker(runtime, FAST, org_id=org)
    for _ in range(200):
        await worker.run_one()
        async with runtime.db.sessions() as session:
            job = await session.get(Job, job_id)
        if job.status == "succeeded":
            break
        await asyncio.sleep(0.01)
    assert job.status == "succeeded" and job.attempts == 2 and job.last_error is None


async def test_enqueue_is_idempotent_per_dedupe_key(runtime):
    org = "org" + secrets.token_hex(6)
    first = await _enqueue(runtime.db, "test.flaky", {"failures": 0}, org, dedupe_key=f"same-{org}")
    second = await _enqueue(runtime.db, "test.flaky", {"failures": 0}, org, dedupe_key=f"same-{org}")
    assert first == second
    async with runtime.db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Job).where(Job.org_id == org)) == 1


async def test_a_kind_this_process_cannot_run_is_left_for_one_that_can(runtime):
    """Rolling upgrade: a job of a kind only a newer release knows stays queued (not failed) for that release."""
    org = "org" + secrets.token_hex(6)
    newer = await _enqueue(runtime.db, "test.only-in-a-newer-release", {"failures": 0}, org)
    known = await _enqueue(runtime.db, "test.flaky", {"failures": 0}, org)
    worker = Worker(runtime, FAST, org_id=org)
    assert await worker.run_one() is True
    assert await worker.run_one() is False
    async with runtime.db.sessions() as session:
        assert (await session.get(Job, known)).status == "succeeded"
        job = await session.get(Job, newer)
        assert job.status == "queued" and job.attempts == 0

    register("test.only-in-a-newer-release", _flaky)  # the upgraded process
    assert await worker.run_one() is True
    async with runtime.db.sessions() as session:
        assert (await session.get(Job, newer, populate_existing=True)).status == "succeeded"


async def test_lease_lost_worker_cannot_settle(runtime):
    """A stalled worker whose job was reclaimed can neither complete nor retry it."""
    org = "org" + secrets.token_hex(6)
    job_id = await _enqueue(runtime.db, "test.flaky", {"failures": 0}, org)
    short = SqlJobQueue(runtime.db, lease_seconds=0.05)
    stale = await short.claim("stalled", org)
    await asyncio.sleep(0.1)
    fresh = await short.claim("fresh", org)
    assert fresh.id == stale.id == job_id and fresh.attempts == 2
    from tertulia.jobs.queue import LeaseLost

    async with runtime.db.sessions() as session:
        with pytest.raises(LeaseLost):
            await short.complete(session, stale)
    assert not await short.heartbeat(stale)
    async with runtime.db.sessions() as session:
        await short.complete(session, fresh)
        await session.commit()
        assert (await session.get(Job, job_id)).status == "succeeded"


# -- a worker process killed mid-job --------------------------------------------------------------------------------

def _worker_env(url: str, tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "TERTULIA_DATABASE_URL": url, "TERTULIA_DATA_DIR": str(tmp / "data"), "TERTULIA_LLM_PROVIDER": "fake",
        "TERTULIA_JWT_SECRET": "worker-test-secret-" + "x" * 30, "TERTULIA_RATE_LIMITS_ENABLED": "false",
        "TERTULIA_JOBS_LEASE_SECONDS": "1.5", "TERTULIA_JOBS_POLL_SECONDS": "0.1",
        "TERTULIA_JOBS_HANDLER_MODULES": '["tests.support.slow_jobs"]',
        "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    return env


def _start_worker(env: dict[str, str], tmp: Path, name: str) -> subprocess.Popen:
    out = open(tmp / f"{name}.log", "w")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "tertulia.cli", "worker"], env=env, cwd=tmp, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


async def _wait_for(predicate, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_worker_killed_mid_job_is_reclaimed_and_completes_once(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    from tertulia.migrations import upgrade

    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    log = tmp_path / "starts.log"
    conv = new_object_id()
    job_id = await _enqueue(db, "test.slow-memory", {"log": str(log), "conversation_id": conv, "org_id": "o",
                                                    "sleep": 60}, "o", max_attempts=3)
    env = _worker_env(url, tmp_path)
    first = _start_worker(env, tmp_path, "first")
    try:
        await _wait_for(lambda: asyncio.sleep(0, log.exists() and "attempt=1" in log.read_text()), 60, "first start")
        os.kill(first.pid, signal.SIGKILL)  # mid-job: no cleanup, no commit
        first.wait(10)
        async with db.sessions() as session:
            job = await session.get(Job, job_id)
            assert job.status == "running" and job.attempts == 1  # still leased by the dead worker
            assert await session.scalar(select(func.count()).select_from(UserMemory)
                                        .where(UserMemory.conversation_id == conv)) == 0
        second = _start_worker(env, tmp_path, "second")
        try:
            async def done() -> bool:
                async with db.sessions() as session:
                    return (await session.get(Job, job_id)).status == "succeeded"

            await _wait_for(done, 60, "the job to be reclaimed and completed")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(15)
        assert second.returncode == 0, (tmp_path / "second.log").read_text()
        async with db.sessions() as session:
            job = await session.get(Job, job_id)
            rows = (await session.scalars(select(UserMemory).where(UserMemory.conversation_id == conv))).all()
        assert job.attempts == 2 and job.worker_id.split(":")[1] == str(second.pid)
        assert [r.content for r in rows] == [f"done by pid {second.pid}"]  # exactly once in effect
        assert log.read_text().count("start") == 2
    finally:
        if first.poll() is None:
            first.kill()
        await db.dispose()


# -- concurrent workers never run the same job twice -----------------------------------------------------------------
RUNS: list[tuple[str, str]] = []


async def _count(ctx) -> None:  # noqa: ANN001
    RUNS.append((ctx.job.payload["n"], ctx.job.worker_id))
    await asyncio.sleep(0.005)


register("test.count", _count)


async def _race(url: str, jobs: int = 60) -> None:
    org = "org" + secrets.token_hex(6)
    producer = Database(url)
    async with producer.sessions() as session:
        for n in range(jobs):
            await enqueue_job(session, "test.count", {"n": f"{org}-{n}"}, org_id=org)
        await session.commit()
    dbs = [Database(url), Database(url)]
    settings = JobSettings(concurrency=6, poll_seconds=0.02)
    workers = [Worker(Runtime(settings=None, db=db, jwt_secret="x", jobs=SqlJobQueue(db)), settings,
                      worker_id=f"w{i}", org_id=org) for i, db in enumerate(dbs)]
    tasks = [asyncio.create_task(w.run_forever()) for w in workers]

    async def finished() -> bool:
        async with producer.sessions() as session:
            return await session.scalar(select(func.count()).select_from(Job).where(
                Job.org_id == org, Job.status == "succeeded")) == jobs

    try:
        await _wait_for(finished, 60, "all jobs")
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*tasks)
        for db in (*dbs, producer):
            await db.dispose()
    mine = [(n, w) for n, w in RUNS if n.startswith(org)]
    assert sorted(n for n, _ in mine) == sorted(f"{org}-{n}" for n in range(jobs))  # each exactly once
    assert {w for _, w in mine} == {"w0", "w1"}  # both really competed


async def test_two_workers_on_sqlite_never_share_a_job(runtime):
    await _race(runtime.db.url)


async def test_two_workers_on_postgresql_never_share_a_job():
    pytest.importorskip("asyncpg")
    from tests.support.cluster import postgres_database
    from tests.support.schema import reset_schema

    # A database of its own (created, then dropped): two test runs at once must not reset each other's schema.
    with nullcontext(PG_URL) if PG_URL else postgres_database(f"tertulia_jobs_{secrets.token_hex(4)}") as url:
        await asyncio.to_thread(reset_schema, url)
        await _race(url, jobs=80)
