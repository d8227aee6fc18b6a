"""Browser-test support for the web console: Debian's chromium driven by Playwright, a live uvicorn server whose
runtime (scripted fake LLM, job queue) the test can reach, and screenshots kept as test artifacts.

* ``browser_unavailable()`` says why no browser test can run here (no Playwright package, no chromium binary), or None.
  ``.ci/run`` installs chromium with apt-get when it is absent; Playwright never downloads a browser of its own.
* ``ConsoleServer``: like ``tests/conftest.py::live_server`` (own thread and event loop), plus ``call(coro)`` to run a
  coroutine on the server's loop (make a tenant, drain the org's jobs) and ``runtime.llm`` (``ScriptedLLM``) to script.
* Screenshots go to ``$TERTULIA_ARTIFACTS_DIR`` (default ``artifacts/console/`` in the checkout, gitignored).
* Fixtures for the browser test modules: ``server`` and ``browser`` (one per module), ``org`` (a fresh organization
  with the demo service and a signed-in HTTP client), ``page`` (a fresh browser context, page errors collected).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
import pytest
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


# -- fixtures shared by the tests/test_console_browser*.py modules (import them there) ---------------------------------

GRAPHS = "/organization/service_hierarchical_state_machine"
WHY = browser_unavailable()
SKIP = pytest.mark.skipif(WHY is not None, reason=f"browser tests need chromium and Playwright: {WHY}")


@pytest.fixture(scope="module")
def server(migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    from tests.conftest import make_settings

    live = ConsoleServer(make_settings(migrated, tmp_path_factory.mktemp("console"))).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Org:
    """A fresh organization on the live server with the demo service, and an HTTP client signed in as its admin."""

    def __init__(self, server: ConsoleServer) -> None:
        from tests.support.orgs import make_tenant

        self.server = server
        self.tenant = server.call(make_tenant(server.runtime.db))
        self.http = httpx.Client(base_url=f"{server.base_url}/v1/{self.tenant.org_id}", timeout=30)
        signed = self.http.post("/user/signin_with_api_key", headers={
            "x-api-key": self.tenant.api_key, "x-api-key-id": self.tenant.api_key_id, "x-user-id": self.tenant.user_id})
        assert signed.status_code == 200, signed.text
        self.http.headers["Authorization"] = f"Bearer {signed.json()['id_token']}"
        self.service_id = server.call(self._demo())
        service = self.http.get("/service/", params={"id": self.service_id}).json()["services"][0]
        self.graph_id = service["service_hierarchical_state_machine_id"]
        self.agent_id = service["agent_id"]

    async def _demo(self) -> str:
        from tertulia.demo import install_demo_service

        async with self.server.runtime.db.sessions() as session:
            service_id = await install_demo_service(session, self.tenant.org_id,
                                                    {"org_id": self.tenant.org_id, "user_id": self.tenant.user_id})
            await session.commit()
        return service_id

    def events(self, response: httpx.Response) -> list[dict[str, Any]]:
        assert response.status_code in (200, 201), response.text
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]

    def start(self) -> str:
        events = self.events(self.http.post("/conversation/", params={"response_format": "text"},
                                            json={"service_id": self.service_id}))
        assert events[-1]["type"] == "interaction-complete", events
        return events[0]["conversation_id"]

    def say(self, conversation_id: str, text: str) -> list[dict[str, Any]]:
        files = [("initial_message_type", (None, "user-message")),
                 ("recorded_message", ("m.txt", text.encode(), "text/plain"))]
        events = self.events(self.http.post(f"/conversation/{conversation_id}/interact",
                                            params={"request_format": "text", "response_format": "text"}, files=files))
        assert events[-1]["type"] == "interaction-complete", events
        return events


@pytest.fixture
def org(server: ConsoleServer) -> Iterator[Org]:
    made = Org(server)
    yield made
    made.http.close()


@pytest.fixture
def page(browser: Any, server: ConsoleServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=server.base_url)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.errors = errors
    yield tab
    context.close()


def shot(tab: Any, name: str) -> None:
    tab.screenshot(path=str(artifacts_dir() / f"{name}.png"), full_page=True)


def sign_in(tab: Any, org: Org, next_path: str = "/console") -> None:
    tab.goto(next_path)
    tab.wait_for_url(re.compile(r"/console/signin\?next="))
    tab.fill("#org_id", org.tenant.org_id)
    tab.fill("#api_key", org.tenant.api_key)
    tab.fill("#api_key_id", org.tenant.api_key_id)
    tab.fill("#user_id", org.tenant.user_id)
    tab.click("#signin-submit")
    tab.wait_for_url(re.compile(re.escape(next_path) + "$"))


def go_through_the_graph(org: Org, conversation_id: str) -> list[dict[str, Any]]:
    """welcome → clarify → triage (decision: first exit) → plan, in one turn."""
    org.server.runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})  # welcome → clarify
    org.server.runtime.llm.script_decision("SelectNextAction", {"next": "exit 1"})  # clarify → triage
    return org.say(conversation_id, "I want to run three times a week.")
