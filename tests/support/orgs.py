"""Test tenants: each test gets its own organization, so tests never see each other's rows."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import httpx

from tertulia.api_key.issuing import issue_api_key
from tertulia.core.db import Database
from tertulia.organization.provisioning import provision_organization


@dataclass
class Tenant:
    org_id: str
    user_id: str
    api_key_id: str
    api_key: str
    token: str = ""
    role_ids: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, path: str) -> str:
        return f"/v1/{self.org_id}{path}"


async def make_tenant(db: Database, client: httpx.AsyncClient | None = None, role: str = "DefaultSuperAdministratorRole",
                      pepper: bytes | None = None) -> Tenant:
    """``pepper``: the server's API-key pepper; without it the key is stored with the legacy argon2 hash (this
    process may not know the server's pepper), which the server upgrades at the first sign-in."""
    org_id = "org" + secrets.token_hex(6)
    async with db.sessions() as session:
        p = await provision_organization(session, org_id, f"Org {org_id}", admin_role=role)
        key = await issue_api_key(session, org_id, p.roles[role].id, {"org_id": org_id, "user_id": p.admin.user_id},
                                  pepper=pepper)
        await session.commit()
        tenant = Tenant(org_id, p.admin.user_id, key.row.key_id, key.secret, role_ids={n: r.id for n, r in p.roles.items()})
    if client is not None:
        tenant.token = await sign_in(client, tenant, tenant.user_id)
    return tenant


async def sign_in(client: httpx.AsyncClient, tenant: Tenant, user_id: str) -> str:
    response = await client.post(
        tenant.url("/user/signin_with_api_key"),
        headers={"x-api-key": tenant.api_key, "x-api-key-id": tenant.api_key_id, "x-user-id": user_id},
    )
    assert response.status_code == 200, response.text
    return response.json()["id_token"]
