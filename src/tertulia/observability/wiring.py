"""Attach observability to a ``Runtime`` (the last attacher of ``tertulia.wiring.build_runtime``): the LLM port is
wrapped (spans, metrics, prompt-log capture), the database engine traced when tracing is on, and the start-up
summary logged once every other port is attached."""

from __future__ import annotations

from typing import Any

from tertulia.observability import tracing
from tertulia.observability.llm import instrument_llm
from tertulia.observability.summary import log_summary


async def attach(runtime: Any) -> None:
    tracing.setup_tracing()
    runtime.llm = instrument_llm(runtime.llm)
    tracing.instrument_engine(runtime.db.engine)
    log_summary(runtime)
