"""Alembic migrations, shipped inside the package so ``tertulia serve`` can apply them anywhere."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).parent


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", database_url)
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations (synchronous; run it outside an event loop, or in a thread)."""
    command.upgrade(alembic_config(database_url), revision)
