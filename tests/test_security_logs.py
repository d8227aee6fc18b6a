"""Secrets never reach the logs, and bad credentials are refused, on a real ``tertulia serve`` subprocess.

The server runs with the root logger at DEBUG (so SQLAlchemy statements and parameters, httpx, the job worker and
uvicorn's access log all write). One session goes through API-key sign-in, Basic auth, a conversation turn and its
finish (post-processing jobs), API key creation and revocation, and webhook destination creation and secret rotation;
then the captured log is searched for every secret that crossed the wire.

tests/test_auth.py and tests/test_api_key.py cover forged/expired tokens and revoked keys through the ASGI app; here
the cases they leave out: ``alg: none``, a tampered payload, a foreign issuer, a missing claim, an expired API key,
a forged token inside Basic auth, and a revoked key's token, all against the real process."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import timedelta

import httpx
import jwt
import pytest
from sqlalchemy import update

from tertulia.api_key.models import ApiKey
from tertulia.core.clock import utcnow
from tertulia.core.db import Database
from tests.support.serve_process import JWT_SECRET, ServeProcess, serve_process


def _signin(http: httpx.Client, server: ServeProcess, key_id: str, secret: str, user_id: str) -> httpx.Response:
    org = server.credentials.organization_id
    return http.post(f"/v1/{org}/user/signin_with_api_key",
                     headers={"x-api-key": secret, "x-api-key-id": key_id, "x-user-id": user_id})


def _ndjson(response: httpx.Response) -> list[dict]:
    assert response.status_code in (200, 201), response.text
    events = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    assert events[-1]["type"] == "interaction-complete" and all(e["type"] != "error" for e in events), events
    return events


def _expire_key(url: str, key_id: str) -> None:
    async def run() -> None:
        db = Database(url)
        try:
            async with db.sessions() as session:
                await session.execute(update(ApiKey).where(ApiKey.key_id == key_id)
                                      .values(expires_at=utcnow() - timedelta(minutes=1)))
                await session.commit()
        finally:
            await db.dispose()

    asyncio.run(run())


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory: pytest.TempPathFactory):
    with serve_process(tmp_path_factory.mktemp("security"), log_level="DEBUG") as server:
        yield server


def test_no_secret_reaches_the_logs(tmp_path_factory):
    secrets: dict[str, str] = {"jwt signing secret": JWT_SECRET}
    with serve_process(tmp_path_factory.mktemp("security-logs"), log_level="DEBUG") as server:
        creds = server.credentials
        org = creds.organization_id
        secrets["bootstrap api key"] = creds.api_key
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            r = _signin(http, server, creds.api_key_id, creds.api_key, creds.user_id)
            assert r.status_code == 200, r.text
            token = r.json()["id_token"]
            secrets["jwt"] = token
            secrets["jwt signature"] = token.rsplit(".", 1)[1]
            bearer = {"Authorization": f"Bearer {token}"}
            basic = "Basic " + base64.b64encode(f"{org}_{creds.user_id}:{token}".encode()).decode()
            secrets["basic authorization"] = basic.split(" ", 1)[1]
            assert http.get(f"/v1/{org}/organization/agent", headers={"Authorization": basic}).status_code == 200

            created = _ndjson(http.post(f"/v1/{org}/conversation/?response_format=text", headers=bearer,
                                        json={"service_id": creds.service_id}))
            conversation_id = created[0]["conversation_id"]
            files = [("initial_message_type", (None, "user-message")),
                     ("recorded_message", ("message.txt", b"Hello, I slept badly.", "text/plain; charset=utf-8"))]
            _ndjson(http.post(f"/v1/{org}/conversation/{conversation_id}/interact"
                              "?request_format=text&response_format=text", headers=bearer, files=files))
            assert http.post(f"/v1/{org}/conversation/{conversation_id}/finish/", headers=bearer).status_code == 204

            r = http.post(f"/v1/{org}/organization/api_key/", headers=bearer,
                          json={"name": "logs", "duration": "P1D", "role_name": "DefaultSuperAdministratorRole"})
            assert r.status_code == 201, r.text
            key = r.json()
            secrets["new api key"] = key["api_key"]
            r = _signin(http, server, key["api_key_id"], key["api_key"], creds.user_id)
            assert r.status_code == 200, r.text
            secrets["jwt of the new key"] = r.json()["id_token"]
            assert http.delete(f"/v1/{org}/organization/api_key/{key['api_key_id']}/", headers=bearer).status_code == 200

            r = http.post(f"/v1/{org}/webhook_destination/", headers=bearer,
                          json={"url": "https://example.com/hook", "accepted_types": ["conversation-post-processing-complete"]})
            assert r.status_code == 201, r.text
            destination = r.json()
            secrets["webhook secret"] = destination["secret"]
            r = http.post(f"/v1/{org}/webhook_destination/{destination['webhook_destination_id']}/rotate-secret",
                          headers=bearer)
            assert r.status_code == 200, r.text
            secrets["rotated webhook secret"] = r.json()["secret"]
            time.sleep(1.5)  # let the in-process worker pick up the post-processing jobs and log about them
        assert server.stop() is not None
        logs = server.logs()
    # the log really is verbose (SQL statements with their parameters and rows) and covers the whole session
    assert "DEBUG sqlalchemy.engine" in logs and "[generated in" in logs and "/interact" in logs and "rotate-secret" in logs
    leaked = sorted(name for name, value in secrets.items() if value and value in logs)
    assert not leaked, f"secrets in the server log: {leaked} (see {server.log_path})"
    assert "Bearer " not in logs and "Basic " not in logs, "an Authorization header value was logged"


def test_bad_tokens_and_dead_keys_are_refused(debug_server: ServeProcess):
    creds = debug_server.credentials
    org, user = creds.organization_id, creds.user_id
    url = f"/v1/{org}/organization/agent"
    now = int(time.time())
    good_claims = {"iss": "tertulia", "sub": user, "org": org, "iat": now, "exp": now + 600}
    with httpx.Client(base_url=debug_server.base_url, timeout=30) as http:
        r = _signin(http, debug_server, creds.api_key_id, creds.api_key, user)
        token = r.json()["id_token"]
        assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200

        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        tampered_payload = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "someone-else"}).encode()).rstrip(b"=").decode()
        unsigned = jwt.encode(good_claims, None, algorithm="none")
        bad = {
            "alg none": unsigned,
            "alg none, signature kept": unsigned.rstrip(".") + "." + signature,
            "tampered payload": f"{header}.{tampered_payload}.{signature}",
            "foreign issuer": jwt.encode({**good_claims, "iss": "amigo"}, JWT_SECRET, algorithm="HS256"),
            "no exp": jwt.encode({k: v for k, v in good_claims.items() if k != "exp"}, JWT_SECRET, algorithm="HS256"),
            "expired": jwt.encode({**good_claims, "exp": now - 5}, JWT_SECRET, algorithm="HS256"),
            "HS512 with the right secret": jwt.encode(good_claims, JWT_SECRET, algorithm="HS512"),
            "garbage": "not.a.jwt",
        }
        for name, forged in bad.items():
            r = http.get(url, headers={"Authorization": f"Bearer {forged}"})
            assert r.status_code == 401, (name, r.status_code, r.text)
        forged_basic = base64.b64encode(f"{org}_{user}:{bad['tampered payload']}".encode()).decode()
        assert http.get(url, headers={"Authorization": f"Basic {forged_basic}"}).status_code == 401
        assert http.get(url, headers={"Authorization": "Basic !!!not-base64"}).status_code == 401

        # an API key past its expires_at: no sign-in, and tokens minted from it stop working
        bearer = {"Authorization": f"Bearer {token}"}
        key = http.post(f"/v1/{org}/organization/api_key/", headers=bearer,
                        json={"name": "expiring", "duration": "P1D", "role_name": "DefaultSuperAdministratorRole"}).json()
        minted = _signin(http, debug_server, key["api_key_id"], key["api_key"], user).json()["id_token"]
        assert http.get(url, headers={"Authorization": f"Bearer {minted}"}).status_code == 200
        _expire_key(debug_server.database_url, key["api_key_id"])
        assert _signin(http, debug_server, key["api_key_id"], key["api_key"], user).status_code == 401
        assert http.get(url, headers={"Authorization": f"Bearer {minted}"}).status_code == 401

        # a revoked key over the real process (sign-in and its tokens, Bearer and Basic)
        key = http.post(f"/v1/{org}/organization/api_key/", headers=bearer,
                        json={"name": "revoked", "duration": "P1D", "role_name": "DefaultSuperAdministratorRole"}).json()
        minted = _signin(http, debug_server, key["api_key_id"], key["api_key"], user).json()["id_token"]
        assert http.delete(f"/v1/{org}/organization/api_key/{key['api_key_id']}/", headers=bearer).status_code == 200
        assert _signin(http, debug_server, key["api_key_id"], key["api_key"], user).status_code == 401
        assert http.get(url, headers={"Authorization": f"Bearer {minted}"}).status_code == 401
        as_basic = base64.b64encode(f"{org}_{user}:{minted}".encode()).decode()
        assert http.get(url, headers={"Authorization": f"Basic {as_basic}"}).status_code == 401
        # a right key id with a wrong secret, and a right secret under another key id
        assert _signin(http, debug_server, creds.api_key_id, creds.api_key[:-1] + "x", user).status_code == 401
        assert _signin(http, debug_server, key["api_key_id"], creds.api_key, user).status_code == 401
