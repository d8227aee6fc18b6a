"""What tertulia learned about a user: the synthesized user model and the extracted memories."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.core.paging import fetch_page, page_list, parse_sort_by
from tertulia.user import repository as repo
from tertulia.user.schemas import GetMemoriesResponse, GetUserModelResponse, MemoryInstance, UserModel
from tertulia.user.service import require_user


async def get_user_model(session: AsyncSession, who: Principal, user_id: str) -> GetUserModelResponse:
    """The latest user model rows and ``additional_context``. When the user turned ``user_model_visible_to_admins``
    off, only the user itself sees the model content."""
    who.require("User:GetUserModel", {"user_id": user_id})
    user = await require_user(session, who.org_id, user_id)
    hidden = user.user_id != who.user_id and (user.preferences or {}).get("user_model_visible_to_admins") is False
    entries = [] if hidden else await repo.user_model_entries(session, who.org_id, user_id)
    return GetUserModelResponse(
        user_models=[UserModel(content=e.content, insight_ids=e.insight_ids or [], dimensions=e.dimensions or []) for e in entries],
        additional_context=list(user.additional_context or []),
    )


async def get_memories(
    session: AsyncSession,
    who: Principal,
    user_id: str,
    ids: list[str],
    conversation_ids: list[str],
    sort_by: list[str],
    limit: int,
    offset: int,
) -> GetMemoriesResponse:
    """Only memories from conversations whose messages the caller may read (``Conversation:GetMessage``)."""
    await require_user(session, who.org_id, user_id)
    sort = parse_sort_by(sort_by, ["conversation_id", "created_at"])
    query = repo.memories_query(who.org_id, user_id, ids, conversation_ids, sort)
    if who.has("Conversation:GetMessage"):
        page = await fetch_page(session, query, limit, offset)
    else:
        visible = [
            m
            for m in await session.scalars(query)
            if who.has("Conversation:GetMessage", {"user_id": user_id, "conversation_id": m.conversation_id})
        ]
        page = page_list(visible, limit, offset)
    return GetMemoriesResponse(
        memories=[
            MemoryInstance(
                id=m.id, created_at=m.created_at, conversation_id=m.conversation_id, references=m.references or [],
                content=m.content, context=m.context,
            )
            for m in page.items
        ],
        has_more=page.has_more,
        continuation_token=page.continuation_token,
    )
