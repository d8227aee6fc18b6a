"""Regenerate migration 0001 from the models (pre-release only: nothing has been deployed on it yet).

Usage: python scripts/regen_initial_migration.py
After the first release, add new revisions with ``alembic revision --autogenerate`` instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from tertulia.migrations import HERE, alembic_config

target = HERE / "versions" / "0001_initial.py"
if target.exists():
    target.unlink()
with tempfile.TemporaryDirectory() as tmp:
    cfg = alembic_config(f"sqlite+aiosqlite:///{Path(tmp) / 'empty.db'}")
    command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
generated = next((HERE / "versions").glob("0001_*.py"))
generated.rename(target)
print(f"wrote {target}")
