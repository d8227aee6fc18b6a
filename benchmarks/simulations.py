"""Simulation benchmark: simulated conversations per minute, and the platform's overhead per simulated turn next to
a plain turn over HTTP measured in the same run, on the same database, against an instant fake LLM (the scripted
``ScriptedLLM``: every call answers at once), so the figures are tertulia's own cost.

    python benchmarks/simulations.py [--conversations 20] [--turns 3] [--concurrency 1] [--database URL]

* Simulated: one unit test set run of ``--conversations`` repetitions of one unit test with ``max_interactions =
  --turns`` (the fake simulated user never reaches its objective, so every conversation has exactly that many agent
  turns), run by an in-process job worker. Its cost per agent turn includes the simulated user's decision, the
  job machinery, the persona's user, the metric judge and the artifacts, spread over the turns.
* Baseline: the same number of conversations and turns driven over HTTP (create + interact through the ASGI app),
  one after the other, on the same service.

Default database: a temporary SQLite file. Bounded: a fixed amount of work, in-process, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import httpx  # noqa: E402
from asgi_lifespan import LifespanManager  # noqa: E402

from tertulia.app import create_app  # noqa: E402
from tertulia.jobs.settings import JobSettings  # noqa: E402
from tertulia.jobs.worker import Worker  # noqa: E402
from tertulia.settings import Settings  # noqa: E402
from tertulia.wiring import build_runtime, close_runtime  # noqa: E402
from tests.support.conversation import create, interact  # noqa: E402
from tests.support.orgs import make_tenant  # noqa: E402
from tertulia.migrations import upgrade  # noqa: E402
from tests.support.simulation import create_set, create_unit_test, simulation_fixture  # noqa: E402


async def baseline(client, tenant, service_id: str, conversations: int, turns: int) -> float:  # noqa: ANN001
    """Seconds for ``conversations`` x ``turns`` plain HTTP turns (create = the first turn, then interacts)."""
    started = time.perf_counter()
    for _ in range(conversations):
        r = await create(client, tenant, service_id, initial_message="Hello, I sleep badly.")
        assert r.status_code == 201, r.text
        conversation_id = r.text.split('"conversation_id":"', 1)[1].split('"', 1)[0]
        for k in range(turns - 1):
            r = await interact(client, tenant, conversation_id, f"Message {k}")
            assert r.status_code == 200 and "interaction-complete" in r.text, r.text[-300:]
        r = await client.post(tenant.url(f"/conversation/{conversation_id}/finish/"), headers=tenant.headers)
        assert r.status_code == 204, r.text
    return time.perf_counter() - started


async def simulated(client, runtime, tenant, fx, conversations: int, turns: int, concurrency: int) -> float:  # noqa: ANN001
    os.environ["TERTULIA_SIMULATION_CONCURRENCY"] = str(concurrency)
    test_id = await create_unit_test(client, tenant, fx, name="Benchmark test", max_interactions=turns)
    set_id = await create_set(client, tenant, [(test_id, conversations)], name="Benchmark set")
    worker = Worker(runtime, JobSettings(concurrency=max(4, concurrency), poll_seconds=0.05), org_id=tenant.org_id)
    task = asyncio.create_task(worker.run_forever())
    started = time.perf_counter()
    r = await client.post(tenant.url("/simulation/unit_test_set_run/"), json={"simulation_unit_test_set_id": set_id},
                          headers=tenant.headers)
    assert r.status_code == 201, r.text
    run_id = r.json()["simulation_unit_test_set_run_id"]
    while True:
        runs = (await client.get(tenant.url("/simulation/unit_test_set_run/"), params={"id": run_id},
                                 headers=tenant.headers)).json()["simulation_unit_test_set_runs"]
        if runs[0]["is_completed"]:
            break
        await asyncio.sleep(0.2)  # the poll costs little next to the run (and is part of what a client does)
    elapsed = time.perf_counter() - started
    worker.stop()
    await task
    errors = runs[0]["unit_test_run_results"][0]["run_errors"]
    assert len(errors) == conversations and all(e and e.startswith("Failed: max_interactions") for e in errors), errors
    return elapsed


async def main(conversations: int, turns: int, concurrency: int, url: str, tmp: Path) -> None:
    settings = Settings(database_url=url, data_dir=tmp, jwt_secret="bench-" + "x" * 40, rate_limits_enabled=False,
                        llm_provider="fake")
    runtime = await build_runtime(settings)
    app = create_app(runtime)
    try:
        async with LifespanManager(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                          base_url="http://tertulia.bench") as client:
            tenant = await make_tenant(runtime.db, client)
            fx = await simulation_fixture(client, tenant)
            await baseline(client, tenant, fx.service_id, 2, 2)  # warm-up: caches, connections
            plain = await baseline(client, tenant, fx.service_id, conversations, turns)
            sim = await simulated(client, runtime, tenant, fx, conversations, turns, concurrency)
    finally:
        await close_runtime(runtime)
    n_turns = conversations * turns
    print(f"database: {url.split(':')[0]}  conversations: {conversations}  turns each: {turns}  "
          f"simulation concurrency: {concurrency}  LLM: instant fake")
    print(f"{'':38}{'total s':>9}{'ms/turn':>9}{'conversations/min':>19}")
    print(f"{'baseline: plain turns over HTTP':38}{plain:9.2f}{1000 * plain / n_turns:9.1f}"
          f"{60 * conversations / plain:19.1f}")
    print(f"{'simulated: run of a unit test set':38}{sim:9.2f}{1000 * sim / n_turns:9.1f}{60 * conversations / sim:19.1f}")
    print(f"simulation overhead per agent turn over the baseline: {1000 * (sim - plain) / n_turns:+.1f} ms "
          f"({sim / plain:.2f}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--database", default=None, help="SQLAlchemy URL of an empty database (default: a temporary SQLite file)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tertulia-sim-bench-"))
    database_url = args.database or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    upgrade(database_url)  # a fresh database (or one already at the current schema)
    asyncio.run(main(args.conversations, args.turns, args.concurrency, database_url, workdir))
