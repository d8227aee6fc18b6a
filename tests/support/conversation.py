"""Conversation test support: a ready service (agent + context graph + service, created over HTTP), NDJSON reading,
and a raw ASGI driver that can walk away from a stream mid-way (httpx's ASGITransport buffers whole responses)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.orgs import Tenant

GRAPHS = "/organization/service_hierarchical_state_machine"

AGENT_VERSION = {
    "initials": "AV",
    "identity": {
        "name": "Ava",
        "role": "Coach",
        "developed_by": "Tertulia",
        "default_spoken_language": "eng",
        "relationship_to_developer": {
            "ownership": "Tertulia",
            "type": "assistant",
            "conversation_visibility": "visible",
            "thought_visibility": "visible",
        },
    },
    "background": "A patient coach.",
    "behaviors": ["Listen first."],
    "communication_patterns": ["Short sentences."],
}


def _action(name: str, actions: list[str], exits: list[dict]) -> dict:
    return {
        "type": "action",
        "name": name,
        "objective": f"Objective of {name}.",
        "actions": actions,
        "intra_state_navigation_guidelines": [],
        "action_guidelines": [],
        "boundary_constraints": [],
        "exit_conditions": exits,
        "action_tool_call_specs": [],
        "exit_condition_tool_call_specs": [],
        "skip_active_memory_retrieval": True,
    }


# "chat" loops until SelectNextAction picks "exit 1", which lands on the terminal state "bye".
GRAPH_VERSION = {
    "description": "A chat that ends when the user is done.",
    "states": [
        _action("chat", ["Chat with the user."], [{"description": "The user wants to stop.", "next_state": "bye"}]),
        _action("bye", ["Say goodbye."], []),
    ],
    "new_user_initial_state": "chat",
    "returning_user_initial_state": "chat",
    "terminal_state": "bye",
    "references": {},
    "global_intra_state_navigation_guidelines": [],
    "global_action_guidelines": [],
    "global_boundary_constraints": [],
}


@dataclass
class ReadyService:
    service_id: str
    agent_id: str
    graph_id: str


async def make_service(client: httpx.AsyncClient, tenant: Tenant, name: str = "Chat") -> ReadyService:
    h = tenant.headers
    r = await client.post(tenant.url("/organization/agent"), json={"agent_name": f"{name} agent"}, headers=h)
    assert r.status_code == 201, r.text
    agent_id = r.json()["id"]
    r = await client.post(tenant.url(f"/organization/agent/{agent_id}/"), json=AGENT_VERSION, headers=h)
    assert r.status_code == 201, r.text
    r = await client.post(tenant.url(GRAPHS), json={"state_machine_name": f"{name} graph"}, headers=h)
    assert r.status_code == 201, r.text
    graph_id = r.json()["id"]
    r = await client.post(tenant.url(f"{GRAPHS}/{graph_id}/"), json=GRAPH_VERSION, headers=h)
    assert r.status_code == 201, r.text
    body = {
        "service_hierarchical_state_machine_id": graph_id,
        "agent_id": agent_id,
        "name": name,
        "description": "Chats.",
        "is_active": True,
        "keyterms": [],
        "tags": {},
    }
    r = await client.post(tenant.url("/service/"), json=body, headers=h)
    assert r.status_code == 201, r.text
    return ReadyService(r.json()["id"], agent_id, graph_id)


def events_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"].startswith("application/x-ndjson"), response.headers
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def types_of(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


async def create(client, tenant: Tenant, service_id: str, query: str = "response_format=text", headers=None, **body):
    payload = {"service_id": service_id, **body}
    return await client.post(tenant.url(f"/conversation/?{query}"), json=payload, headers=headers or tenant.headers)


async def start(client, tenant: Tenant, service_id: str, **body) -> tuple[str, list[dict[str, Any]]]:
    r = await create(client, tenant, service_id, **body)
    assert r.status_code == 201, r.text
    events = events_of(r)
    assert events[-1]["type"] == "interaction-complete", events
    return events[0]["conversation_id"], events


async def interact(client, tenant: Tenant, conversation_id: str, text: str = "Hello", *, kind: str = "user-message",
                   externals: list[tuple[str, str]] = (), query: str = "request_format=text&response_format=text",
                   headers=None) -> httpx.Response:
    files: list[tuple[str, tuple]] = [("initial_message_type", (None, kind))]
    files += [("external_event_message_content", (None, c)) for c, _ in externals]
    files += [("external_event_message_timestamp", (None, t)) for _, t in externals]
    files.append(("recorded_message", ("message.txt", text.encode(), "text/plain; charset=utf-8")))
    return await client.post(tenant.url(f"/conversation/{conversation_id}/interact?{query}"), files=files,
                             headers=headers or tenant.headers)


@dataclass
class RawStream:
    """A request driven straight through the ASGI app, readable chunk by chunk, abandonable at any point."""

    status: int | None = None
    chunks: list[bytes] = field(default_factory=list)
    task: asyncio.Task | None = None
    _disconnect: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Queue = field(default_factory=asyncio.Queue)

    async def next_event(self, timeout: float = 10) -> dict[str, Any]:
        buffer = b"".join(self.chunks)
        while b"\n" not in buffer:
            self.chunks.append(await asyncio.wait_for(self._arrived.get(), timeout))
            buffer = b"".join(self.chunks)
        line, rest = buffer.split(b"\n", 1)
        self.chunks = [rest] if rest else []
        return json.loads(line)

    async def disconnect(self) -> None:
        """The client goes away: the server sees ``http.disconnect`` and the request task ends."""
        self._disconnect.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)


async def open_stream(app, method: str, url: str, headers: dict[str, str], body: bytes) -> RawStream:
    stream = RawStream()
    raw_path, _, query = url.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": raw_path, "raw_path": raw_path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234), "server": ("tertulia.test", 80),
    }
    sent = False
    started = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await stream._disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            stream.status = message["status"]
            started.set()
        elif message["type"] == "http.response.body" and message.get("body"):
            await stream._arrived.put(message["body"])

    stream.task = asyncio.create_task(app(scope, receive, send))
    await asyncio.wait_for(started.wait(), 10)
    return stream
