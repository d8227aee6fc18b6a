"""The calls ``tertulia chat`` makes, through the public Classic Amigo API only (plain httpx, so error bodies are
read even on streamed calls): sign in with an API key, find the service, start / resume / finish a conversation,
interact (NDJSON events as they arrive), interaction insights, behavior set names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


class ChatError(Exception):
    """A refused call, with the server's own ``detail``."""


@dataclass(frozen=True)
class Credentials:
    organization_id: str
    user_id: str
    api_key_id: str
    api_key: str


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else body
    return detail if isinstance(detail, str) else json.dumps(detail)[:300]


class ChatApi:
    def __init__(self, base_url: str, credentials: Credentials, timeout: float = 600.0) -> None:
        self.credentials = credentials
        self.org = credentials.organization_id
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout, connect=10.0))
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    def _url(self, path: str) -> str:
        return f"/v1/{self.org}{path}"

    def sign_in(self) -> None:
        c = self.credentials
        response = self.http.post(self._url("/user/signin_with_api_key"), headers={
            "x-api-key": c.api_key, "x-api-key-id": c.api_key_id, "x-user-id": c.user_id})
        if response.status_code != 200:
            raise ChatError(f"Sign-in refused ({response.status_code}): {_detail(response)}")
        self._token = response.json()["id_token"]

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            self.sign_in()
        return {"Authorization": f"Bearer {self._token}"}

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, self._url(path), headers=self._headers(), **kwargs)
        if response.status_code == 401:  # the id token expired: sign in again once
            self._token = None
            response = self.http.request(method, self._url(path), headers=self._headers(), **kwargs)
        if response.status_code >= 400:
            raise ChatError(f"{method} {path} refused ({response.status_code}): {_detail(response)}")
        return response

    def _stream(self, path: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        with self.http.stream("POST", self._url(path), headers=self._headers(), **kwargs) as response:
            if response.status_code >= 400:
                response.read()
                raise ChatError(_detail(response))
            for line in response.iter_lines():
                if line.strip():
                    yield json.loads(line)

    def find_service(self, wanted: str | None) -> dict[str, Any]:
        """By id or name; without one, the demo service (tag ``demo:true``)."""
        services = self._call("GET", "/service/", params={"is_active": "true", "limit": 20,
                                                          **({} if wanted else {"tags": "demo:true"})}).json()
        for service in services["services"]:
            if wanted is None or wanted in (service["id"], service["name"]):
                return service
        if wanted is None:
            raise ChatError("No demo service in this organization: pass --service ID or NAME.")
        raise ChatError(f"No active service with id or name {wanted!r} (among the first 20).")

    def agent_name(self, agent_id: str) -> str:
        try:
            versions = self._call("GET", f"/organization/agent/{agent_id}/version", params={"version": "latest"}).json()
            return versions["agent_versions"][0]["identity"]["name"]
        except (ChatError, KeyError, IndexError):
            return "Agent"

    def behavior_names(self) -> dict[str, str]:
        try:
            sets = self._call("GET", "/dynamic_behavior_set/", params={"limit": 50}).json()
        except ChatError:
            return {}
        return {s["id"]: s["name"] for s in sets.get("dynamic_behavior_sets", [])}

    def unfinished_conversation(self, service_id: str) -> str | None:
        found = self._call("GET", "/conversation/", params={
            "service_id": service_id, "user_id": self.credentials.user_id, "is_finished": "false", "limit": 1}).json()
        return found["conversations"][0]["id"] if found["conversations"] else None

    def start(self, service_id: str) -> Iterator[dict[str, Any]]:
        return self._stream("/conversation/", params={"response_format": "text"},
                            json={"service_id": service_id, "service_version_set_name": "release"})

    def interact(self, conversation_id: str, text: str) -> Iterator[dict[str, Any]]:
        return self._stream(f"/conversation/{conversation_id}/interact",
                            params={"request_format": "text", "response_format": "text"},
                            files=[("initial_message_type", (None, "user-message")),
                                   ("recorded_message", (None, text))])

    def finish(self, conversation_id: str) -> None:
        self._call("POST", f"/conversation/{conversation_id}/finish/")

    def last_messages(self, conversation_id: str, limit: int = 6) -> list[dict[str, Any]]:
        page = self._call("GET", f"/conversation/{conversation_id}/messages/",
                          params={"limit": limit, "sort_by": "-created_at"}).json()
        return list(reversed(page["messages"]))

    def insights(self, conversation_id: str, interaction_id: str) -> dict[str, Any]:
        return self._call("GET", f"/conversation/{conversation_id}/interaction/{interaction_id}/insights").json()
