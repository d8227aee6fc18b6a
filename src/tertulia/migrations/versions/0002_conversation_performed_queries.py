"""conversations.performed_queries: the memory recall queries a conversation has already run

A turn used to rebuild this list from the replay of every earlier interaction (a read that grew with the
conversation); the conversation row now carries it, updated by each turn's outcome. Existing conversations are
filled from their interactions' replays.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

import tertulia.core.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("performed_queries", tertulia.core.db.JSONType(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT conversation_id, replay FROM interactions ORDER BY conversation_id, sequence"
    )).all()
    done: dict[str, list[str]] = {}
    for conversation_id, replay in rows:
        if isinstance(replay, str | bytes):
            replay = json.loads(replay)
        queries = done.setdefault(conversation_id, [])
        queries.extend(q for q in (replay or {}).get("performed_queries") or [] if q not in queries)
    conversations = sa.table("conversations", sa.column("id", sa.String),
                             sa.column("performed_queries", tertulia.core.db.JSONType()))
    for conversation_id, queries in done.items():
        if queries:
            bind.execute(conversations.update().where(conversations.c.id == conversation_id)
                         .values(performed_queries=queries))


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("performed_queries")
