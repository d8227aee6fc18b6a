"""The turn application's data and its one storage port, ``TurnStore``.

Everything here is plain data: the planning code (``planning.py``) and the pump (``pump.py``) never see a SQL
session. ``store_sql.SqlTurnStore`` is the adapter that reads and writes the database through each domain's
repository functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from tertulia.engine.contract import BehaviorVersion, GraphVersion, TurnOutcome, TurnRequest
from tertulia.engine.ports import MemoryRetriever


@dataclass
class PinnedVersions:
    """The exact agent / context-graph versions a conversation runs on (plus the currently active behaviors)."""

    agent: dict[str, Any]
    graph: GraphVersion
    referenced_graphs: dict[str, GraphVersion]
    llm_model_preferences: dict[str, dict[str, Any]]
    behaviors: list[BehaviorVersion]


@dataclass(frozen=True)
class ConversationView:
    """What the turn code knows about a conversation (a new one is not stored until the lease reserves it)."""

    org_id: str
    id: str
    user_id: str
    service_id: str
    created_at: datetime
    version_set_info: dict[str, Any]
    is_finished: bool = False
    is_test: bool = False
    tags: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] | None = None
    active_behavior: tuple[str, int] | None = None
    num_interactions: int = 0
    performed_queries: tuple[str, ...] = ()  # the memory recall queries already run in this conversation

    @property
    def attrs(self) -> dict[str, Any]:
        """The attributes permission conditions are checked against."""
        return {"user_id": self.user_id, "service_id": self.service_id}


class StoredMessage(NamedTuple):
    """One message of the transcript window (a turn reads up to ``planning.TURN_TRANSCRIPT`` of them: a tuple, cheap
    to build, where a frozen dataclass costs a ``__setattr__`` per field)."""

    id: str
    interaction_id: str
    message_type: str
    text: str
    created_at: datetime
    position: int


@dataclass(frozen=True)
class UserView:
    user_id: str
    display_name: str  # "first last", or the user id
    preferences: dict[str, Any]


@dataclass
class TurnInputs:
    """Everything a turn reads, loaded by ``TurnStore.load`` in a small fixed number of queries."""

    conversation: ConversationView
    versions: PinnedVersions
    transcript: list[StoredMessage] = field(default_factory=list)
    # interaction id -> how it started; only simulate and recommend read them (``TurnStore.load(replays=True)``)
    replays: dict[str, dict[str, Any]] = field(default_factory=dict)
    is_returning_user: bool = False
    user: UserView | None = None
    user_model: list[str] = field(default_factory=list)  # user model entries (oldest first) + additional context
    memories: MemoryRetriever | None = None  # the user's long-term memories, searched by the engine on demand

    @property
    def performed_queries(self) -> list[str]:
        return list(self.conversation.performed_queries)


@dataclass
class PendingMessage:
    """A user / external-event message of this turn (written with the outcome)."""

    id: str
    message_type: str  # user-message | external-event
    text: str
    created_at: datetime
    sender: str
    format: str = "text"
    audio_key: str | None = None
    audio_content_type: str | None = None


@dataclass
class TurnPlan:
    """A validated turn holding the conversation's lease; ``pump.pump`` runs it, ``TurnStore.save`` writes it."""

    org_id: str
    conversation_id: str
    user_id: str
    service_id: str
    interaction_id: str
    agent_message_id: str
    token: str  # the lease token
    is_opening: bool  # a create: releasing the lease removes the reserved conversation
    # None until the turn's inputs are loaded: an interact reads them after its stream has started (``pending``)
    request: TurnRequest | None
    agent_sender: str
    new_messages: list[PendingMessage] = field(default_factory=list)
    leading_events: list[dict[str, Any]] = field(default_factory=list)
    emit_actions: bool = False
    action_filter: re.Pattern[str] | None = None
    response_format: str = "text"
    audio_type: str = "pcm"  # voice replies: pcm (base64 PCM16) | audio/wav | audio/mpeg, from the Accept header
    agent_audio_key: str | None = None  # the spoken reply, kept for retrieve-message-source
    memories: MemoryRetriever | None = None  # the user's long-term memories (a port the engine searches)
    # The conversation as the lease found it (no turn completes while the lease is held), so ``save`` writes without
    # reading it again: its interaction count and state, and the position of its last message (-1: none).
    conversation: ConversationView | None = None
    last_position: int = -1
    # An interact's inputs still to load once the stream has started (the pinned versions are already loaded and
    # checked); ``service.load_pending`` reads them and fills ``request``, ``memories`` and ``last_position``.
    pending: PinnedVersions | None = None


class LeaseRenewal(Protocol):
    """Keeps a turn's lease alive while it streams (``start`` when the stream begins, ``stop`` in its cleanup)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class TurnStore(Protocol):
    """Where turns read their inputs and write their outcome.

    ``save`` writes the whole outcome in ONE transaction; the lease (``reserve``/``acquire``/``release``) is its
    own short transaction each time. Nothing else of a turn is ever written.
    """

    async def conversation(self, org_id: str, conversation_id: str) -> ConversationView | None: ...

    async def versions(self, conversation: ConversationView) -> PinnedVersions:
        """The pinned versions without the active behaviors (``load`` reads those)."""
        ...

    async def load(
        self, conversation: ConversationView, *, recent: int | None = None, versions: PinnedVersions | None = None,
        replays: bool = True,
    ) -> TurnInputs:
        """``recent``: only the last ``recent`` messages of the transcript (a turn's prompts see a window of it);
        ``versions``: already loaded by ``versions`` (the active behaviors are added); ``replays``: also how each
        interaction started (simulate, recommend)."""
        ...

    async def last_message_at(self, conversation: ConversationView) -> datetime | None: ...

    async def load_new(
        self, org_id: str, user_id: str, service_id: str, version_set_name: str, *, is_test: bool, tags: dict[str, Any]
    ) -> TurnInputs: ...

    async def speaker_hints(self, org_id: str, conversation_id: str) -> tuple[str | None, list[str]]: ...

    async def reserve(self, conversation: ConversationView) -> str | None: ...

    async def acquire(self, conversation: ConversationView) -> str | None: ...

    async def release(self, plan: TurnPlan) -> None: ...

    def renewal(self, plan: TurnPlan) -> LeaseRenewal: ...

    async def save(self, plan: TurnPlan, outcome: TurnOutcome) -> None: ...
