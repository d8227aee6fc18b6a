"""Exit 0 when a PostgreSQL server answers at ADMIN_URL, after creating database NAME if it is missing.

Usage: python scripts/pg_ready.py postgresql://user@host:port/postgres NAME
"""

from __future__ import annotations

import asyncio
import sys


async def main(admin_url: str, name: str) -> int:
    try:
        import asyncpg

        conn = await asyncio.wait_for(asyncpg.connect(admin_url), timeout=5)
    except Exception as exc:  # unreachable, refused, bad credentials: no PostgreSQL pass
        print(f"PostgreSQL unavailable: {type(exc).__name__}", file=sys.stderr)
        return 1
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
