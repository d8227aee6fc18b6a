"""The engine's ports: everything the turn pipeline needs from the world. Adapters live in ``engine/adapters``;
fakes for tests in ``engine/fakes.py`` (like httpx transports: same interface, scripted behaviour)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass
class ChatMessage:
    role: str  # system | user | assistant
    content: str


@dataclass
class LLMResponseInfo:
    """What an adapter tells about the call it made, for traces, metrics and prompt logs (all optional: an adapter
    that knows nothing leaves it empty). ``raw_text`` is the model's output before any parsing."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None  # the provider's model name, when it differs from the requested one
    raw_text: str | None = None
    # with ``LLMRequest.top_logprobs``: each generated token (its UTF-8 bytes: a token may end inside a character), its
    # log-probability and the most likely alternatives at that point (bytes, logprob); None when the provider gave none
    logprobs: list[tuple[bytes, float, list[tuple[bytes, float]]]] | None = None


@dataclass
class LLMRequest:
    """One LLM call. ``interaction`` names it (EngageUser, SelectNextAction, ...) for model routing and logs.
    Adapters fill ``response`` (token usage, raw output) while they serve the call."""

    interaction: str
    messages: list[ChatMessage]
    model: str | None = None  # resolved from the version set's llm_model_preferences, else the default model
    params: dict[str, Any] = field(default_factory=dict)
    max_tokens: int | None = None
    top_logprobs: int = 0  # ask a decision's token log-probabilities (alternatives per token); 0: none
    response: LLMResponseInfo = field(default_factory=LLMResponseInfo)


class LLM(Protocol):
    async def stream_text(self, request: LLMRequest) -> AsyncIterator[str]:
        """Stream a free-text reply as fragments."""
        ...

    async def decide(self, request: LLMRequest, schema: dict[str, Any], schema_name: str) -> dict[str, Any]:
        """A structured decision constrained by a JSON schema (json_schema response format / grammar)."""
        ...

    # Optional: ``def record_timeout(self, request: LLMRequest) -> None``. Called when the engine gave up waiting for
    # a call (``Ports.call_timeout``): the call itself only sees a cancellation (observability counts the timeout).


class Embedder(Protocol):
    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-normalised embeddings, one per text."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass
class MemoryHit:
    id: str
    content: str
    context: str
    score: float = 0.0


class MemoryRetriever(Protocol):
    """The user's long-term memories (post-conversation extraction fills them)."""

    async def search(self, query: str, limit: int = 5) -> list[MemoryHit]: ...

    # Optional: ``async def has_any(self) -> bool``. When present and False the engine skips the active-memory LLM
    # call entirely (a user without memories costs nothing).


@dataclass
class ToolResult:
    succeeded: bool
    output: str
    duration: float
    version: str | None = None  # the concrete tool version that ran ("1.2.0"), when the runner knows it


@dataclass
class ToolInfo:
    """What a ``ToolRunner.describe`` (optional) tells about a tool: shown to the LLM when generating params."""

    tool_id: str
    name: str
    version: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})


class ToolRunner(Protocol):
    async def invoke(self, tool_id: str, version_constraint: str, params: dict[str, Any]) -> ToolResult: ...

    # Optional: ``async def describe(self, tool_id: str, version_constraint: str) -> ToolInfo | None`` (name, resolved
    # version, description, input JSON schema). Without it the engine uses the tool id as name, the constraint as version
    # and a free-form object schema for generated params.
