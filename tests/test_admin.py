"""GET /admin/get_models/: the llm_names a version set may route to, with the params the adapters forward."""

from __future__ import annotations


async def test_models_list_the_sdk_names_and_the_default(client, tenant, runtime, monkeypatch):
    monkeypatch.setenv("TERTULIA_LLM_MODEL_MAP", '{"house-model": "llama3.1", "*": "llama3.1"}')
    r = await client.get(tenant.url("/admin/get_models/"), headers=tenant.headers)
    assert r.status_code == 200
    names = [m["name"] for m in r.json()["models"]]
    assert "openai_gpt-5.2-2025-12-11" in names and "house-model" in names and runtime.settings.llm_model in names
    assert "*" not in names and len(names) == len(set(names))
    assert "temperature" in r.json()["models"][0]["params_model_schema"]["properties"]


async def test_models_need_admin_get_models(client, runtime, tenant):
    from tests.support.orgs import make_tenant

    user = await make_tenant(runtime.db, client, role="DefaultUserRole")
    r = await client.get(user.url("/admin/get_models/"), headers=user.headers)
    assert r.status_code == 403
