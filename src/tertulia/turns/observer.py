"""A turn, observed at the turn-service level (around the engine's event stream):

* ``interaction_id`` (with the org and conversation ids) bound to the log context for everything the engine does;
* ``tertulia_turn_first_event_seconds`` (engine start to its first event) and ``tertulia_turn_duration_seconds``
  (engine start to the turn's end, commit included) by service, ``tertulia_turns_total`` by service and outcome;
* one INFO line per turn with ids, outcome and timings only (never message text);
* prompt logs: when ``TERTULIA_PROMPT_LOG_RETENTION_DAYS`` > 0, a ``PromptCapture`` records every LLM call of the
  turn (redacting the user's sensitive variables and the server's own keys), stored in its own short transaction
  when the turn ends, whatever its outcome (a failed turn's prompts are the ones an operator needs).

The engine stays unaware: context is set only around each step of its generator (never across a ``yield``), so
the tasks it starts inherit it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextvars import Token
from typing import Any

from sqlalchemy import select

from tertulia.observability import context, metrics, prompt_capture
from tertulia.observability.settings import prompt_log_retention_days
from tertulia.prompt_log.service import store
from tertulia.user.models import User

log = logging.getLogger("tertulia.turns")


class TurnObserver:
    def __init__(self, runtime: Any, *, org_id: str, conversation_id: str, interaction_id: str, service_id: str,
                 user_id: str) -> None:
        self.runtime = runtime
        self.ids = {"org_id": org_id, "conversation_id": conversation_id, "interaction_id": interaction_id}
        self.service_id, self.user_id = service_id, user_id
        self.started = time.perf_counter()
        self.first_event: float | None = None
        self.capture: prompt_capture.PromptCapture | None = None
        self.done = False

    async def open(self) -> TurnObserver:
        """Start the clock and, with prompt logs on, the capture (it needs the user's sensitive variable values)."""
        self.started = time.perf_counter()
        if prompt_log_retention_days() > 0:
            self.capture = prompt_capture.PromptCapture(await self._secrets())
        return self

    async def _secrets(self) -> list[str]:
        settings = self.runtime.settings
        values = [settings.llm_api_key, self.runtime.jwt_secret]
        try:
            async with self.runtime.db.sessions() as session:
                sensitive = await session.scalar(select(User.sensitive_variables).where(
                    User.org_id == self.ids["org_id"], User.user_id == self.user_id))
        except Exception:  # noqa: BLE001 - without the list nothing is captured rather than something unredacted
            self.capture = None
            log.warning("prompt logs: the user's sensitive variables could not be read; this turn is not captured")
            return []
        values.extend(str(v) for v in (sensitive or {}).values())
        return [v for v in values if v]

    def events(self, source: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The engine's events with this turn's context set while each is computed. When that context is already the
        current one (the HTTP body's task sets the ids for its whole life) and no prompt is captured, ``source``
        itself: no layer of re-yielding for every event (2 % of an interact's instructions). The caller reports
        each event it gets with ``seen``."""
        if self.capture is None and all(var.get() == value for var, value in context.vars_for(self.ids)):
            return source
        return self._events(source)

    def seen(self) -> None:
        """An event came out of the engine (the first one's time is the first-event metric)."""
        if self.first_event is None:
            self.first_event = time.perf_counter() - self.started

    async def _events(self, source: AsyncIterator[Any]) -> AsyncIterator[Any]:
        try:
            while True:
                tokens = self._enter()
                try:
                    event = await source.__anext__()
                except StopAsyncIteration:
                    return
                finally:
                    self._leave(tokens)
                yield event
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                tokens = self._enter()
                try:
                    await close()
                finally:
                    self._leave(tokens)

    def _enter(self) -> tuple[list, Token | None]:
        # only the ids not already set (the HTTP body's task sets them once for the whole turn)
        ids = [(var, var.set(value)) for var, value in context.vars_for(self.ids) if var.get() != value]
        return ids, prompt_capture.start(self.capture) if self.capture is not None else None

    def _leave(self, tokens: tuple[list, Token | None]) -> None:
        ids, capture = tokens
        if capture is not None:
            prompt_capture.stop(capture)
        for var, token in reversed(ids):
            var.reset(token)

    async def finish(self, outcome: str) -> None:
        """Record the turn (``ok`` | ``error`` | ``cancelled``) and store its prompt logs. Idempotent."""
        if self.done:
            return
        self.done = True
        elapsed = time.perf_counter() - self.started
        metrics.labelled(metrics.TURNS, self.service_id, outcome).inc()
        metrics.labelled(metrics.TURN_DURATION, self.service_id).observe(elapsed)
        if self.first_event is not None:
            metrics.labelled(metrics.TURN_FIRST_EVENT, self.service_id).observe(self.first_event)
        with context.bound(**self.ids):
            log.info("turn %s: %s in %.3fs (first event %s)", outcome, self.ids["interaction_id"], elapsed,
                     f"{self.first_event:.3f}s" if self.first_event is not None else "none",
                     extra={"turn_outcome": outcome, "turn_seconds": round(elapsed, 4), "service_id": self.service_id})
            if self.capture is not None and self.capture.records:
                await self._store()

    async def _store(self) -> None:
        try:
            async with self.runtime.db.unit_of_work() as session:
                await store(session, self.ids["org_id"], self.ids["conversation_id"], self.ids["interaction_id"],
                            {"user_id": self.user_id, "service_id": self.service_id}, self.capture.records)
        except Exception:  # noqa: BLE001 - losing a prompt log never fails the turn
            log.warning("prompt logs of interaction %s could not be stored", self.ids["interaction_id"], exc_info=True)
