"""The official ``amigo-sdk`` pointed at a live tertulia server: only ``base_url`` differs from production use."""

from __future__ import annotations

from amigo_sdk import AmigoClient, AsyncAmigoClient

from tests.support.orgs import Tenant


def sdk_client(base_url: str, tenant: Tenant) -> AmigoClient:
    return AmigoClient(
        api_key=tenant.api_key,
        api_key_id=tenant.api_key_id,
        user_id=tenant.user_id,
        organization_id=tenant.org_id,
        base_url=base_url,
    )


def async_sdk_client(base_url: str, tenant: Tenant) -> AsyncAmigoClient:
    return AsyncAmigoClient(
        api_key=tenant.api_key,
        api_key_id=tenant.api_key_id,
        user_id=tenant.user_id,
        organization_id=tenant.org_id,
        base_url=base_url,
    )
