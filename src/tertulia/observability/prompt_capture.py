"""Prompt-log capture: inside a turn that opened a ``PromptCapture`` (prompt logs enabled), every LLM call made
through the observed port (``observability.llm``) is recorded — the rendered messages and the raw output — in
call order. The turn service stores the records when the turn ends (``prompt_log.service.store``).

Nothing secret is kept: every value the capture was told is secret (the user's sensitive variables, the
deployment's API keys) is replaced by ``[redacted]``, and so is anything shaped like a credential (bearer tokens,
JWTs, ``sk-...`` keys, ``password=...``), before the record exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tertulia.core.clock import utcnow

REDACTED = "[redacted]"
_PATTERNS = (
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style API keys
    re.compile(r"(?i)\b(password|passwd|api[_-]?key|secret|token)(\s*[:=]\s*)\S+"),
)

_ACTIVE: ContextVar[PromptCapture | None] = ContextVar("tertulia_prompt_capture", default=None)


@dataclass
class PromptRecord:
    sequence: int
    interaction: str
    model: str
    messages: list[tuple[str, str]]  # (role, content), redacted
    output: str  # raw model output, redacted
    outcome: str  # ok | error | cancelled
    error: str | None
    duration: float
    created_at: datetime = field(default_factory=utcnow)


class PromptCapture:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # longest first, so a secret containing another is replaced whole; very short values would mangle text
        self.secrets = sorted({s for s in secrets if isinstance(s, str) and len(s) >= 4}, key=len, reverse=True)
        self.records: list[PromptRecord] = []

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            if pattern.groups >= 2:
                text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
            else:
                text = pattern.sub(REDACTED, text)
        return text

    def add(self, request: Any, model: str, output: str | None, duration: float, outcome: str,
            error: BaseException | None) -> None:
        self.records.append(PromptRecord(
            sequence=len(self.records) + 1,
            interaction=request.interaction,
            model=model,
            messages=[(m.role, self.redact(m.content)) for m in request.messages],
            output=self.redact(output or ""),
            outcome=outcome,
            error=self.redact(f"{type(error).__name__}: {error}") if error is not None else None,
            duration=duration,
        ))


def start(capture: PromptCapture) -> Token:
    return _ACTIVE.set(capture)


def stop(token: Token) -> None:
    try:
        _ACTIVE.reset(token)
    except ValueError:  # reset from another context (a generator closed elsewhere): just clear it here
        _ACTIVE.set(None)


def capture(request: Any, model: str, output: str | None, duration: float, outcome: str,
            error: BaseException | None) -> None:
    active = _ACTIVE.get()
    if active is not None:
        active.add(request, model, output, duration, outcome, error)
