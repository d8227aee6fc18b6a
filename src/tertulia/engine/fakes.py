"""Deterministic port implementations for tests and the ``fake`` provider (like httpx mock transports: same interface,
scripted behaviour). Nothing here touches the network or the clock.

``ScriptedLLM``: decisions default to the first valid option of the schema (first enum value, empty arrays, ...); text
replies default to a short deterministic sentence. Tests queue per-interaction answers::

    llm.script_decision("SelectNextAction", {"next": "exit 1"})
    llm.script_text("EngageUser", "Hello there")
    llm.fail("EngageUser", after_fragments=2)   # raise mid-stream
    llm.hang("SelectNextAction")                 # never answer (the engine's call_timeout fires)
    llm.slow("SelectNextActionForDecisionState", 0.3)  # every such call takes 0.3 s (voice fillers)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tertulia.engine.ports import LLMRequest, MemoryHit, ToolInfo, ToolResult

DEFAULT_REPLY = "Thanks for sharing that. Let's take the next step together."
DEFAULT_TEXTS = {
    "GenerateReflection": "The user is engaged; I should keep the conversation focused and supportive.",
}


class ScriptedFailure(RuntimeError):
    """What a scripted ``fail`` raises by default."""


@dataclass
class _Failure:
    exc: BaseException | None
    after_fragments: int
    hang: bool = False


class ScriptedLLM:
    def __init__(self, default_reply: str = DEFAULT_REPLY) -> None:
        self.default_reply = default_reply
        self.calls: Counter[str] = Counter()
        self.requests: list[LLMRequest] = []
        self.schemas: list[tuple[str, dict[str, Any]]] = []
        self._decisions: dict[str, deque[Any]] = defaultdict(deque)
        self._texts: dict[str, deque[str]] = defaultdict(deque)
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self.delay: float = 0.0  # seconds per call (to observe concurrency in tests)
        self.delays: dict[str, float] = {}  # extra seconds per call of one interaction (see ``slow``)
        # Unscripted decisions by json_schema name (else the schema's first valid value, see ``default_for_schema``).
        self.decision_defaults: dict[str, Callable[[LLMRequest, dict], Any]] = {}

    # -- scripting -----------------------------------------------------------------------------------------------
    def script_decision(self, interaction: str, value: dict[str, Any] | Callable[[LLMRequest, dict], dict]) -> None:
        self._decisions[interaction].append(value)

    def script_text(self, interaction: str, text: str) -> None:
        self._texts[interaction].append(text)

    def fail(self, interaction: str, exc: BaseException | None = None, after_fragments: int = 0) -> None:
        self._failures[interaction].append(_Failure(exc, after_fragments))

    def hang(self, interaction: str) -> None:
        self._failures[interaction].append(_Failure(None, 0, hang=True))

    def slow(self, interaction: str, seconds: float) -> None:
        self.delays[interaction] = seconds

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    # -- LLM port ------------------------------------------------------------------------------------------------
    async def stream_text(self, request: LLMRequest) -> AsyncIterator[str]:
        self._record(request)
        failure = self._next_failure(request.interaction)
        if self.delay or self.delays.get(request.interaction):
            await asyncio.sleep(self.delay + self.delays.get(request.interaction, 0.0))
        if failure and failure.hang:
            await asyncio.Event().wait()
        queue = self._texts[request.interaction]
        text = queue.popleft() if queue else DEFAULT_TEXTS.get(request.interaction, self.default_reply)
        sent: list[str] = []
        for index, piece in enumerate(re.findall(r"\S+\s*", text) or [text]):
            if failure and index >= failure.after_fragments:
                raise failure.exc or ScriptedFailure(f"scripted failure in {request.interaction}")
            sent.append(piece)
            request.response.output_tokens, request.response.raw_text = len(sent), "".join(sent)
            yield piece
            await asyncio.sleep(0)
        if failure:
            raise failure.exc or ScriptedFailure(f"scripted failure in {request.interaction}")

    async def decide(self, request: LLMRequest, schema: dict[str, Any], schema_name: str) -> dict[str, Any]:
        self._record(request)
        self.schemas.append((schema_name, schema))
        failure = self._next_failure(request.interaction)
        if self.delay or self.delays.get(request.interaction):
            await asyncio.sleep(self.delay + self.delays.get(request.interaction, 0.0))
        if failure:
            if failure.hang:
                await asyncio.Event().wait()
            raise failure.exc or ScriptedFailure(f"scripted failure in {request.interaction}")
        queue = self._decisions[request.interaction]
        if queue:
            value = queue.popleft()
            value = value(request, schema) if callable(value) else value
        elif schema_name in self.decision_defaults:
            value = self.decision_defaults[schema_name](request, schema)
        else:
            value = default_for_schema(schema, schema_name)
        raw = json.dumps(value, sort_keys=True, default=str)
        request.response.output_tokens, request.response.raw_text = len(raw.split()), raw
        return value

    def _record(self, request: LLMRequest) -> None:
        """Counts the call; "tokens" are whitespace-separated words (deterministic figures for usage metrics)."""
        self.calls[request.interaction] += 1
        self.requests.append(request)
        request.response.input_tokens = sum(len(m.content.split()) for m in request.messages)

    def _next_failure(self, interaction: str) -> _Failure | None:
        queue = self._failures[interaction]
        return queue.popleft() if queue else None


_CANDIDATE = re.compile(r"^- (behavior \d+): (.+)$", re.M)


def behavior_said_word_for_word(request: LLMRequest, schema: dict[str, Any]) -> dict[str, Any]:
    """The ``fake`` provider's behavior confirmation (serve-mode demos and end-to-end tests, which cannot script a
    server's LLM): a candidate is confirmed when the user's latest message contains one of its triggers word for word;
    otherwise the schema's first value (``none``). Reads the one-pick prompt of ``engine/dbs.py``."""
    value = default_for_schema(schema, "select_dynamic_behavior")
    body = request.messages[-1].content if request.messages else ""
    head, _, rest = body.partition("## Conversation so far\n")
    said = [line[len("User: "):] for line in rest.split("\n\n", 1)[0].splitlines() if line.startswith("User: ")]
    latest = said[-1].lower() if said else ""
    options = schema.get("properties", {}).get("behavior", {}).get("enum", [])
    for label, text in _CANDIDATE.findall(head):
        first, _, also = text.partition(" (also: ")
        triggers = [first.replace(" (currently active)", ""), *also.rstrip(")").split("; ")] if also else [first]
        if label in options and any(t.strip().rstrip(".").lower() in latest for t in triggers if t.strip()):
            return {**value, "behavior": label}
    return value


