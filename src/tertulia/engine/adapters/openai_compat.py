"""OpenAI-compatible adapter (OpenAI, vLLM, llama.cpp server, Ollama, LM Studio, ...) over one pooled HTTP client per
adapter (``openai_http.py``: keep-alive connections shared by every turn, orjson, retries).

* Replies: streaming chat completions.
* Decisions: ``response_format={"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``; ``strict`` is
  set only when the schema satisfies OpenAI's strict subset (objects closed, every property required), which all the
  engine's own schemas do; arbitrary tool input schemas go non-strict.
* Model names: ``LLMRequest.model`` is an Amigo ``llm_name`` (from the version set's ``llm_model_preferences``) or the
  operator's default model. ``TERTULIA_LLM_MODEL_MAP`` (JSON object) translates names; its ``"*"`` entry catches every
  unmapped name. Without a map, names are sent as they are.
* Only well-known sampling params are forwarded from ``LLMConfig.params``.
* Timeouts → ``EngineError(504)``; other API errors → ``EngineError(502)`` with the provider's message.
* Request bodies keep a stable order (model, messages, then options), so consecutive calls of one kind share a long
  prefix that a provider's prompt cache can reuse (``benchmarks/load.py`` reports the share).
* Usage: token counts (``usage``; streamed replies ask ``stream_options.include_usage``, dropped for good after a
  provider refuses it with a 400/422) and the raw output are put in ``LLMRequest.response``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from tertulia.engine.adapters.openai_http import OpenAIHttp, ProviderStatusError, translate
from tertulia.engine.adapters.schema_text import plain_texts, restore
from tertulia.engine.contract import EngineError
from tertulia.engine.ports import LLMRequest

FORWARDED_PARAMS = {
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty", "seed",
    "stop", "reasoning_effort",
}


def strict_compatible(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        if schema.get("additionalProperties", True) is not False or set(schema.get("required") or []) != set(props):
            return False
        if not props:
            return False
        return all(strict_compatible(v) for v in props.values())
    if schema.get("type") == "array":
        return strict_compatible(schema.get("items") or {})
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return all(strict_compatible(b) for b in schema[key])
    return True


class OpenAICompatLLM:
    def __init__(self, base_url: str | None, api_key: str | None, default_model: str, timeout: float = 120.0,
                 model_map: dict[str, str] | None = None, max_retries: int = 1,
                 decision_temperature: float | None = None) -> None:
        """``decision_temperature``: sent with every decision that does not set its own ``temperature`` (the wiring
        sends 0 to self-hosted servers, whose default is often 0.8; hosted models keep their provider's default,
        since some accept only that)."""
        self.http = OpenAIHttp(base_url, api_key, timeout, max_retries)
        self.decision_temperature = decision_temperature
        self.default_model = default_model
        self.model_map = dict(model_map or {})
        self.stream_usage = True  # ask for the usage chunk until the provider says it does not know the option
        self.logprobs = True  # send a decision's ``top_logprobs`` until the provider refuses them

    def model_for(self, requested: str | None) -> str:
        name = requested or self.default_model
        if name in self.model_map:
            return self.model_map[name]
        if "*" in self.model_map:
            return self.model_map["*"]
        if name == "default":
            return self.default_model
        return name

    def _kwargs(self, request: LLMRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model_for(request.model),
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        kwargs.update({k: v for k, v in (request.params or {}).items() if k in FORWARDED_PARAMS})
        if request.max_tokens and "max_tokens" not in kwargs and "max_completion_tokens" not in kwargs:
            kwargs["max_tokens"] = request.max_tokens
        return kwargs

    async def stream_text(self, request: LLMRequest) -> AsyncIterator[str]:
        parts: list[str] = []
        body = {**self._kwargs(request), "stream": True}
        try:
            while True:
                asked = self.stream_usage
                try:
                    events = self.http.stream_events(
                        "/chat/completions", {**body, "stream_options": {"include_usage": True}} if asked else body
                    )
                    async for batch in events:  # the events of one network read: their text as one piece
                        texts = []
                        for chunk in batch:
                            _record_usage(request, chunk)
                            for choice in chunk.get("choices") or ():
                                text = (choice.get("delta") or {}).get("content")
                                if text:
                                    texts.append(text)
                        if texts:
                            piece = "".join(texts)
                            parts.append(piece)
                            yield piece
                    return
                except ProviderStatusError as exc:
                    if not (asked and not parts and _refuses_option(exc)):
                        raise
                    self.stream_usage = False  # an older server: retried once without the option, never asked again
        except EngineError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise translate(exc, request.interaction) from exc
        finally:
            request.response.raw_text = "".join(parts)

    async def decide(self, request: LLMRequest, schema: dict[str, Any], schema_name: str) -> dict[str, Any]:
        schema, back = plain_texts(schema)  # an author's quote in an option must not break the server's grammar
        fmt = {"type": "json_schema", "json_schema": {"name": schema_name, "schema": schema,
                                                      "strict": strict_compatible(schema)}}
        body = {**self._kwargs(request), "response_format": fmt}
        if self.decision_temperature is not None:
            body.setdefault("temperature", self.decision_temperature)
        try:
            while True:
                asked = bool(request.top_logprobs and self.logprobs)
                try:
                    response = await self.http.post_json(
                        "/chat/completions",
                        {**body, "logprobs": True, "top_logprobs": request.top_logprobs} if asked else body)
                    break
                except ProviderStatusError as exc:
                    if not (asked and _refuses_option(exc)):
                        raise
                    self.logprobs = False  # a provider without log-probabilities: asked once, never again
        except Exception as exc:  # noqa: BLE001
            raise translate(exc, request.interaction) from exc
        choices = response.get("choices") if isinstance(response, dict) else None
        content = ((choices[0].get("message") or {}).get("content") or "") if choices else ""
        if isinstance(response, dict):
            _record_usage(request, response)
        request.response.raw_text = content
        if choices and request.top_logprobs:
            request.response.logprobs = token_logprobs(choices[0].get("logprobs"))
        return restore(parse_json_object(content, request.interaction), back)

    async def aclose(self) -> None:
        await self.http.aclose()


def _refuses_option(exc: ProviderStatusError) -> bool:
    """How a provider answers an optional request field it does not know (``stream_options``, ``logprobs``): the
    request is sent again without it, and the adapter stops asking."""
    return exc.status in (400, 422)


def _record_usage(request: LLMRequest, payload: dict[str, Any]) -> None:
    usage = payload.get("usage")
    if isinstance(usage, dict):
        request.response.input_tokens = usage.get("prompt_tokens")
        request.response.output_tokens = usage.get("completion_tokens")
    model = payload.get("model")
    if isinstance(model, str) and model:
        request.response.model = model


def token_logprobs(payload: Any) -> list[tuple[bytes, float, list[tuple[bytes, float]]]] | None:
    """A choice's ``logprobs.content`` (OpenAI's shape: token, bytes, logprob, top_logprobs) as the port's tuples, each
    token as its ``bytes`` when given (a token may end inside a character) else its text in UTF-8; None when absent or
    malformed."""
    content = payload.get("content") if isinstance(payload, dict) else None
    if not isinstance(content, list):
        return None
    out = []
    try:
        for item in content:
            tops = [(_token_bytes(t), float(t["logprob"])) for t in item.get("top_logprobs") or ()]
            out.append((_token_bytes(item), float(item["logprob"]), tops))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return out or None


def _token_bytes(item: dict[str, Any]) -> bytes:
    raw = item.get("bytes")
    return bytes(raw) if isinstance(raw, list) else str(item["token"]).encode()


def parse_json_object(content: str, what: str) -> dict[str, Any]:
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[text.find("{"):] if "{" in text else text
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        try:
            value = json.loads(text[start : end + 1]) if start >= 0 < end else None
        except json.JSONDecodeError:
            value = None
    if not isinstance(value, dict):
        raise EngineError(f"The language model returned invalid JSON during {what}: {content[:200]!r}", 502)
    return value


class OpenAICompatEmbedder:
    def __init__(self, base_url: str, api_key: str | None, model: str, timeout: float = 60.0) -> None:
        self.http = OpenAIHttp(base_url, api_key, timeout)
        self.model = model

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        if not texts:
            return []
        try:
            response = await self.http.post_json("/embeddings", {"model": self.model, "input": list(texts)})
            rows = sorted(response["data"], key=lambda d: d["index"])
            matrix = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
        except Exception as exc:  # noqa: BLE001
            raise translate(exc, "embeddings") from exc
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return (matrix / np.where(norms == 0, 1, norms)).tolist()

    async def aclose(self) -> None:
        await self.http.aclose()
