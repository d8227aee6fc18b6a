"""``generate-user-models``: merge the user's memories into the global user model (L3), one entry per group of
the organization's user dimensions; ``insight_ids`` name the memories each entry rests on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tertulia.analysis.memories import describe_dimensions
from tertulia.engine.ports import ChatMessage, LLMRequest

INTERACTION = "GenerateUserModel"
GENERAL = {"description": "General understanding of the user", "tags": []}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "user_models": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "dimension_indexes": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                    "content": {"type": "string"},
                    "insight_ids": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["dimension_indexes", "content", "insight_ids"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["user_models"],
    "additionalProperties": False,
}

SYSTEM = """You maintain a model of one user: a concise synthesis of everything known about them, organised by the
dimensions below (refer to them by their 0-based index). Merge the CURRENT MODEL with the MEMORIES: keep what still
holds, update what changed, add what is new. For each entry list in insight_ids the ids of the memories it rests on.
Dimensions:
{dimensions}"""


@dataclass
class ModelEntry:
    content: str
    dimensions: list[dict[str, Any]]
    insight_ids: list[str] = field(default_factory=list)


async def generate_user_model(
    llm: Any, dimensions: list[Any], current: list[Any], memories: list[Any]
) -> list[ModelEntry]:
    """``current``: UserModelEntry rows; ``memories``: UserMemory rows (all of the user's)."""
    if llm is None:
        raise RuntimeError("no LLM is configured (runtime.llm is None)")
    dims = [d for d in dimensions or [] if isinstance(d, dict) and d.get("description")] or [GENERAL]
    numbered = "\n".join(f"{i}. {line[2:]}" for i, line in enumerate(describe_dimensions(dims).splitlines()))
    model_text = "\n".join(f"- {e.content}" for e in current) or "(empty)"
    memory_text = "\n".join(f"[{m.id}] {m.content}" + (f" ({m.context})" if m.context else "") for m in memories)
    request = LLMRequest(
        interaction=INTERACTION,
        messages=[
            ChatMessage("system", SYSTEM.format(dimensions=numbered)),
            ChatMessage("user", f"CURRENT MODEL:\n{model_text}\n\nMEMORIES:\n{memory_text or '(none)'}"),
        ],
    )
    answer = await llm.decide(request, SCHEMA, "user_model")
    known = {m.id for m in memories}
    entries: list[ModelEntry] = []
    for item in answer.get("user_models") or []:
        if not isinstance(item, dict) or not str(item.get("content") or "").strip():
            continue
        indexes = [i for i in item.get("dimension_indexes") or [] if isinstance(i, int) and 0 <= i < len(dims)]
        chosen = [dims[i] for i in dict.fromkeys(indexes)] or [dims[0]]
        insight_ids = [str(x) for x in dict.fromkeys(item.get("insight_ids") or []) if str(x) in known]
        entries.append(
            ModelEntry(
                content=str(item["content"]).strip()[:8192],
                dimensions=[{"description": d["description"], "tags": list(d.get("tags") or [])} for d in chosen],
                insight_ids=insight_ids,
            )
        )
    return entries
