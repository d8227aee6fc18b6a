"""N real ``tertulia serve`` processes on free loopback ports sharing one database, behind no load balancer, talking to
an OpenAI-compatible stub LLM the test controls (slow, failing, hanging or dropping mid-stream).

* Shared: ``TERTULIA_DATABASE_URL``, ``TERTULIA_DATA_DIR``, ``TERTULIA_JWT_SECRET`` (a token minted by one process
  is valid on the others), optional ``TERTULIA_REDIS_URL``; credentials from ``tertulia bootstrap --json``.
* ``Cluster.kill(i)`` is ``kill -9``; ``Cluster.restart(i)`` starts the same node again on the same port.
* ``FaultyLLM`` wraps ``tests/engine/openai_stub.py`` and injects faults on chat completions (see ``Fault``).
* ``postgres_database(name)`` creates (and finally drops) a dedicated PostgreSQL database, or skips the test with a
  clear reason when no PostgreSQL answers on 127.0.0.1:5432.

Also a library for ``benchmarks/load.py`` (no pytest needed to use ``Cluster`` or ``FaultyLLM``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send

from tests.engine.openai_stub import StubServer, StubState, make_app
from tests.support.serve_process import JWT_SECRET, Credentials, free_port, tertulia_command

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


# --------------------------------------------------------------------------------------------------------------------
# The stub LLM with faults


class Fault:
    NONE = "none"
    FAIL = "fail"  # every chat completion answers 500
    HANG = "hang"  # every chat completion hangs before answering (until the fault is cleared or the stub stops)
    HANG_MID_STREAM = "hang-mid-stream"  # decisions answer; the streamed reply sends a few words, then hangs
    DROP_MID_STREAM = "drop-mid-stream"  # decisions answer; the streamed reply sends a few words, then the
    #                                      connection is cut (an incomplete chunked body)
    FAIL_REPLY = "fail-reply"  # decisions answer; the streamed reply answers 500


class FaultState(StubState):
    def __init__(self) -> None:
        super().__init__()
        self.fault = Fault.NONE
        self.stopping = False
        self.hanging = 0  # requests currently held by a hang fault
        self.reply = "Hello from the stub model. This reply comes in several words so that a client sees it stream."


class FaultyLLM(StubServer):
    """``tests/engine/openai_stub.py``'s server with ``state.fault`` applied to ``/v1/chat/completions``."""

    def __init__(self, port: int | None = None) -> None:
        self.state = FaultState()
        self.port = port or free_port()
        app = _with_faults(make_app(self.state), self.state)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error",
                                                    lifespan="off", timeout_graceful_shutdown=1))
        import threading

        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def set(self, fault: str, latency: float = 0.0) -> None:
        self.state.fault, self.state.latency = fault, latency

    def wait_hanging(self, timeout: float = 30) -> None:
        """Block until at least one request is held by a hang fault (the turn is then surely in flight)."""
        deadline = time.time() + timeout
        while self.state.hanging == 0:
            if time.time() > deadline:
                raise AssertionError("no LLM request reached the hang fault")
            time.sleep(0.02)

    def __exit__(self, *exc: Any) -> None:
        self.state.stopping = True
        super().__exit__(*exc)


