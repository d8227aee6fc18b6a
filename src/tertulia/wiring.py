"""Builds the production ``Runtime`` from settings: database, rate limiter and the adapters behind each port."""

from __future__ import annotations

from tertulia.core.db import Database
from tertulia.core.ratelimit import RateLimiter
from tertulia.runtime import Runtime
from tertulia.settings import Settings, get_settings


async def build_runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    runtime = Runtime(
        settings=settings,
        db=Database(settings.database_url),
        jwt_secret=settings.resolved_jwt_secret(),
        limiter=RateLimiter.from_settings(settings),
    )
    # Ports (LLM, embeddings, speech, storage, jobs) are attached by their packages' ``attach`` functions.
    for attach in _attachers():
        await attach(runtime)
    return runtime


def _attachers() -> list:
    """Each port package exposes ``async def attach(runtime)``; missing ones are skipped until they exist."""
    import importlib

    found = []
    for module_name in (
        "tertulia.engine.wiring",
        "tertulia.speech.wiring",
        "tertulia.jobs.wiring",
        "tertulia.observability.wiring",  # last: wraps the LLM port and logs the start-up summary
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module_name.startswith(exc.name):
                raise
            continue
        found.append(module.attach)
    return found


async def close_runtime(runtime: Runtime) -> None:
    for closer in runtime.closers:
        await closer()
    await runtime.db.dispose()
