"""A test's own tables on the test database, created before it and dropped after it (no migrations, no app)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa

from tertulia.core.db import Database


@asynccontextmanager
async def scratch_tables(database_url: str, metadata: sa.MetaData,
                         rows: dict[sa.Table, list[dict]] | None = None) -> AsyncIterator[Database]:
    """A ``Database`` on ``database_url`` with ``metadata``'s tables freshly created (and ``rows`` inserted)."""
    db = Database(database_url)
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.run_sync(metadata.create_all)
        for table, values in (rows or {}).items():
            await connection.execute(table.insert(), values)
    try:
        yield db
    finally:
        async with db.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
        await db.dispose()
