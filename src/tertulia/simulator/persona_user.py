"""The persona as a user of the organization, for the length of one simulated conversation.

Each repetition gets its own user (``sim-<run>-<position>``, ``DefaultUserRole``) carrying the persona version's
language, time zone and user variables (tools receive them) and its user models as the user's model (the agent's
prompts include it), exactly like a real user's. The user is removed when the repetition settles (its
conversation stays, owned by that user id); a restarted repetition first removes what a crashed attempt left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.conversation.models import Conversation
from tertulia.identity.principals import load_principal
from tertulia.role.models import Role
from tertulia.user.models import User, UserModelEntry
from tertulia.user.repository import delete_user_rows


@dataclass
class PersonaProfile:
    name: str
    role: str
    background: str
    preferred_language: str | None
    timezone: str | None
    user_models: list[str]
    nonsensitive_user_variables: dict[str, Any]
    sensitive_user_variables: dict[str, Any]


def user_id_for(run_id: str, position: int) -> str:
    return f"sim-{run_id}-{position}"


async def create_user(session: AsyncSession, org_id: str, user_id: str, persona: PersonaProfile) -> Principal:
    role_id = await session.scalar(select(Role.id).where(Role.org_id == org_id, Role.name == "DefaultUserRole"))
    if role_id is None:
        raise RuntimeError("The organization has no DefaultUserRole for simulated users.")
    first, _, last = persona.name.partition(" ")
    preferences = {k: v for k, v in (("preferred_language", persona.preferred_language),
                                     ("timezone", persona.timezone)) if v}
    session.add(User(
        org_id=org_id, user_id=user_id, first_name=first or persona.name, last_name=last,
        email=f"{user_id}@simulation.invalid", role_id=role_id, preferences=preferences,
        nonsensitive_variables=dict(persona.nonsensitive_user_variables),
        sensitive_variables=dict(persona.sensitive_user_variables), is_verified=True,
    ))
    for content in persona.user_models:
        session.add(UserModelEntry(org_id=org_id, user_id=user_id, content=content, insight_ids=[], dimensions=[]))
    await session.flush()
    principal = await load_principal(session, org_id, user_id)
    assert principal is not None
    return principal


async def remove_user(session: AsyncSession, org_id: str, user_id: str) -> None:
    await delete_user_rows(session, org_id, user_id)


async def remove_leftovers(session: AsyncSession, org_id: str, user_id: str) -> None:
    """What an attempt that died mid-conversation left: its conversation(s) and its user."""
    await session.execute(delete(Conversation).where(Conversation.org_id == org_id, Conversation.user_id == user_id))
    await delete_user_rows(session, org_id, user_id)
