"""The LLM judge: one metric version applied to one transcript, constrained by a JSON schema built from the
metric's value type. Shared by post-session ``compute-metrics`` and the synchronous ``evaluate-metrics``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tertulia.conversation.transcript import Transcript
from tertulia.engine.ports import ChatMessage, LLMRequest

INTERACTION = "EvaluateMetric"

SYSTEM = """You are an impartial evaluator of a conversation between a user and an AI agent.
Measure exactly one metric, following its description. Cite as references the ids (the bracketed values) of the
messages that are your evidence. If the metric does not apply to this conversation, answer value null.
Metric name: {name}
Metric description: {description}
Value type: {value_help}
{notes}"""


# Bounded so that a small model's answer always fits in MAX_TOKENS as complete JSON (an unbounded justification
# was cut off mid-string by the embedded model's token limit).
MAX_JUSTIFICATION_CHARS = 600
MAX_REFERENCES = 10
MAX_TOKENS = 400


@dataclass
class Judgement:
    value: Any
    references: list[str] = field(default_factory=list)
    justification: str = ""


def value_schema(metric_value: dict[str, Any]) -> tuple[dict[str, Any], str]:
    kind = metric_value.get("type")
    if kind == "numerical":
        low, high = metric_value["lower_bound"], metric_value["upper_bound"]
        return {"type": "number", "minimum": low, "maximum": high}, f"a number from {low} to {high}"
    if kind == "categorical":
        categories = list(metric_value.get("categories") or [])
        return {"type": "string", "enum": categories}, "one of: " + ", ".join(categories)
    return {"type": "boolean"}, "true or false"


def judge_schema(metric_value: dict[str, Any]) -> dict[str, Any]:
    value, _ = value_schema(metric_value)
    return {
        "type": "object",
        "properties": {
            "justification": {"type": "string", "maxLength": MAX_JUSTIFICATION_CHARS},
            "references": {"type": "array", "items": {"type": "string", "maxLength": 32}, "maxItems": MAX_REFERENCES},
            "value": {"anyOf": [value, {"type": "null"}]},
        },
        "required": ["justification", "references", "value"],
        "additionalProperties": False,
    }


def coerce_value(metric_value: dict[str, Any], raw: Any) -> Any:
    """The judged value within the metric's domain, or None (not applicable / unusable)."""
    kind = metric_value.get("type")
    if raw is None:
        return None
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        return None
    if kind == "numerical":
        try:
            number = float(raw)
        except (TypeError, ValueError):
            return None
        if math.isnan(number):
            return None
        number = min(max(number, float(metric_value["lower_bound"])), float(metric_value["upper_bound"]))
        return int(number) if number.is_integer() else number
    categories = list(metric_value.get("categories") or [])
    if isinstance(raw, str):
        for category in categories:
            if raw.strip().lower() == category.lower():
                return category
    return None


async def judge(
    llm: Any, *, name: str, description: str, metric_value: dict[str, Any], notes: str | None, transcript: Transcript
) -> Judgement:
    if llm is None:
        raise RuntimeError("no LLM is configured (runtime.llm is None)")
    _, value_help = value_schema(metric_value)
    system = SYSTEM.format(
        name=name, description=description, value_help=value_help, notes=f"Additional notes: {notes}" if notes else ""
    )
    request = LLMRequest(
        interaction=INTERACTION,
        messages=[ChatMessage("system", system.strip()), ChatMessage("user", "Conversation:\n" + transcript.render())],
        max_tokens=MAX_TOKENS,
    )
    answer = await llm.decide(request, judge_schema(metric_value), "metric_evaluation")
    return Judgement(
        value=coerce_value(metric_value, answer.get("value")),
        references=transcript.keep_references(answer.get("references")),
        justification=str(answer.get("justification") or ""),
    )
