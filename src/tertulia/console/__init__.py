"""The web console (``/console``): server-rendered pages (Jinja2) and plain JavaScript modules that call the same public
API as any client, with the signed-in user's token and permissions.

* ``pages.py`` — the HTML pages (shells: the data is fetched by the browser with the caller's token, which lives in
  ``sessionStorage`` and is never sent as a cookie, so the server renders no tenant data itself);
* ``api.py`` — the few console-only endpoints the public API lacks (``/console/api/{organization}/...``: the
  organization's jobs and their retry, a context graph version drawn as SVG), authenticated exactly like the API;
* ``security.py`` — the strict Content-Security-Policy (and friends) on every console response;
* ``diagram.py`` / ``svg.py`` — context graph layout (grandalf's Sugiyama layout) and SVG rendering;
* ``static/`` and ``templates/`` ship as package data in the wheel (no Node, no build step).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the console on ``app``: pages, console API, static assets, security headers, ``GET /`` → ``/console``."""
    from tertulia.console.api import router as api_router
    from tertulia.console.pages import router as pages_router
    from tertulia.console.security import ConsoleSecurityHeaders

    app.include_router(api_router)
    app.include_router(pages_router)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.add_middleware(ConsoleSecurityHeaders)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console", status_code=307)
