"""Prompt-log use cases: store a turn's captured calls, build the ``get-prompt-logs`` zip, purge old logs."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.core.clock import utcnow
from tertulia.core.errors import NotFound, Unprocessable
from tertulia.prompt_log import repository as repo
from tertulia.prompt_log.models import PromptLog

WINDOW_DAYS = 30  # the spec serves logs "produced in the past 30 days"
MAX_LOGS = 1000  # "only prefixes corresponding to less than or equal to 1000 prompt logs are allowed"
PERMISSION = "Conversation:GetInteractionInsights"
SEPARATOR = "\n---\n"


def log_key(conversation_id: str, interaction_id: str, sequence: int, interaction_name: str) -> str:
    return f"{conversation_id}/{interaction_id}/{sequence:02d}-{interaction_name}"


async def store(session: AsyncSession, org_id: str, conversation_id: str, interaction_id: str,
                resource: dict[str, Any], records: list[Any]) -> None:
    """Add one row per captured call (``observability.prompt_capture.PromptRecord``, already redacted); flush only."""
    for record in records:
        system = "\n\n".join(content for role, content in record.messages if role == "system")
        history = [[role, content] for role, content in record.messages if role != "system"]
        session.add(PromptLog(
            org_id=org_id, conversation_id=conversation_id, interaction_id=interaction_id,
            log_key=log_key(conversation_id, interaction_id, record.sequence, record.interaction),
            sequence=record.sequence, interaction_name=record.interaction, model=record.model[:200],
            resource=dict(resource), system_prompt=system, history=history, output=record.output,
            outcome=record.outcome, error=record.error, duration_seconds=record.duration, created_at=record.created_at,
        ))
    await session.flush()


def render_history(log: PromptLog) -> str:
    entries = [f"{role}:\n{content}" for role, content in log.history or []]
    entries.append(f"output:\n{log.output}" + (f"\n\n(error: {log.error})" if log.error else ""))
    return SEPARATOR.join(entries)


async def prompt_logs_zip(session: AsyncSession, who: Principal, prefix: str) -> bytes:
    since = utcnow() - timedelta(days=WINDOW_DAYS)
    count = await repo.count_matching(session, who.org_id, prefix, since)
    if count == 0:
        raise NotFound(f"No prompt logs found matching the prefix {prefix[:100]!r}.")
    if count > MAX_LOGS:
        raise Unprocessable(f"The prefix {prefix[:100]!r} matches {count} prompt logs; at most {MAX_LOGS} may be downloaded "
                            "at once. Use a longer prefix (a conversation or interaction id).")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for log in await repo.matching(session, who.org_id, prefix, since, MAX_LOGS):
            if not who.has(PERMISSION, log.resource or {}):
                archive.writestr(f"{log.log_key}-error", f"Missing required permission {PERMISSION} on conversation "
                                                         f"{log.conversation_id}.")
                continue
            if log.system_prompt:
                archive.writestr(f"{log.log_key}-system", log.system_prompt)
            archive.writestr(f"{log.log_key}-history", render_history(log))
    return buffer.getvalue()
