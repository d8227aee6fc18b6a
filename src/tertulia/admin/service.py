"""Which ``llm_name``s a version set's ``llm_model_preferences`` may use on this server, and their params.

A name is a routing key: the SDK's ``LLMType`` values (it can send only those) and every name the operator mapped in
``TERTULIA_LLM_MODEL_MAP`` are accepted; each reaches the configured provider (an unmapped name is sent as the model
name itself, or through the map's ``"*"`` entry). ``params`` are the sampling parameters the adapters forward.
"""

from __future__ import annotations

from typing import Any

from tertulia.admin.schemas import GetModelsResponse, Model
from tertulia.runtime import Runtime

SDK_LLM_TYPES = (
    "openai_gpt-5.2-2025-12-11",
    "openai_gpt-5.4-nano-2026-03-17",
    "openai_gpt-5.4-mini-2026-03-17",
    "openai_gpt-5.5-2026-04-23",
    "openai_gpt-5.6-sol",
    "openai_gpt-5.6-terra",
    "openai_gpt-5.6-luna",
    "openai_gpt-6-luna",
    "openai_decisions_gpt-6-luna",
    "google_gemini-3.5-flash",
    "google_gemini-3.5-flash-lite",
)

PARAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
        "seed": {"type": "integer"},
        "stop": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 4}]},
        "reasoning_effort": {"type": "string", "enum": ["minimal", "low", "medium", "high"]},
    },
}


def get_models(runtime: Runtime) -> GetModelsResponse:
    from tertulia.engine.wiring import model_map

    names = list(SDK_LLM_TYPES)
    for name in [*model_map(), runtime.settings.llm_model]:
        if name != "*" and name not in names:
            names.append(name)
    return GetModelsResponse(models=[Model(name=n, params_model_schema=PARAMS_SCHEMA) for n in names])