def _with_faults(inner: Any, state: FaultState) -> Any:
    async def hang() -> None:
        state.hanging += 1
        try:
            while state.fault in (Fault.HANG, Fault.HANG_MID_STREAM) and not state.stopping:
                await asyncio.sleep(0.05)
        finally:
            state.hanging -= 1

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/chat/completions") or state.fault == Fault.NONE:
            await inner(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        streamed = bool(json.loads(body or b"{}").get("stream"))
        fault = state.fault
        if fault == Fault.FAIL or (fault == Fault.FAIL_REPLY and streamed):
            payload = json.dumps({"error": {"message": "stub: injected failure", "type": "server_error"}}).encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": payload})
            return
        if fault == Fault.HANG:
            await hang()
        elif fault in (Fault.HANG_MID_STREAM, Fault.DROP_MID_STREAM) and streamed:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})
            for word in state.reply.split(" ")[:4]:
                chunk = {"id": "stub", "object": "chat.completion.chunk", "created": int(time.time()), "model": "stub",
                         "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
                await send({"type": "http.response.body", "body": f"data: {json.dumps(chunk)}\n\n".encode(),
                            "more_body": True})
                await asyncio.sleep(0.01)
            if fault == Fault.HANG_MID_STREAM:
                await hang()
            raise RuntimeError("stub: connection cut mid-stream")  # uvicorn aborts the response
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await inner(scope, replay, send)

    return app


# --------------------------------------------------------------------------------------------------------------------
# PostgreSQL and Redis


def psql(sql: str, database: str = "postgres") -> subprocess.CompletedProcess:
    return subprocess.run(["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", database, "-v",
                           "ON_ERROR_STOP=1", "-Atc", sql], capture_output=True, text=True, timeout=60)


def postgres_available() -> str | None:
    """None when PostgreSQL answers on 127.0.0.1:5432 with the psql client; else why not."""
    if shutil.which("psql") is None:
        return "the psql client is not installed"
    try:
        done = psql("select 1")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"psql failed: {exc}"
    if done.returncode != 0:
        return f"no PostgreSQL on {PG_HOST}:{PG_PORT} as {PG_USER}: {done.stderr.strip()}"
    return None


def redis_available() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001
        return f"no Redis answering at {REDIS_URL}: {exc}"
    return None


def pg_url(name: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def recreate_database(name: str) -> str:
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        done = psql(sql)
        if done.returncode != 0:
            raise RuntimeError(f"{sql}: {done.stderr}")
    return pg_url(name)


def drop_database(name: str) -> None:
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def set_connections_allowed(name: str, allowed: bool) -> None:
    """The database 'goes away' (no new connections; every open one terminated) or comes back."""
    done = psql(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {"true" if allowed else "false"}')
    assert done.returncode == 0, done.stderr
    if not allowed:
        done = psql(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}' "
                     "AND pid <> pg_backend_pid()")
        assert done.returncode == 0, done.stderr


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL to run on (the message says why)."""


@contextmanager
def _recreated(name: str) -> Iterator[str]:
    url = recreate_database(name)
    try:
        yield url
    finally:
        set_connections_allowed(name, True) if psql("select 1", name).returncode else None
        drop_database(name)


@contextmanager
def postgres_database(name: str) -> Iterator[str]:
    """A fresh dedicated database (dropped afterwards); skips the calling test when PostgreSQL is absent."""
    why = postgres_available()
    if why is not None:
        import pytest

        pytest.skip(f"PostgreSQL needed: {why}")
    with _recreated(name) as url:
        yield url


@contextmanager
def benchmark_database(kind: str, pg_name: str, sqlite_file: Path) -> Iterator[str]:
    """The database a benchmark runs on: ``sqlite_file``, or PostgreSQL database ``pg_name`` recreated for the run and
    dropped afterwards (``PostgresUnavailable`` when there is none)."""
    if kind != "postgres":
        yield f"sqlite+aiosqlite:///{sqlite_file}"
        return
    why = postgres_available()
    if why is not None:
        raise PostgresUnavailable(why)
    with _recreated(pg_name) as url:
        yield url


def clear_rate_limits(org_id: str, redis_url: str = REDIS_URL) -> None:
    """Forget this organization's counters in Redis (bootstrap's organization id is fixed, so runs within one minute
    would otherwise share a window)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"*/{org_id}/*"):
        client.delete(key)


# --------------------------------------------------------------------------------------------------------------------
# The cluster


