"""API-key secrets at rest: a keyed HMAC-SHA-256 (server pepper) for new keys; legacy argon2 keys stay valid and are
rewritten with the keyed hash at their first successful sign-in."""

from __future__ import annotations

import asyncio
import stat
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from sqlalchemy import select

from tertulia.api_key.models import ApiKey
from tertulia.auth.security import KEYED_SCHEME, api_key_pepper, hash_secret, verify_secret
from tests.support.orgs import make_tenant


async def stored_hash(runtime, org_id: str, key_id: str) -> str:
    async with runtime.db.sessions() as session:
        return await session.scalar(select(ApiKey.secret_hash).where(ApiKey.org_id == org_id, ApiKey.key_id == key_id))


async def signin(client, tenant, secret: str, key_id: str | None = None):
    return await client.post(tenant.url("/user/signin_with_api_key"),
                             headers={"x-api-key": secret, "x-api-key-id": key_id or tenant.api_key_id,
                                      "x-user-id": tenant.user_id})


async def test_new_keys_are_stored_with_the_servers_keyed_hash(client, runtime, tenant):
    r = await client.post(tenant.url("/organization/api_key/"), json={"name": "k", "duration": "P2D",
                                                                      "role_name": "DefaultSuperAdministratorRole"},
                          headers=tenant.headers)
    assert r.status_code == 201
    key = r.json()
    stored = await stored_hash(runtime, tenant.org_id, key["api_key_id"])
    pepper = runtime.settings.resolved_api_key_pepper()
    assert stored.startswith(KEYED_SCHEME) and key["api_key"] not in stored
    assert stored == hash_secret(key["api_key"], pepper)
    assert (await signin(client, tenant, key["api_key"], key["api_key_id"])).status_code == 200
    assert (await signin(client, tenant, key["api_key"][:-1] + "x", key["api_key_id"])).status_code == 401
    # the same secret under another pepper is another hash: the database alone cannot confirm a key
    assert hash_secret(key["api_key"], b"another pepper") != stored
    assert not verify_secret(stored, key["api_key"], b"another pepper").ok


async def test_legacy_argon2_key_stays_valid_and_is_upgraded_at_first_sign_in(client, runtime):
    tenant = await make_tenant(runtime.db)  # no pepper: the key is stored with argon2, as before this scheme
    legacy = await stored_hash(runtime, tenant.org_id, tenant.api_key_id)
    assert legacy.startswith("$argon2")

    assert (await signin(client, tenant, "not-the-secret")).status_code == 401
    assert await stored_hash(runtime, tenant.org_id, tenant.api_key_id) == legacy  # a failed sign-in changes nothing

    first = await signin(client, tenant, tenant.api_key)
    assert first.status_code == 200, first.text
    upgraded = await stored_hash(runtime, tenant.org_id, tenant.api_key_id)
    assert upgraded == hash_secret(tenant.api_key, runtime.settings.resolved_api_key_pepper())

    again = await signin(client, tenant, tenant.api_key)
    assert again.status_code == 200
    assert (await client.get(tenant.url("/organization/api_key/"),
                             headers={"Authorization": f"Bearer {again.json()['id_token']}"})).status_code == 200
    assert (await signin(client, tenant, "not-the-secret")).status_code == 401


async def test_concurrent_first_sign_ins_of_a_legacy_key_all_succeed(client, runtime):
    tenant = await make_tenant(runtime.db)
    results = await asyncio.gather(*(signin(client, tenant, tenant.api_key) for _ in range(4)))
    assert [r.status_code for r in results] == [200] * 4
    assert (await stored_hash(runtime, tenant.org_id, tenant.api_key_id)).startswith(KEYED_SCHEME)


def test_verify_tells_legacy_from_keyed_hashes():
    pepper = b"p" * 32
    legacy = PasswordHasher().hash("s3cret")
    assert verify_secret(legacy, "s3cret", pepper).ok and verify_secret(legacy, "s3cret", pepper).needs_upgrade
    assert not verify_secret(legacy, "wrong", pepper).ok
    keyed = hash_secret("s3cret", pepper)
    assert verify_secret(keyed, "s3cret", pepper).ok and not verify_secret(keyed, "s3cret", pepper).needs_upgrade
    assert not verify_secret(keyed, "wrong", pepper).ok
    assert not verify_secret("garbage", "s3cret", pepper).ok
    assert not verify_secret(KEYED_SCHEME + "00", "s3cret", pepper).ok


def test_pepper_is_configured_or_generated_once_per_data_dir(tmp_path):
    assert api_key_pepper("from-the-environment", tmp_path / "a") == b"from-the-environment"
    assert not (tmp_path / "a" / "api_key_pepper").exists()

    data_dir = tmp_path / "b"
    with ThreadPoolExecutor(8) as pool:  # processes starting together on one data dir agree on one pepper
        peppers = set(pool.map(lambda _: _fresh_pepper(data_dir), range(8)))
    assert len(peppers) == 1
    path = data_dir / "api_key_pepper"
    assert path.read_text().strip().encode() == peppers.pop()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in data_dir.iterdir()) == ["api_key_pepper"]  # no drafts left behind


def _fresh_pepper(data_dir) -> bytes:
    from tertulia.auth import security

    security._peppers.pop((None, str(data_dir)), None)  # as a new process would: nothing cached yet
    return api_key_pepper(None, data_dir)
