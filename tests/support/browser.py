"""Browser-test support for the web console: Debian's chromium driven by Playwright, a live uvicorn server whose
runtime (scripted fake LLM, job queue) the test can reach, and screenshots kept as test artifacts.

* ``browser_unavailable()`` says why no browser test can run here (no Playwright package, no chromium binary), or None.
  ``.ci/run`` installs chromium with apt-get when it is absent; Playwright never downloads a browser of its own.
* ``ConsoleServer``: like ``tests/conftest.py::live_server`` (own thread and event loop), plus ``call(coro)`` to run a
  coroutine on the server's loop (make a tenant, drain the org's jobs) and ``runtime.llm`` (``ScriptedLLM``) to script.
* Screenshots go to ``$TERTULIA_ARTIFACTS_DIR`` (default ``artifacts/console/`` in the checkout, gitignored).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
import uvicorn

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
ROOT = Path(__file__).resolve().parents[2]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("TERTULIA_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def browser_unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if chromium_path() is None:
        return "no chromium binary (Debian: apt-get install -y chromium; .ci/run does it when it can)"
    return None


def artifacts_dir() -> Path:
    path = Path(os.environ.get("TERTULIA_ARTIFACTS_DIR") or ROOT / "artifacts" / "console")
    path.mkdir(parents=True, exist_ok=True)
    return path


class ConsoleServer:
    """A real uvicorn server on loopback with its own runtime (fake LLM, no job worker)."""

    def __init__(self, settings: Any) -> None:
        from tests.conftest import _free_port

        self.settings = settings
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runtime: Any = None
        self._server: uvicorn.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from tertulia.app import create_app
        from tests.conftest import make_runtime

        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.runtime = self.loop.run_until_complete(make_runtime(self.settings))
        config = uvicorn.Config(create_app(self.runtime), host="127.0.0.1", port=self.port, log_level="warning",
                                loop="asyncio")
        self._server = uvicorn.Server(config)
        self._ready.set()
        self.loop.run_until_complete(self._server.serve())
        from tertulia.wiring import close_runtime

        self.loop.run_until_complete(close_runtime(self.runtime))

    def start(self) -> ConsoleServer:
        self._thread.start()
        self._ready.wait(30)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("console test server did not start")

    def call(self, coro: Any, timeout: float = 60) -> Any:
        """Run ``coro`` on the server's event loop (where its runtime and database engine live) and wait for it."""
        assert self.loop is not None
        future: Future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=15)
