"""What every operation declares but no handler reads per request: the credential schemes (``security``) and the
two compatibility headers. They are documented on the schema (``auth.openapi``, ``core.routing``) instead of being
FastAPI dependencies; the schema must still say, for each operation, what FastAPI would have written."""

from __future__ import annotations

ALL_SCHEMES = [{"Bearer-Authorization": []}, {"Basic": []}, {"Bearer-Authorization-Organization": []}]
PUBLIC = {"sign-in-with-api-key", "sign-in-with-email"}


async def test_every_operation_documents_its_credentials_and_the_common_headers(client):
    spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes == {"Bearer-Authorization": {"type": "http", "scheme": "bearer"},
                       "Basic": {"type": "http", "scheme": "basic"},
                       "Bearer-Authorization-Organization": {"type": "apiKey", "in": "header", "name": "X-ORG-ID"}}
    seen = 0
    for path, item in spec["paths"].items():
        if not path.startswith("/v1/{organization}/"):
            continue
        for method, op in item.items():
            seen += 1
            headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
            assert {"x-mongo-cluster-name", "Sec-WebSocket-Protocol"} <= headers, (method, path)
            if op["operationId"] == "create-organization":
                assert op["security"] == [ALL_SCHEMES[0], ALL_SCHEMES[2]], op["security"]
            elif op["operationId"] not in PUBLIC:
                assert op.get("security") == ALL_SCHEMES, (method, path, op.get("security"))
    assert seen >= 100


async def test_the_schemes_still_authenticate(client, tenant):
    url = tenant.url("/service/")
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=tenant.headers)).status_code == 200
    basic = {"Authorization": "Basic " + __import__("base64").b64encode(
        f"{tenant.org_id}_{tenant.user_id}:{tenant.token}".encode()).decode()}
    assert (await client.get(url, headers=basic)).status_code == 200
    cross = {**tenant.headers, "X-ORG-ID": "org" + "0" * 12}
    assert (await client.get(url, headers=cross)).status_code == 401
