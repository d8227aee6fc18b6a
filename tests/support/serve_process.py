"""A real ``tertulia serve`` subprocess on a free loopback port: its own data dir, the fake LLM, rate limits off, a
known JWT secret, stdout+stderr captured to a file; ``tertulia bootstrap --json`` against the same database gives the
credentials (organization, administrator, API key, demo service).

Database: a temporary SQLite file, or the suite's PostgreSQL when ``TERTULIA_TEST_DATABASE_URL`` is set (the caller
passes the migrated URL so the suite's schema reset has already happened)."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.orgs import Tenant

JWT_SECRET = "serve-process-secret-" + "y" * 48

# Runs the real CLI with the root logger preconfigured (the CLI's own basicConfig is then a no-op), so a test can
# see what a DEBUG-level deployment would write.
# SQLAlchemy pins its own logger to WARNING unless told otherwise: it is named explicitly so statements, bound
# parameters and result rows are written too.
_WITH_LOG_LEVEL = (
    "import logging, sys; level = getattr(logging, sys.argv.pop(1)); "
    "logging.basicConfig(level=level, format='%(asctime)s %(levelname)s %(name)s %(message)s'); "
    "[logging.getLogger(n).setLevel(level) for n in ('sqlalchemy', 'aiosqlite', 'asyncpg', 'httpx', 'httpcore', "
    "'tertulia', 'alembic')]; "
    "from tertulia.cli import app; sys.argv[0] = 'tertulia'; app()"
)


def tertulia_command() -> list[str]:
    """The installed ``tertulia`` console script of this interpreter (``python -m tertulia.cli`` if absent)."""
    script = Path(sys.executable).with_name("tertulia")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tertulia.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Credentials:
    organization_id: str
    user_id: str
    api_key_id: str
    api_key: str
    service_id: str

    def tenant(self) -> Tenant:
        return Tenant(self.organization_id, self.user_id, self.api_key_id, self.api_key)


@dataclass
class ServeProcess:
    base_url: str
    database_url: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen
    credentials: Credentials | None = None
    extra: dict = field(default_factory=dict)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def bootstrap(self) -> Credentials:
        """``tertulia bootstrap --json`` against the server's database (idempotent; a fresh API key each call)."""
        done = subprocess.run([*tertulia_command(), "bootstrap", "--json"], env=self.env,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        return Credentials(**json.loads(done.stdout.strip().splitlines()[-1]))

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown (lifespan shutdown runs)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def serve_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TERTULIA_")}
    env.update(
        TERTULIA_DATABASE_URL=database_url,
        TERTULIA_DATA_DIR=str(data_dir),
        TERTULIA_LLM_PROVIDER="fake",
        TERTULIA_RATE_LIMITS_ENABLED="false",
        TERTULIA_JWT_SECRET=JWT_SECRET,
        **extra,
    )
    return env


@contextmanager
def serve_process(tmp: Path, database_url: str | None = None, *, log_level: str | None = None,
                  bootstrap: bool = True, startup_timeout: float = 90, worker: bool = True, workers: int = 1,
                  **extra_env: str) -> Iterator[ServeProcess]:
    """Start ``tertulia serve --no-bootstrap`` (then bootstrap credentials unless told not to); stop it on exit.
    ``worker=False`` adds ``--no-worker`` (no in-process job worker); ``workers`` is ``--workers`` (API processes)."""
    tmp.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite+aiosqlite:///{tmp / 'serve.db'}"
    env = serve_env(url, tmp / "data", **extra_env)
    port = free_port()
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-bootstrap", *([] if worker else ["--no-worker"]),
            *(["--workers", str(workers)] if workers != 1 else [])]
    command = [sys.executable, "-c", _WITH_LOG_LEVEL, log_level, *args] if log_level else [*tertulia_command(), *args]
    log_path = tmp / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = ServeProcess(f"http://127.0.0.1:{port}", url, env, log_path, process)
    try:
        _wait_healthy(server, startup_timeout)
        if bootstrap:
            server.credentials = server.bootstrap()
        yield server
    finally:
        code = server.stop()
        if code not in (0, -signal.SIGINT, None):
            logging.getLogger(__name__).warning("tertulia serve exited with %s; log: %s", code, log_path)


def _wait_healthy(server: ServeProcess, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"tertulia serve exited with {server.process.returncode}:\n{server.logs()[-4000:]}")
        try:
            if httpx.get(server.base_url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"tertulia serve not healthy after {timeout}s:\n{server.logs()[-4000:]}")


@pytest.fixture(scope="session")
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One ``tertulia serve`` subprocess for the session (import this fixture into a test module to use it). On the
    suite's PostgreSQL it runs after the suite's schema reset (``migrated``) and shares that database, so it runs no
    job worker: a session-long worker there would claim the jobs other tests enqueue and drain themselves."""
    url = os.environ.get("TERTULIA_TEST_DATABASE_URL")
    if url:
        url = request.getfixturevalue("migrated")
    with serve_process(tmp_path_factory.mktemp("serve"), url, worker=False) as server:
        yield server