@dataclass
class Node:
    index: int
    port: int
    log_path: Path
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Cluster:
    tmp: Path
    size: int = 1
    database_url: str | None = None
    llm_base_url: str | None = None  # None: the in-process fake LLM (TERTULIA_LLM_PROVIDER=fake)
    redis_url: str | None = None
    rate_limits: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    credentials: Credentials | None = None
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.database_url = self.database_url or f"sqlite+aiosqlite:///{self.tmp / 'cluster.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
        env.update(
            TERTULIA_DATABASE_URL=self.database_url,
            TERTULIA_DATA_DIR=str(self.tmp / "data"),
            TERTULIA_JWT_SECRET=JWT_SECRET,
            TERTULIA_RATE_LIMITS_ENABLED="true" if self.rate_limits else "false",
            TERTULIA_JOBS_POLL_SECONDS="0.2",
        )
        if self.llm_base_url:
            env.update(TERTULIA_LLM_PROVIDER="openai", TERTULIA_LLM_BASE_URL=self.llm_base_url,
                       TERTULIA_LLM_API_KEY="stub", TERTULIA_LLM_MODEL="stub")
        else:
            env.update(TERTULIA_LLM_PROVIDER="fake")
        if self.redis_url:
            env["TERTULIA_REDIS_URL"] = self.redis_url
        env.update(self.extra_env)
        self.env = env
        self.nodes = [Node(i, free_port(), self.tmp / f"serve-{i}.log") for i in range(self.size)]

    # lifecycle ------------------------------------------------------------------------------------------------------
    def start(self, startup_timeout: float = 120) -> Cluster:
        self._bootstrap()  # migrates the shared database once, before any server starts
        for node in self.nodes:
            self._spawn(node)
        for node in self.nodes:
            self._wait_healthy(node, startup_timeout)
        return self

    def _bootstrap(self) -> None:
        done = subprocess.run([*tertulia_command(), "bootstrap", "--json"], env=self.env, capture_output=True,
                              text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"tertulia bootstrap failed:\n{done.stderr[-4000:]}")
        self.credentials = Credentials(**json.loads(done.stdout.strip().splitlines()[-1]))

    def _spawn(self, node: Node) -> None:
        args = ["serve", "--host", "127.0.0.1", "--port", str(node.port), "--no-bootstrap"]
        with open(node.log_path, "ab") as log:
            node.process = subprocess.Popen([*tertulia_command(), *args], env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def _wait_healthy(self, node: Node, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert node.process is not None
            if node.process.poll() is not None:
                raise RuntimeError(f"node {node.index} exited with {node.process.returncode}:\n{node.logs()[-4000:]}")
            try:
                if httpx.get(node.base_url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"node {node.index} not healthy after {timeout}s:\n{node.logs()[-4000:]}")

    def kill(self, index: int) -> None:
        """``kill -9``: no shutdown code runs, no lease is released."""
        process = self.nodes[index].process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def restart(self, index: int, startup_timeout: float = 120) -> None:
        node = self.nodes[index]
        if node.process is not None and node.process.poll() is None:
            self.kill(index)
        self._spawn(node)
        self._wait_healthy(node, startup_timeout)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGINT)
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(20)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(5)

    def __enter__(self) -> Cluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # clients --------------------------------------------------------------------------------------------------------
    def url(self, index: int, path: str) -> str:
        assert self.credentials is not None
        return f"{self.nodes[index].base_url}/v1/{self.credentials.organization_id}{path}"

    def sign_in(self, index: int = 0) -> dict[str, str]:
        """Bearer headers from signing in with the bootstrap API key (valid on every node: shared JWT secret)."""
        c = self.credentials
        assert c is not None
        r = httpx.post(self.url(index, "/user/signin_with_api_key"), timeout=30,
                       headers={"x-api-key": c.api_key, "x-api-key-id": c.api_key_id, "x-user-id": c.user_id})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['id_token']}"}

    def logs(self) -> str:
        return "\n".join(f"--- node {n.index} ---\n{n.logs()[-3000:]}" for n in self.nodes)


# --------------------------------------------------------------------------------------------------------------------
# Conversation calls over real HTTP


def interact_files(text: str) -> list[tuple[str, tuple]]:
    return [("initial_message_type", (None, "user-message")),
            ("recorded_message", ("message.txt", text.encode(), "text/plain; charset=utf-8"))]


INTERACT_QUERY = "request_format=text&response_format=text"


def ndjson_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def count_messages(base: str, headers: dict[str, str], conversation_id: str) -> int:
    """Every message of a conversation through the API (all pages)."""
    total, token = 0, None
    while True:
        query = "limit=50" + (f"&continuation_token={token}" if token is not None else "")
        r = httpx.get(f"{base}/conversation/{conversation_id}/messages/?{query}", headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        page = r.json()
        total += len(page["messages"])
        if not page.get("has_more"):
            return total
        token = page["continuation_token"]


def new_service(base: str, headers: dict[str, str], like_service_id: str, name: str) -> str:
    """A new service on the same agent and context graph as ``like_service_id`` (each service gives the user a fresh
    conversation slot: one unfinished conversation per user and service)."""
    r = httpx.get(f"{base}/service/?id={like_service_id}", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    demo = r.json()["services"][0]
    body = {"service_hierarchical_state_machine_id": demo["service_hierarchical_state_machine_id"],
            "agent_id": demo["agent_id"], "name": name, "description": "A copy of the demo service.",
            "is_active": True, "keyterms": [], "tags": {}}
    r = httpx.post(f"{base}/service/", json=body, headers=headers, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def start_conversation(base: str, headers: dict[str, str], service_id: str, timeout: float = 60) -> str:
    r = httpx.post(f"{base}/conversation/?response_format=text", json={"service_id": service_id}, headers=headers,
                   timeout=timeout)
    assert r.status_code == 201, r.text
    events = ndjson_lines(r.text)
    assert events[-1]["type"] == "interaction-complete", events[-3:]
    return events[0]["conversation_id"]


def interact(base: str, headers: dict[str, str], conversation_id: str, text: str = "Hello",
             timeout: float = 60) -> httpx.Response:
    return httpx.post(f"{base}/conversation/{conversation_id}/interact?{INTERACT_QUERY}", files=interact_files(text),
                      headers=headers, timeout=timeout)
