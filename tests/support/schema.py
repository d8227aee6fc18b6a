"""Creates the test database schema with the project's real Alembic migrations."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tertulia.core.db import make_engine
from tertulia.migrations import upgrade


async def _drop_everything(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        else:
            from tertulia.models import load_all

            await conn.run_sync(load_all().metadata.drop_all)
            await conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    await engine.dispose()


def reset_schema(url: str) -> None:
    asyncio.run(_drop_everything(url))
    upgrade(url)
