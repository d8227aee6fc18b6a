"""The evaluation set installed and played through tertulia's public HTTP API (the same calls a client makes).

``Api.install_graph`` creates a context graph (its referenced graphs first, ids filled into ``references`` and the
``["ref.state", "jumpback"]`` targets), an agent and a service; ``Api.install_behaviors`` a dynamic behavior set per
behavior, applied to a service. ``Api.turn`` sends one user message (``create-conversation`` with ``initial_message``
for the first, ``interact-with-conversation`` after) and reads the interaction's insights.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

AGENT = {
    "initials": "EV",
    "identity": {
        "name": "Sam", "role": "Front-desk assistant", "developed_by": "Tertulia evaluation",
        "default_spoken_language": "eng",
        "relationship_to_developer": {
            "ownership": "Run by the operator of this server.", "type": "A conversational assistant.",
            "conversation_visibility": "The operator can read conversations.",
            "thought_visibility": "The operator can read inner thoughts.",
        },
    },
    "background": "Sam answers the phone and the chat for small businesses and routes each request.",
    "behaviors": ["Ask one question at a time."],
    "communication_patterns": ["Short, plain sentences."],
}


@dataclass
class TurnResult:
    conversation_id: str
    interaction_id: str
    insights: dict[str, Any]
    ms: float
    error: str | None = None


class Api:
    def __init__(self, base: str, org_id: str, headers: dict[str, str]) -> None:
        self.base, self.org = base, org_id
        self.client = httpx.Client(base_url=f"{base}/v1/{org_id}", headers=headers, timeout=3600)

    def _post(self, path: str, body: dict[str, Any], expect: int = 201) -> Any:
        r = self.client.post(path, json=body)
        if r.status_code != expect:
            raise RuntimeError(f"POST {path} answered {r.status_code}: {r.text[:500]}")
        return r.json() if r.content else None

    def agent(self, name: str) -> str:
        agent_id = self._post("/organization/agent", {"agent_name": name})["id"]
        self._post(f"/organization/agent/{agent_id}/", AGENT)
        return agent_id

    def graph(self, name: str, body: dict[str, Any], graph_ids: dict[str, str]) -> str:
        body = json.loads(json.dumps(body))
        refs = body.get("references") or {}
        body["references"] = {ref: [graph_ids[target], 1] for ref, target in refs.items()}
        graph_id = self._post("/organization/service_hierarchical_state_machine", {"state_machine_name": name})["id"]
        self._post(f"/organization/service_hierarchical_state_machine/{graph_id}/", body)
        return graph_id

    def service(self, name: str, agent_id: str, graph_id: str) -> str:
        body = {
            "service_hierarchical_state_machine_id": graph_id, "agent_id": agent_id, "name": name,
            "description": f"Evaluation service {name}.", "is_active": True, "keyterms": [], "tags": {},
            "release_version_set": {"agent_version_number": 1, "service_hierarchical_state_machine_version_number": 1,
                                    "llm_model_preferences": {}},
        }
        return self._post("/service/", body)["id"]

    def behavior(self, name: str, triggers: list[str], instruction: str, service_id: str) -> str:
        body = {
            "name": name, "tags": {}, "applied_to_services": [service_id],
            "initial_version": {"is_active": True, "conversation_triggers": triggers, "actions": [
                {"type": "inject-instruction", "instruction": instruction, "overrides_instructions": False}]},
        }
        return self._post("/dynamic_behavior_set/", body)["dynamic_behavior_set_id"]

    def turn(self, service_id: str, conversation_id: str | None, text: str) -> TurnResult:
        started = time.perf_counter()
        if conversation_id is None:
            r = self.client.post("/conversation/?response_format=text", json={
                "service_id": service_id, "initial_message": text, "initial_message_type": "user-message"})
        else:
            r = self.client.post(
                f"/conversation/{conversation_id}/interact?request_format=text&response_format=text",
                files=[("initial_message_type", (None, "user-message")),
                       ("recorded_message", ("message.txt", text.encode(), "text/plain; charset=utf-8"))])
        ms = (time.perf_counter() - started) * 1000
        events = [json.loads(line) for line in r.text.splitlines() if line.strip()] if r.status_code in (200, 201) else []
        cid = conversation_id or next((e["conversation_id"] for e in events if e.get("type") == "conversation-created"), "")
        done = next((e for e in events if e.get("type") == "interaction-complete"), None)
        if done is None:
            error = next((e.get("error_description") for e in events if e.get("type") == "error"), None)
            return TurnResult(cid, "", {}, ms, error or f"{r.status_code}: {r.text[:300]}")
        iid = done["interaction_id"]
        got = self.client.get(f"/conversation/{cid}/interaction/{iid}/insights")
        if got.status_code != 200:
            return TurnResult(cid, iid, {}, ms, f"insights {got.status_code}: {got.text[:300]}")
        return TurnResult(cid, iid, got.json(), ms)

    def finish(self, conversation_id: str) -> None:
        if conversation_id:
            self.client.post(f"/conversation/{conversation_id}/finish/")  # already finished (terminal state) is fine

    def close(self) -> None:
        self.client.close()
