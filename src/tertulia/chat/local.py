"""Where ``tertulia chat`` talks to: a running server (``--base-url``) or one started inside the chat process on a
free loopback port (the same app, the same public API, real HTTP streaming), on the configured database.

Credentials, first found wins: ``--org/--user-id/--api-key-id/--api-key`` options, the official SDK's environment
variables (``AMIGO_ORGANIZATION_ID``, ``AMIGO_USER_ID``, ``AMIGO_API_KEY_ID``, ``AMIGO_API_KEY``), else a fresh
key minted by ``tertulia bootstrap`` on the configured database (``TERTULIA_DATABASE_URL``) — which is the
server's own database when chat runs where the server runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tertulia.chat.api import Credentials

ENV = {"organization_id": "AMIGO_ORGANIZATION_ID", "user_id": "AMIGO_USER_ID", "api_key_id": "AMIGO_API_KEY_ID",
       "api_key": "AMIGO_API_KEY"}


def resolve_credentials(given: dict[str, str | None]) -> tuple[Credentials, str]:
    """The credentials and where they came from."""
    merged = {k: given.get(k) or os.environ.get(env) for k, env in ENV.items()}
    if all(merged.values()):
        source = "options" if all(given.get(k) for k in ENV) else "options / AMIGO_* environment"
        return Credentials(**merged), source  # type: ignore[arg-type]
    from tertulia.first_run import describe_database
    from tertulia.settings import get_settings

    _migrate()
    result = asyncio.run(_bootstrap())
    creds = Credentials(result.organization_id, result.user_id, result.api_key_id, result.api_key)
    return creds, f"a new bootstrap key on {describe_database(get_settings().database_url).label}"


def _migrate() -> None:
    from tertulia.migrations import upgrade
    from tertulia.settings import get_settings

    upgrade(get_settings().database_url)


async def _bootstrap():
    from tertulia.bootstrap import run_bootstrap
    from tertulia.core.db import Database
    from tertulia.settings import get_settings

    settings = get_settings()
    db = Database(settings.database_url)
    try:
        return await run_bootstrap(db, pepper=settings.resolved_api_key_pepper())
    finally:
        await db.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_server() -> Iterator[str]:
    """Serve the app on 127.0.0.1 in a background thread for the duration; yields its base URL."""
    import uvicorn

    _migrate()
    port = _free_port()
    config = uvicorn.Config("tertulia.asgi:app", host="127.0.0.1", port=port, log_level="warning",
                            log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # Ctrl-C belongs to the chat loop, not to the server
    thread = threading.Thread(target=server.run, name="tertulia-chat-server", daemon=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if not thread.is_alive() or time.time() > deadline:
            raise RuntimeError("The in-process server did not start; see the log lines above.")
        time.sleep(0.1)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)
