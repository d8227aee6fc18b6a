"""Model routing and the per-turn LLM wrapper (call counting, timeouts, errors → ``EngineError``).

A version set's ``llm_model_preferences`` maps interaction names to ``{"llm_name", "params"}``. The engine resolves
each call's interaction name there and passes ``llm_name`` as ``LLMRequest.model`` (``params`` as
``LLMRequest.params``); interactions without a preference use ``Ports.default_model`` (the operator's
``TERTULIA_LLM_MODEL``). Translating an Amigo ``llm_name`` (``openai_gpt-5.2-2025-12-11``) into a model the operator's
provider serves is the adapter's job: see ``adapters/openai_compat.py`` and ``TERTULIA_LLM_MODEL_MAP``.

Interaction names used by the engine:
``SelectDynamicBehavior``, ``CheckIfActiveMemoryNeeded``, ``SelectNextAction``, ``SelectNextActionForDecisionState``,
``GenerateRecallQueries``, ``GenerateReflection``, ``GenerateToolParams``, ``EngageUser``, ``RecommendResponses``,
``GenerateConversationStarters``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from typing import Any

from tertulia.engine.contract import EngineError, Ports
from tertulia.engine.ports import ChatMessage, LLMRequest


class TurnLLM:
    """The LLM as one turn sees it: routed, counted, bounded in time, failures as ``EngineError``."""

    def __init__(self, ports: Ports, preferences: dict[str, dict[str, Any]] | None) -> None:
        self.ports = ports
        self.preferences = preferences or {}
        self.calls = 0

    def request(self, interaction: str, messages: list[ChatMessage], max_tokens: int | None = None) -> LLMRequest:
        pref = self.preferences.get(interaction) or {}
        model = pref.get("llm_name") or self.ports.default_model
        return LLMRequest(interaction, messages, model=model, params=dict(pref.get("params") or {}), max_tokens=max_tokens)

    async def decide(self, request: LLMRequest, schema: dict[str, Any], schema_name: str) -> dict[str, Any]:
        self.calls += 1
        try:
            async with asyncio.timeout(self.ports.call_timeout):
                result = await self.ports.llm.decide(request, schema, schema_name)
        except EngineError:
            raise
        except TimeoutError:
            _report_timeout(self.ports.llm, request)
            raise EngineError(
                f"The language model did not answer {request.interaction} within {self.ports.call_timeout:g}s.", 504
            ) from None
        except Exception as exc:  # noqa: BLE001 - any provider failure voids the turn
            raise EngineError(f"The language model failed during {request.interaction}: {exc}", 502) from exc
        if not isinstance(result, dict):
            raise EngineError(f"The language model returned an invalid {schema_name} decision.", 502)
        return result

    async def stream(self, request: LLMRequest) -> AsyncIterator[str]:
        self.calls += 1
        iterator: Any = None
        try:
            iterator = self.ports.llm.stream_text(request)
            if inspect.isawaitable(iterator):
                iterator = await iterator
            iterator = iterator.__aiter__()
            while True:
                try:
                    async with asyncio.timeout(self.ports.call_timeout):
                        piece = await iterator.__anext__()
                except StopAsyncIteration:
                    return
                if piece:
                    yield piece
        except EngineError:
            raise
        except TimeoutError:
            _report_timeout(self.ports.llm, request)
            raise EngineError(
                f"The language model stalled during {request.interaction} (no output for {self.ports.call_timeout:g}s).",
                504,
            ) from None
        except Exception as exc:  # noqa: BLE001
            raise EngineError(f"The language model failed during {request.interaction}: {exc}", 502) from exc
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                try:
                    await close()
                except Exception:  # noqa: BLE001 - the provider stream is being abandoned anyway
                    pass

    async def text(self, request: LLMRequest) -> str:
        return "".join([piece async for piece in self.stream(request)])


def _report_timeout(llm: Any, request: LLMRequest) -> None:
    """Tell an observing LLM port (optional ``record_timeout``) that the engine's deadline fired."""
    hook = getattr(llm, "record_timeout", None)
    if hook is not None:
        try:
            hook(request)
        except Exception:  # noqa: BLE001 - observation never changes the turn's outcome
            pass