def default_for_schema(schema: dict[str, Any], name: str = "value") -> Any:
    """The first valid value of a JSON schema: first enum/const, first anyOf branch, minimal arrays, zero numbers."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            branches = [b for b in schema[key] if b.get("type") != "null"] or schema[key]
            return default_for_schema(branches[0], name)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        return {k: default_for_schema(v, k) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        count = int(schema.get("minItems", 0))
        return [default_for_schema(schema.get("items") or {"type": "string"}, f"{name} {i + 1}") for i in range(count)]
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "null":
        return None
    return str(schema.get("default", name))


class FakeEmbedder:
    """Hashing bag-of-words vectors (unit-normalised): texts sharing words score higher. Deterministic across runs."""

    def __init__(self, dimensions: int = 512) -> None:
        self.dimensions = dimensions
        self.calls = 0
        self.texts_embedded = 0

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        self.texts_embedded += len(texts)
        return [self._vector(t) for t in texts]

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dimensions
        for token in _tokens(text):
            digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "big") % self.dimensions
            vec[slot] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec))
        return [v / norm for v in vec] if norm else vec


_STOP = frozenset("a an the and or to of in on for is are was i you me my it be do with that this at".split())


def _tokens(text: str) -> list[str]:
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP]
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words]


class FixedClock:
    def __init__(self, now: datetime | None = None) -> None:
        self._now = now or datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self._now += timedelta(seconds=seconds)


class EmptyMemories:
    async def search(self, query: str, limit: int = 5) -> list[MemoryHit]:
        return []

    async def has_any(self) -> bool:
        return False


class ListMemories:
    """A user's memories held in a list; search ranks them by shared words with the query."""

    def __init__(self, memories: Sequence[MemoryHit | tuple[str, str]]) -> None:
        self.memories = [
            m if isinstance(m, MemoryHit) else MemoryHit(id=f"m{i}", content=m[0], context=m[1])
            for i, m in enumerate(memories)
        ]
        self.queries: list[str] = []

    async def has_any(self) -> bool:
        return bool(self.memories)

    async def search(self, query: str, limit: int = 5) -> list[MemoryHit]:
        self.queries.append(query)
        wanted = set(_tokens(query))
        scored = []
        for m in self.memories:
            overlap = len(wanted & set(_tokens(m.content + " " + m.context)))
            if overlap:
                scored.append(MemoryHit(m.id, m.content, m.context, score=overlap / max(len(wanted), 1)))
        scored.sort(key=lambda h: -h.score)
        return scored[:limit]


@dataclass
class FakeTools:
    """Tools answered by scripted outputs or callables; records every invocation."""

    outputs: dict[str, str | Callable[[dict[str, Any]], str]] = field(default_factory=dict)
    infos: dict[str, ToolInfo] = field(default_factory=dict)
    invocations: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    delays: dict[str, float] = field(default_factory=dict)  # seconds an invocation of a tool takes

    def add(self, tool_id: str, output: str | Callable[[dict[str, Any]], str], *, name: str | None = None,
            version: str = "1.0.0", input_schema: dict[str, Any] | None = None, description: str = "") -> None:
        self.outputs[tool_id] = output
        self.infos[tool_id] = ToolInfo(tool_id, name or tool_id, version, description,
                                       input_schema or {"type": "object"})

    async def describe(self, tool_id: str, version_constraint: str) -> ToolInfo | None:
        return self.infos.get(tool_id)

    async def invoke(self, tool_id: str, version_constraint: str, params: dict[str, Any]) -> ToolResult:
        self.invocations.append((tool_id, version_constraint, params))
        if self.delays.get(tool_id):
            await asyncio.sleep(self.delays[tool_id])
        version = self.infos[tool_id].version if tool_id in self.infos else None
        if tool_id in self.failing or tool_id not in self.outputs:
            return ToolResult(succeeded=False, output=f"Tool {tool_id} failed.", duration=0.001, version=version)
        out = self.outputs[tool_id]
        return ToolResult(succeeded=True, output=out(params) if callable(out) else out, duration=0.001, version=version)
