"""A server process settles its start-up heap: what start-up built is frozen out of the garbage collector's reach, so
full collections during turns walk only what requests allocated (no start-up-sized pauses)."""

from __future__ import annotations

import gc

from asgi_lifespan import LifespanManager

from tertulia.app import create_app
from tertulia.settings import get_settings


async def test_start_up_freezes_what_it_built(tmp_path, monkeypatch):
    monkeypatch.setenv("TERTULIA_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'heap.db'}")
    monkeypatch.setenv("TERTULIA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TERTULIA_LLM_PROVIDER", "fake")
    monkeypatch.setenv("TERTULIA_JWT_SECRET", "heap-" + "h" * 40)
    get_settings.cache_clear()
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        assert gc.get_freeze_count() == 0
        app = create_app()  # no runtime given: built from the environment at start-up, as `tertulia serve` does
        async with LifespanManager(app):
            assert gc.get_freeze_count() > 50_000
            assert app.state.runtime is not None
            assert gc.get_freeze_count() > len(gc.get_objects())  # a full collection walks only the unfrozen rest
            assert gc.get_threshold()[0] == 5000  # young collections every 5000 net allocations, not 700
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        get_settings.cache_clear()
