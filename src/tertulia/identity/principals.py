"""The principal behind a token (``auth.deps.PrincipalLoader``, installed by ``app.create_app``): the one-statement
loader of ``loading.py`` (the API key still alive, the user, its role's grants and its live temporary grants)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.core.errors import Unauthorized
from tertulia.identity.loading import load_principal as principal_for_token

__all__ = ["load_principal", "principal_for_token"]


async def load_principal(session: AsyncSession, org_id: str, user_id: str) -> Principal | None:
    """The user's principal (role grants and live temporary grants), or None when there is no such user."""
    try:
        return await principal_for_token(session, org_id, user_id, None)
    except Unauthorized:
        return None
