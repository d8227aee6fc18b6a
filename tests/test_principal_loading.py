"""Loading the caller behind a token: one statement per request, and every change behind a valid token (key deleted
or expired, user deleted, role changed, temporary grant given or expired) seen by the very next request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, event, update

from tertulia.api_key.models import ApiKey
from tertulia.identity.loading import KEY_GONE, USER_GONE, load_principal
from tertulia.core.clock import utcnow
from tertulia.core.errors import Unauthorized
from tertulia.role.models import TemporaryPermissionGrant
from tertulia.user.models import User


class Statements:
    def __init__(self, engine) -> None:  # noqa: ANN001
        self.engine, self.sql = engine.sync_engine, []

    def _on(self, conn, cursor, statement, *rest) -> None:  # noqa: ANN001, ANN002
        self.sql.append(statement)

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        event.remove(self.engine, "before_cursor_execute", self._on)


async def load(runtime, tenant, user_id: str | None = None, key_id: str | None = "tenant"):
    async with runtime.db.sessions() as session:
        return await load_principal(session, tenant.org_id, user_id or tenant.user_id,
                                    tenant.api_key_id if key_id == "tenant" else key_id)


async def write(runtime, statement) -> None:  # noqa: ANN001
    async with runtime.db.unit_of_work() as session:
        await session.execute(statement)


async def test_one_statement_per_request_once_the_role_is_known(runtime, tenant):
    first = await load(runtime, tenant)
    assert first.user_id == tenant.user_id and first.role_name == "DefaultSuperAdministratorRole"
    assert first.has_any_grant("Organization:DeleteOrganization")
    with Statements(runtime.db.engine) as seen:
        again = await load(runtime, tenant)
    assert len(seen.sql) == 1, seen.sql
    assert again.grants == first.grants
    # the role's grants are shared by its requests, read-only: no request can change them for another
    grant = again.grants[0]
    with pytest.raises(TypeError):
        grant["permission_name"] = "Organization:DeleteOrganization"  # type: ignore[index]
    with pytest.raises(TypeError):
        grant["conditions"]["user_id"] = {"type": "Equals", "value": "x"}  # type: ignore[index]
    with pytest.raises(AttributeError):
        again.grants.clear()  # type: ignore[attr-defined]
    assert (await load(runtime, tenant)).grants == first.grants


async def test_a_deleted_or_expired_key_stops_its_tokens(runtime, tenant):
    await load(runtime, tenant)
    await write(runtime, update(ApiKey).where(ApiKey.org_id == tenant.org_id, ApiKey.key_id == tenant.api_key_id)
                .values(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(Unauthorized, match=KEY_GONE):
        await load(runtime, tenant)
    await write(runtime, delete(ApiKey).where(ApiKey.org_id == tenant.org_id, ApiKey.key_id == tenant.api_key_id))
    with pytest.raises(Unauthorized, match=KEY_GONE):
        await load(runtime, tenant)
    with pytest.raises(Unauthorized, match=KEY_GONE):
        await load(runtime, tenant, user_id="nobody")  # both gone: the key is named
    assert (await load(runtime, tenant, key_id=None)).user_id == tenant.user_id  # a token minted without a key


async def test_a_deleted_user_and_a_changed_role_show_at_once(runtime, tenant):
    assert (await load(runtime, tenant)).role_name == "DefaultSuperAdministratorRole"
    await write(runtime, update(User).where(User.org_id == tenant.org_id, User.user_id == tenant.user_id)
                .values(role_id=tenant.role_ids["DefaultUserRole"]))
    demoted = await load(runtime, tenant)
    assert demoted.role_name == "DefaultUserRole" and not demoted.has_any_grant("Organization:DeleteOrganization")
    await write(runtime, delete(User).where(User.org_id == tenant.org_id, User.user_id == tenant.user_id))
    with pytest.raises(Unauthorized, match=USER_GONE):
        await load(runtime, tenant)


async def test_temporary_grants_apply_while_live(runtime, tenant):
    await write(runtime, update(User).where(User.org_id == tenant.org_id, User.user_id == tenant.user_id)
                .values(role_id=tenant.role_ids["DefaultUserRole"]))
    assert not (await load(runtime, tenant)).has_any_grant("Role:GetRole")
    async with runtime.db.unit_of_work() as session:
        grant = TemporaryPermissionGrant(
            org_id=tenant.org_id, user_id=tenant.user_id, expires_at=utcnow() + timedelta(hours=1),
            permission_grant={"permission_name": "Role:GetRole", "conditions": {}}, justification="An audit today",
            creator={"org_id": tenant.org_id, "user_id": tenant.user_id}, tags={})
        session.add(grant)
    assert (await load(runtime, tenant)).has_any_grant("Role:GetRole")
    await write(runtime, update(TemporaryPermissionGrant).where(TemporaryPermissionGrant.id == grant.id)
                .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert not (await load(runtime, tenant)).has_any_grant("Role:GetRole")


async def test_another_organizations_key_or_user_is_unknown(runtime, tenant, other_tenant):
    with pytest.raises(Unauthorized, match=KEY_GONE):
        await load(runtime, tenant, key_id=other_tenant.api_key_id)
    with pytest.raises(Unauthorized, match=USER_GONE):
        await load(runtime, tenant, user_id=other_tenant.user_id, key_id=None)
