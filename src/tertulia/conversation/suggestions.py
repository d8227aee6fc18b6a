"""LLM suggestions around a conversation: recommended user replies and conversation starters.

Both run through the engine's functions (``engine/extras.py``: one schema-constrained LLM decision with the agent's
persona, on the version set's model preferences); nothing is persisted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.conversation import repository as repo
from tertulia.conversation.schemas import (
    GenerateConversationStarterRequest,
    GenerateConversationStarterResponse,
    Prompt,
    RecommendResponsesRequest,
    RecommendResponsesResponse,
)
from tertulia.conversation.service import conv_attrs, require_conversation
from tertulia.core.errors import BadRequest, Unavailable, Unprocessable
from tertulia.engine.contract import EngineError
from tertulia.engine.extras import conversation_starters as conversation_starters_engine
from tertulia.engine.extras import recommend_responses as recommend_responses_engine
from tertulia.runtime import Runtime

MAX_RECOMMENDATIONS = 5


def _ports(runtime: Runtime) -> Any:
    from tertulia.engine.wiring import make_ports

    if runtime.llm is None:
        raise Unavailable("No language model is configured on this server.")
    return make_ports(runtime)


async def _engine(call: Any) -> Any:
    try:
        return await call
    except EngineError as exc:
        raise Unavailable(exc.description) from exc


async def recommend_responses(
    session: AsyncSession, runtime: Runtime, who: Principal, conversation_id: str, interaction_id: str,
    body: RecommendResponsesRequest,
) -> RecommendResponsesResponse:
    """Suggest what the user could say next, playing the persona/scenario in ``body.context`` (the spec's default
    is a generic user completing the service). Only for the latest completed interaction of an unfinished
    conversation (400 otherwise)."""
    from tertulia.conversation.versions import resolve_pinned
    from tertulia.engine.contract import TranscriptMessage

    conv = await require_conversation(session, who, conversation_id)
    who.require("Conversation:GetRecommendedResponses", conv_attrs(conv))
    if conv.is_finished:
        raise BadRequest("The conversation is finished.")
    latest = await repo.latest_interaction(session, who.org_id, conv.id)
    if latest is None or latest.id != interaction_id:
        raise BadRequest("The supplied interaction ID doesn't correspond to the latest, completed interaction.")
    versions = await resolve_pinned(session, conv.org_id, conv.service_id, conv.version_set_info)
    history = [
        TranscriptMessage(m.id, m.message_type, m.message, m.created_at, m.interaction_id)
        for m in await repo.transcript(session, conv.org_id, conv.id)
        if m.message_type != "agent-inner-thought"
    ]
    replies = await _engine(recommend_responses_engine(
        versions.agent, history, _ports(runtime), context=body.context,
        llm_model_preferences=versions.llm_model_preferences, count=MAX_RECOMMENDATIONS,
    ))
    return RecommendResponsesResponse(recommended_responses=replies)


async def conversation_starters(
    session: AsyncSession, runtime: Runtime, who: Principal, body: GenerateConversationStarterRequest
) -> GenerateConversationStarterResponse:
    """Between ``min_count`` and ``max_count`` opening prompts, each about some of the given facets."""
    from tertulia.service.resolution import resolve_version_set

    who.require("Conversation:CreateConversation", {"user_id": who.user_id, "service_id": body.service_id})
    if body.min_count > body.max_count:
        raise Unprocessable("min_count cannot be greater than max_count.")
    resolved = await resolve_version_set(session, who.org_id, body.service_id, body.service_version_set_name)
    facets = list(dict.fromkeys(body.facets))
    made = await _engine(conversation_starters_engine(
        resolved.agent, resolved.graph, _ports(runtime), facets=facets, min_count=body.min_count,
        max_count=body.max_count, generation_instructions=body.generation_instructions,
        llm_model_preferences=resolved.llm_model_preferences,
    ))
    prompts = [Prompt(prompt=p["prompt"], facets=p["facets"]) for p in made]
    if len(prompts) < body.min_count:
        raise Unavailable("The language model produced too few conversation starters; retry.")
    return GenerateConversationStarterResponse(prompts=prompts[: body.max_count])
