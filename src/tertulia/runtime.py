"""Process-wide runtime: configuration, database and the adapters behind each engine port.

One ``Runtime`` lives on ``app.state.runtime``; tests build one with fakes at the ports (scripted LLM, fake clock)
and a real database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tertulia.core.db import Database
from tertulia.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    jwt_secret: str
    limiter: Any = None  # tertulia.core.ratelimit.RateLimiter
    llm: Any = None  # tertulia.engine.ports.LLM
    embedder: Any = None  # tertulia.engine.ports.Embedder
    stt: Any = None  # speech-to-text port
    tts: Any = None  # text-to-speech port
    blobs: Any = None  # audio/object storage
    jobs: Any = None  # durable job queue
    tools: Any = None  # tertulia.engine.ports.ToolRunner
    extras: dict[str, Any] = field(default_factory=dict)
