"""``/healthz`` and ``/readyz`` through the ASGI app: ready on a migrated database; not ready (503, with the reason)
when the database is unreachable, when its migrations are behind the code, or when the in-process worker died."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import text

from tertulia.app import create_app
from tertulia.migrations import upgrade
from tests.conftest import make_runtime, make_settings


@asynccontextmanager
async def app_on(url: str, tmp: Path, worker: bool = False) -> AsyncIterator[tuple[httpx.AsyncClient, object]]:
    from tertulia.jobs.wiring import start_worker
    from tertulia.wiring import close_runtime

    runtime = await make_runtime(make_settings(url, tmp))
    if worker:
        start_worker(runtime)
    app = create_app(runtime)
    try:
        async with LifespanManager(app), httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                                           base_url="http://tertulia.test") as client:
            yield client, runtime
    finally:
        await close_runtime(runtime)


async def test_ready_on_the_suite_database(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok", "worker": "disabled"}}


async def test_not_ready_when_the_database_is_unreachable(tmp_path):
    async with app_on("postgresql+asyncpg://tertulia:pw-not-shown@127.0.0.1:1/nowhere", tmp_path) as (client, _):
        assert (await client.get("/healthz")).status_code == 200  # alive, just not ready
        r = await client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable" and body["checks"]["database"].startswith("unreachable (")
    assert "pw-not-shown" not in r.text


async def test_not_ready_until_migrations_are_current(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    async with app_on(url, tmp_path) as (client, runtime):
        r = await client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["database"] == "ok"
        assert r.json()["checks"]["migrations"].startswith("behind (database at none")
        await asyncio.to_thread(upgrade, url)
        assert (await client.get("/readyz")).status_code == 200
        async with runtime.db.engine.begin() as conn:  # a database left at another revision
            await conn.execute(text("UPDATE alembic_version SET version_num = 'an_older_one'"))
        r = await client.get("/readyz")
        assert r.status_code == 503 and "database at an_older_one" in r.json()["checks"]["migrations"]


async def test_not_ready_when_the_worker_stops(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}"
    await asyncio.to_thread(upgrade, url)
    async with app_on(url, tmp_path, worker=True) as (client, runtime):
        r = await client.get("/readyz")
        assert r.status_code == 200 and r.json()["checks"]["worker"] == "ok", r.text
        runtime.worker.stop()
        await asyncio.wait_for(runtime.worker_task, 10)
        r = await client.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["worker"] == "stopped"
