"""Organization use cases: read (public), create (provision), modify, delete, user dimensions."""

from __future__ import annotations

import re

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.core.errors import BadRequest, Conflict, NotFound, Unprocessable
from tertulia.organization.models import Organization
from tertulia.organization.provisioning import provision_organization
from tertulia.organization.schemas import (
    CreateOrganizationRequest,
    CreateOrganizationResponse,
    GetOrganizationResponse,
    GetUserDimensionsResponse,
    ModifyOrganizationRequest,
)
from tertulia.user.service import preferences_of

ORG_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
RESERVED_ORG_IDS = frozenset({"admin", "api", "app", "www", "internal", "internal-api", "static", "healthz", "docs", "v1"})
SUPER_USER_EMAIL = "admin@amigo.ai"


async def require_org(session: AsyncSession, org_id: str) -> Organization:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"Organization {org_id} not found.")
    return org


async def get_organization(session: AsyncSession, org_id: str, who: Principal | None) -> GetOrganizationResponse:
    """Public. ``default_user_preferences`` and ``tenant_id`` are filled only for an authenticated caller holding
    ``Organization:GetOrganizationDetails`` (the spec's wording for both). tertulia has no identity-provider
    tenant: the tenant id is the organization id unless one was recorded."""
    org = await require_org(session, org_id)
    details = who is not None and who.has("Organization:GetOrganizationDetails")
    return GetOrganizationResponse(
        org_id=org.id,
        org_name=org.org_name,
        default_user_preferences=preferences_of(org.default_user_preferences) if details else None,
        tenant_id=(org.tenant_id or org.id) if details else None,
    )


async def create_organization(
    session: AsyncSession, who: Principal, org_id: str, body: CreateOrganizationRequest
) -> CreateOrganizationResponse:
    """Provision the org, its four default roles and the super user ``admin@amigo.ai``. Operators then mint a
    first API key for it (``tertulia bootstrap`` or the database); the caller's token stays in its own org."""
    if org_id.lower() in RESERVED_ORG_IDS:
        raise BadRequest(f"The organization id {org_id!r} is reserved.")
    if not ORG_ID_PATTERN.match(org_id):
        raise Unprocessable("Organization ids are 1-64 letters, digits, '_' or '-', starting with a letter or digit.")
    if await session.get(Organization, org_id) is not None:
        raise Conflict(f"Organization {org_id} already exists.")
    await provision_organization(
        session,
        org_id,
        body.org_name,
        admin_email=SUPER_USER_EMAIL,
        user_dimensions=[d.model_dump() for d in body.user_dimensions],
        default_user_preferences=body.default_user_preferences.model_dump(mode="json")
        if body.default_user_preferences
        else None,
    )
    await session.flush()
    return CreateOrganizationResponse(org_id=org_id)


async def modify_organization(session: AsyncSession, who: Principal, body: ModifyOrganizationRequest) -> None:
    org = await require_org(session, who.org_id)
    if body.user_dimensions is not None:
        org.user_dimensions = [d.model_dump() for d in body.user_dimensions]
    if body.default_user_preferences is not None:
        org.default_user_preferences = body.default_user_preferences.model_dump(mode="json")
    await session.flush()


async def delete_organization(session: AsyncSession, who: Principal) -> None:
    """Erase the organization and every row any domain keeps for it, in one transaction: every table with an
    ``org_id`` column (users, roles, keys, agents, graphs, services, conversations, behaviors, metrics, webhooks,
    jobs, ...), children before parents. Every token of the org stops working at once. Its stored audio is deleted
    by a job queued in the same transaction (``tertulia.organization.cleanup``)."""
    from tertulia.models import load_all
    from tertulia.organization.cleanup import queue_blob_purge

    org = await require_org(session, who.org_id)
    for table in reversed(load_all().metadata.sorted_tables):
        if "org_id" in table.c:
            await session.execute(delete(table).where(table.c.org_id == org.id))
    await session.delete(org)
    await queue_blob_purge(session, org.id)
    await session.flush()


async def user_dimensions(session: AsyncSession, who: Principal) -> GetUserDimensionsResponse:
    org = await require_org(session, who.org_id)
    return GetUserDimensionsResponse(user_dimensions=list(org.user_dimensions or []))
