"""Shared fixtures: a real database (SQLite file, or PostgreSQL when TERTULIA_TEST_DATABASE_URL is set), the ASGI
app over httpx, a fresh organization per test, and a live uvicorn server for the official SDK."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager

from tertulia.app import create_app
from tertulia.core.db import Database
from tertulia.core.ratelimit import RateLimiter
from tertulia.runtime import Runtime
from tertulia.settings import Settings
from tests.support.orgs import Tenant, make_tenant

JWT_SECRET = "test-secret-" + "x" * 40
# Speech is deterministic in tests: the server's Piper voice speaks without sampling noise (same text, same audio),
# like tests/support/speech.py's; a word-error bar then holds or fails for good. Serve subprocesses set their own env.
os.environ.setdefault("TERTULIA_PIPER_NOISE_SCALE", "0")
os.environ.setdefault("TERTULIA_PIPER_NOISE_W_SCALE", "0")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TERTULIA_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'tertulia.db'}"


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    """The schema, built by the real Alembic migrations (dropping whatever a previous run left)."""
    from tests.support.schema import reset_schema

    reset_schema(database_url)
    return database_url


def make_settings(database_url: str, tmp: Path, **overrides) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp,
        jwt_secret=JWT_SECRET,
        rate_limits_enabled=False,
        llm_provider="fake",
        **overrides,
    )


async def make_runtime(settings: Settings) -> Runtime:
    from tertulia.wiring import build_runtime

    return await build_runtime(settings)


@pytest.fixture(scope="session")
async def runtime(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Runtime]:
    from tertulia.wiring import close_runtime

    rt = await make_runtime(make_settings(migrated, tmp_path_factory.mktemp("data")))
    yield rt
    await close_runtime(rt)


@pytest.fixture(scope="session")
async def app(runtime: Runtime):
    application = create_app(runtime)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tertulia.test") as c:
        yield c


@pytest.fixture
async def tenant(runtime: Runtime, client: httpx.AsyncClient) -> Tenant:
    """A fresh organization with a signed-in super administrator."""
    return await make_tenant(runtime.db, client, pepper=runtime.settings.resolved_api_key_pepper())


@pytest.fixture
async def other_tenant(runtime: Runtime, client: httpx.AsyncClient) -> Tenant:
    return await make_tenant(runtime.db, client, pepper=runtime.settings.resolved_api_key_pepper())


@pytest.fixture
def limiter_on(runtime: Runtime) -> Iterator[RateLimiter]:
    """Rate limits switched on for one test (fresh in-memory counters)."""
    previous = runtime.limiter
    runtime.limiter = RateLimiter(None, enabled=True)
    yield runtime.limiter
    runtime.limiter = previous


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, base_url: str, db: Database) -> None:
        self.base_url = base_url
        self.db = db


@pytest.fixture(scope="session")
def live_server(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real uvicorn server on loopback (own thread, own event loop, own runtime) for the official SDK."""
    port = _free_port()
    settings = make_settings(migrated, tmp_path_factory.mktemp("live"))
    holder: dict = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        rt = loop.run_until_complete(make_runtime(settings))
        holder["runtime"] = rt
        config = uvicorn.Config(create_app(rt), host="127.0.0.1", port=port, log_level="warning", loop="asyncio")
        server = uvicorn.Server(config)
        holder["server"] = server
        loop.run_until_complete(server.serve())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise RuntimeError("live server did not start")
    yield LiveServer(base, Database(migrated))
    holder["server"].should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def sdk_tenant(live_server: LiveServer) -> Tenant:
    """A fresh organization for SDK tests (created through the live server's database)."""
    loop = asyncio.new_event_loop()
    try:
        db = Database(live_server.db.url)
        tenant = loop.run_until_complete(make_tenant(db))
        loop.run_until_complete(db.dispose())
    finally:
        loop.close()
    return tenant
