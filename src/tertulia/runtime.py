"""Process-wide runtime: configuration, database and the adapter behind each port.

One ``Runtime`` lives on ``app.state.runtime``; tests build one with fakes at the ports (scripted LLM, fake clock)
and a real database. Every port is typed by its Protocol; port packages attach their adapters in
``tertulia/<pkg>/wiring.py::attach(runtime)`` and register what must be closed in ``closers``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tertulia.core.db import Database
from tertulia.core.ratelimit import Limiter
from tertulia.engine.ports import LLM, Embedder, ToolRunner
from tertulia.jobs.port import JobQueue, JobWorker
from tertulia.jobs.settings import JobSettings
from tertulia.settings import Settings
from tertulia.speech.context import SpeechContext
from tertulia.speech.ports import BlobStore, SpeechToText, TextToSpeech

Closer = Callable[[], Awaitable[None]]


@dataclass
class Runtime:
    settings: Settings
    db: Database
    jwt_secret: str
    limiter: Limiter | None = None
    llm: LLM | None = None
    embedder: Embedder | None = None
    stt: SpeechToText | None = None
    tts: TextToSpeech | None = None
    blobs: BlobStore | None = None  # audio / object storage
    jobs: JobQueue | None = None  # the durable job queue
    tools: ToolRunner | None = None
    speech: SpeechContext | None = None  # speech settings and the blob URL signer (``speech/wiring.py``)
    job_settings: JobSettings | None = None
    worker: JobWorker | None = None  # the in-process job worker, when one runs
    worker_task: asyncio.Task[None] | None = None  # /readyz: the worker is alive while this task runs
    llm_warm_up: asyncio.Task[None] | None = None  # loading the embedded model in the background, when one is used
    closers: list[Closer] = field(default_factory=list)  # awaited by ``wiring.close_runtime``, in order
