"""``tertulia bootstrap``: an organization, an administrator with a fresh API key and a ready demo service.

Idempotent on a database: the organization, administrator and demo service are found when they exist. API key
secrets are stored hashed, so each run mints a new key (named ``bootstrap``) and revokes bootstrap keys beyond the
five most recent; the secret appears only in this command's output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select

from tertulia.api_key.issuing import issue_api_key
from tertulia.api_key.models import ApiKey
from tertulia.core.db import Database
from tertulia.organization.provisioning import provision_organization

DEFAULT_ORG_ID = "tertulia"
KEEP_BOOTSTRAP_KEYS = 5


@dataclass
class BootstrapResult:
    organization_id: str
    user_id: str
    api_key_id: str
    api_key: str
    service_id: str


async def run_bootstrap(
    db: Database, org_id: str = DEFAULT_ORG_ID, org_name: str = "Tertulia", *, pepper: bytes | None = None
) -> BootstrapResult:
    """``pepper``: the servers' API-key pepper, so the key is stored with the keyed hash (else argon2, upgraded at its
    first sign-in)."""
    async with db.unit_of_work() as session:
        provisioned = await provision_organization(session, org_id, org_name)
        admin = provisioned.admin
        creator = {"org_id": org_id, "user_id": admin.user_id}
        old_keys = list(
            await session.scalars(
                select(ApiKey)
                .where(ApiKey.org_id == org_id, ApiKey.name == "bootstrap")
                .order_by(ApiKey.created_at.desc())
            )
        )
        for stale in old_keys[KEEP_BOOTSTRAP_KEYS - 1 :]:
            await session.delete(stale)
        key = await issue_api_key(session, org_id, admin.role_id, creator, pepper=pepper, name="bootstrap")
        service_id = await _demo_service(session, org_id, creator)
    return BootstrapResult(org_id, admin.user_id, key.row.key_id, key.secret, service_id)


async def _demo_service(session, org_id: str, creator: dict) -> str:
    from tertulia.demo import install_demo_service

    return await install_demo_service(session, org_id, creator)


def as_dict(result: BootstrapResult) -> dict:
    return asdict(result)
