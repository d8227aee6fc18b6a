"""Two ``tertulia serve`` processes on one PostgreSQL database, with no sticky routing: a client may send each request
to either process. Turns on one conversation are serialised across processes (the DB lease), rate limits are shared
through Redis, and post-processing jobs are shared (each runs exactly once, on whichever process claims it).

Needs PostgreSQL on 127.0.0.1:5432 (a dedicated database is created and dropped) and, for rate limits, Redis on
127.0.0.1:6379; each test skips with the reason when its service is absent.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tertulia.core.db import Database
from tests.support.cluster import (
    REDIS_URL,
    Cluster,
    FaultyLLM,
    psql,
    clear_rate_limits,
    count_messages,
    interact,
    ndjson_lines,
    new_service,
    postgres_database,
    redis_available,
    start_conversation,
)
from tests.support.orgs import Tenant, make_tenant, sign_in

# Unique per run: two test runs on one machine (two checkouts, CI and a developer) must not drop each other's database.
DATABASE = f"tertulia_mp_{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def llm() -> Iterator[FaultyLLM]:
    with FaultyLLM() as server:
        yield server


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with postgres_database(DATABASE) as url:
        yield url


@pytest.fixture(scope="module")
def pair(database: str, llm: FaultyLLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("mp"), 2, database_url=database, llm_base_url=llm.base_url,
                 extra_env={"TERTULIA_JOBS_POLL_SECONDS": "0.1"}) as cluster:
        yield cluster


def _service(cluster: Cluster, headers: dict[str, str]) -> str:
    return new_service(cluster.url(0, ""), headers, cluster.credentials.service_id, "mp-" + secrets.token_hex(4))


def test_concurrent_interacts_on_two_processes_are_serialised(pair: Cluster, llm: FaultyLLM):
    headers = pair.sign_in(0)  # a token from process 0 is honoured by process 1 (shared JWT secret)
    conversation_id = start_conversation(pair.url(1, ""), headers, _service(pair, headers))
    expected = count_messages(pair.url(0, ""), headers, conversation_id)
    llm.set("none", latency=0.3)  # every LLM call takes a while: the two requests overlap for sure
    try:
        for round_ in range(4):
            barrier = threading.Barrier(2)
            results: dict[int, httpx.Response] = {}

            def call(node: int) -> None:
                barrier.wait()
                results[node] = interact(pair.url(node, ""), headers, conversation_id, f"round {round_} via {node}")

            threads = [threading.Thread(target=call, args=(node,)) for node in (0, 1)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            statuses = sorted(r.status_code for r in results.values())
            assert statuses == [200, 409], {n: (r.status_code, r.text[-300:]) for n, r in results.items()}
            winner = next(r for r in results.values() if r.status_code == 200)
            assert ndjson_lines(winner.text)[-1]["type"] == "interaction-complete"
            expected += 2
            # Both processes see exactly one turn more: nothing of the refused request, nothing lost.
            for node in (0, 1):
                assert count_messages(pair.url(node, ""), headers, conversation_id) == expected
    finally:
        llm.set("none", latency=0.0)


def test_jobs_are_shared_and_post_processing_runs_exactly_once(pair: Cluster):
    headers = pair.sign_in(1)
    conversations = []
    for i in range(6):  # start through one process, finish through the other
        conversation_id = start_conversation(pair.url(i % 2, ""), headers, _service(pair, headers))
        r = interact(pair.url((i + 1) % 2, ""), headers, conversation_id, "Thanks, that is all.")
        assert r.status_code == 200 and ndjson_lines(r.text)[-1]["type"] == "interaction-complete", r.text[-300:]
        r = httpx.post(pair.url((i + 1) % 2, f"/conversation/{conversation_id}/finish/"), headers=headers, timeout=30)
        assert r.status_code == 204, r.text
        conversations.append(conversation_id)
    steps = ("extract-memories", "compute-metrics", "generate-user-models")
    expected = {(c, s) for c in conversations for s in steps}
    wanted = ",".join(f"'{c}'" for c in conversations)
    deadline = time.time() + 60
    while True:
        done = psql("SELECT payload->>'conversation_id', kind, status, attempts, worker_id FROM jobs "
                     f"WHERE kind LIKE 'post-processing.%' AND payload->>'conversation_id' IN ({wanted})", DATABASE)
        assert done.returncode == 0, done.stderr
        rows = [line.split("|") for line in done.stdout.splitlines() if line]
        if len(rows) == len(expected) and all(row[2] == "succeeded" for row in rows):
            break
        assert time.time() < deadline, f"post-processing did not finish: {rows}"
        time.sleep(0.3)
    keys = [(row[0], row[1].removeprefix("post-processing.")) for row in rows]
    assert sorted(keys) == sorted(expected)  # one job per conversation and step, no duplicates
    assert all(row[3] == "1" for row in rows), rows  # each ran exactly once (no job was run twice)
    # Both processes run a worker on the shared queue (which one claims each job is up to the race).
    workers = {row[4].split(":")[1] for row in rows}
    pids = {str(n.process.pid) for n in pair.nodes}
    assert workers <= pids, (workers, pids)


def test_rate_limits_are_shared_through_redis(database: str, llm: FaultyLLM, tmp_path_factory):
    why = redis_available()
    if why is not None:
        pytest.skip(f"Redis needed for shared rate-limit counters: {why}")
    with Cluster(tmp_path_factory.mktemp("mp-rl"), 2, database_url=database, llm_base_url=llm.base_url,
                 redis_url=REDIS_URL, rate_limits=True) as cluster:
        # A fresh organization: the counters live in a Redis every test run on this machine shares, and the
        # bootstrap organization's id is fixed, so two runs at once would spend one quota.
        tenant = asyncio.run(_fresh_tenant(database, cluster.nodes[0].base_url))
        headers = tenant.headers
        limit = None
        statuses = []
        for node in itertools.islice(itertools.cycle((0, 1)), 16):  # alternate processes: 8 hits on each
            r = httpx.get(cluster.nodes[node].base_url + tenant.url("/conversation/"), headers=headers, timeout=30)
            statuses.append(r.status_code)
            limit = limit or int(r.headers["X-RateLimit-Limit"])
        assert limit == 15  # get-conversations: 15 per minute in the spec
        assert statuses == [200] * 15 + [429], statuses  # in-process counters would allow 30 (15 per process)
        r = httpx.get(cluster.nodes[0].base_url + tenant.url("/conversation/"), headers=headers, timeout=30)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        clear_rate_limits(tenant.org_id)


async def _fresh_tenant(database_url: str, base_url: str) -> Tenant:
    db = Database(database_url)
    try:
        tenant = await make_tenant(db)
    finally:
        await db.dispose()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        tenant.token = await sign_in(client, tenant, tenant.user_id)
    return tenant
