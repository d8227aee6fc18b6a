"""The ASGI application: every domain router under ``/v1/{organization}``, error handlers and rate-limit headers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tertulia import __version__
from tertulia.auth.openapi import document_security
from tertulia.core.body_guard import BodyGuard
from tertulia.core.errors import install_error_handlers
from tertulia.core.ratelimit import RateLimitHeaders
from tertulia.core.routing import SlashTolerance, document_common_headers
from tertulia.gauges import collect_database
from tertulia.identity.principals import principal_for_token
from tertulia.runtime import Runtime

# Routes are matched in this order, one regex per route until one fits: the turn routes (every interact) come first.
# No path of one router is served by another's (tests/test_route_order.py), so the order changes nothing else.
DOMAINS = (
    "turns",
    "identity",  # sign-in, registered before /user/{id}
    "organization",
    "api_key",
    "user",
    "role",
    "agent",
    "context_graph",
    "service",
    "dynamic_behavior_set",
    "conversation",
    "feedback",
    "metric",
    "webhook",
    "admin",
    "simulation",
    "prompt_log",  # GET /admin/get_prompt_logs/
)


def settle_heap() -> None:
    """Move everything built at start-up (modules, routes, models, the runtime) out of the garbage collector's reach.

    Those objects live as long as the process; left in the collector's oldest generation, every full collection
    walks all of them (~175k objects: tens of ms of CPU, a pause in whatever turn is streaming: the p99). Frozen,
    a full collection only walks what requests allocated since.

    The young generation is collected every ``YOUNG_THRESHOLD`` net allocations instead of Python's 700: a turn
    allocates a few thousand objects that die by reference counting anyway, and at 700 the collector ran about
    every third turn and promoted what the turn still held (measured in-process: 0.19 → 0.07 ms of collection a turn,
    each young collection a few ms at most).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 20)


YOUNG_THRESHOLD = 5000


def create_app(runtime: Runtime | None = None) -> FastAPI:
    """Build the app. Without ``runtime`` one is made from the environment when the app starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        if owned:
            from tertulia.wiring import build_runtime

            app.state.runtime = await build_runtime()
            settle_heap()
        from tertulia.core.rate_config import check_app_operations

        check_app_operations(app)  # a rate-limit override naming no operation of this server stops the start
        try:
            yield
        finally:
            if owned:
                from tertulia.wiring import close_runtime

                await close_runtime(app.state.runtime)

    app = FastAPI(
        title="tertulia",
        version=__version__,
        description="Self-hostable conversational-agent platform speaking the Classic Amigo API.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    if runtime is not None:
        app.state.runtime = runtime
    else:
        from tertulia.observability.tracing import setup_tracing

        setup_tracing()  # a production app: the SDK (when enabled) before the app is instrumented
    app.state.principals = principal_for_token  # auth.deps.PrincipalLoader
    app.state.gauges = collect_database  # the database gauges of /metrics
    install_error_handlers(app)
    from tertulia.observability.http import ObservabilityMiddleware
    from tertulia.observability.http import router as observability_router
    from tertulia.observability.tracing import instrument_app

    app.add_middleware(ObservabilityMiddleware)  # innermost: sees the routed scope (operation_id) and every status
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(SlashTolerance)
    app.add_middleware(BodyGuard)  # outermost: size caps and strict JSON before anything else runs
    app.include_router(observability_router)  # GET /metrics, GET /readyz
    instrument_app(app)  # HTTP server spans, only when tracing is on

    import importlib

    for domain in DOMAINS:
        module = importlib.import_module(f"tertulia.{domain}.router")
        app.include_router(module.router)
    app.include_router(importlib.import_module("tertulia.speech.router").router)  # GET /blobs/{key} (signed URLs)
    document_common_headers(app)
    document_security(app)

    from tertulia.console import install as install_console

    install_console(app)  # /console pages and assets; GET / redirects there

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers. Readiness (database, migrations, worker) is ``/readyz``."""
        return {"status": "ok"}

    return app
