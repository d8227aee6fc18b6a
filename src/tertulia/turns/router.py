"""HTTP routes of the turns (``/conversation``): create and interact (streamed NDJSON), simulate-an-interaction,
recommended responses and conversation starters. HTTP only: the use cases are in ``service.py``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Body, Depends, Header, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from tertulia.auth.deps import RuntimeDep, SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.errors import BadRequest
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.routing import domain_router
from tertulia.runtime import Runtime
from tertulia.speech.config import parse_audio_config
from tertulia.speech.voice import response_audio_type
from tertulia.turns import planning, service
from tertulia.turns.contract import TurnPlan
from tertulia.turns.pump import ndjson_body, pump
from tertulia.turns.schemas import (
    CreateConversationRequest,
    GenerateConversationStarterRequest,
    GenerateConversationStarterResponse,
    RecommendResponsesRequest,
    RecommendResponsesResponse,
    SimulateInteractionRequest,
    SimulateInteractionResponse,
)
from tertulia.turns.store_sql import SqlTurnStore
from tertulia.turns.streaming import NDJSONResponse
from tertulia.turns.voice import VoiceUpload

router = domain_router("Conversation")

ConversationId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The identifier of the conversation.")]
InteractionId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The identifier of the interaction.")]
Cid = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the conversation.")]
Iid = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the interaction.")]

Fmt = Literal["text", "voice"]
ACTION_TYPE_DOC = (
    "A regex for filtering the type of the current agent action to return. By default, all are returned. If you don't "
    "want to receive any events, set this to a regex that matches nothing, for instance `^$`."
)
EMIT_DOC = (
    "Older clients' switch for CurrentAgentActionEvents: `false` turns them off. When omitted they follow "
    "`current_agent_action_type`. Either way they need Conversation:GetInteractionInsights."
)
STREAM = {"content": {"application/x-ndjson": {"schema": {"type": "object"}}}}
INTERACT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["initial_message_type", "recorded_message"],
                    "properties": {
                        "initial_message_type": {"type": "string", "enum": ["user-message", "external-event", "skip"]},
                        "recorded_message": {"type": "string", "format": "binary"},
                        "external_event_message_content": {"type": "array", "items": {"type": "string", "minLength": 1}},
                        "external_event_message_timestamp": {"type": "array", "items": {"type": "string", "format": "date-time"}},
                    },
                }
            }
        },
    }
}


@router.post("/conversation/conversation_starter", operation_id="generate-conversation-starter",
             response_model=GenerateConversationStarterResponse, responses={404: {"description": "Service not found."}})
async def generate_conversation_starter(
    body: GenerateConversationStarterRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Conversation:CreateConversation"))],
) -> GenerateConversationStarterResponse:
    return await service.conversation_starters(store_for(runtime, session), runtime, who, body)


@router.post("/conversation/", operation_id="create-conversation", status_code=201, response_class=NDJSONResponse,
             responses={201: STREAM, 400: {"description": "An unfinished conversation of this service exists, or voice is unavailable."},
                        404: {"description": "Specified organization, service, or version set is not found."},
                        409: {"description": "A related operation is in progress."}})
async def create_conversation(
    request: Request,
    body: CreateConversationRequest,
    session: SessionDep,
    runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Conversation:CreateConversation"))],
    response_format: Annotated[Fmt, Query(description="The format of the response that will be sent to the user.")],
    current_agent_action_type: Annotated[str, Query(description=ACTION_TYPE_DOC)] = "^.*$",
    emit_current_agent_action_event: Annotated[bool | None, Query(description=EMIT_DOC)] = None,
) -> Response:
    plan = await service.plan_create(store_for(runtime, session), runtime, who, body, response_format,
                                     current_agent_action_type, emit_current_agent_action_event)
    return stream(runtime, plan, request, status_code=201)


@router.post("/conversation/{conversation_id}/interaction/{interaction_id}/recommend_responses",
             operation_id="recommend-responses-for-interaction", response_model=RecommendResponsesResponse,
             responses={400: {"description": "The conversation is finished, or the supplied interaction ID doesn't correspond to the latest, completed interaction."},
                        404: {"description": "Specified organization or conversation is not found."}})
async def recommend_responses(
    conversation_id: ConversationId,
    interaction_id: InteractionId,
    session: SessionDep,
    runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Conversation:GetRecommendedResponses"))],
    body: Annotated[RecommendResponsesRequest | None, Body()] = None,
) -> RecommendResponsesResponse:
    return await service.recommend_responses(store_for(runtime, session), runtime, who, conversation_id,
                                             interaction_id, body or RecommendResponsesRequest())


# Seed 002 documents this operation as GET (no body): the same recommendations with the default context. Not in the
# schema (the reference OpenAPI lists only POST); it shares the POST's operationId, hence its rate-limit quota.
@router.get("/conversation/{conversation_id}/interaction/{interaction_id}/recommend_responses",
            operation_id="recommend-responses-for-interaction", response_model=RecommendResponsesResponse,
            include_in_schema=False)
async def recommend_responses_by_get(
    conversation_id: ConversationId,
    interaction_id: InteractionId,
    session: SessionDep,
    runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Conversation:GetRecommendedResponses"))],
) -> RecommendResponsesResponse:
    return await service.recommend_responses(store_for(runtime, session), runtime, who, conversation_id,
                                             interaction_id, RecommendResponsesRequest())


@router.post("/conversation/{conversation_id}/interact", operation_id="interact-with-conversation",
             response_class=NDJSONResponse, openapi_extra=INTERACT_BODY,
             responses={200: STREAM, 400: {"description": "The user message is empty, or the external events are inconsistent."},
                        404: {"description": "Specified organization or conversation is not found."},
                        409: {"description": "The specified conversation is already finished, or a related operation is in process."},
                        415: {"description": "The format of the supplied audio file is not supported."}})
async def interact_with_conversation(
    request: Request,
    conversation_id: ConversationId,
    session: SessionDep,
    runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Conversation:InteractWithConversation", "User:UpdateUserInfo"))],
    request_format: Annotated[Fmt, Query(description="The format in which the user message is delivered to the server.")],
    response_format: Annotated[Fmt, Query(description="The format of the response that will be sent to the user.")],
    content_type: Annotated[str, Header(alias="content-type", pattern=r"^multipart\/form-data; boundary=.+$",
                                        description="multipart/form-data followed by a boundary.")],
    current_agent_action_type: Annotated[str, Query(description=ACTION_TYPE_DOC)] = "^.*$",
    request_audio_config: Annotated[str | None, Query(description="JSON: {\"type\":\"mp3\"} or {\"type\":\"pcm\",...}.")] = None,
    emit_current_agent_action_event: Annotated[bool | None, Query(description=EMIT_DOC)] = None,
) -> Response:
    store = store_for(runtime, session)
    planning.compile_action_filter(current_agent_action_type)
    audio_config = parse_audio_config(request_audio_config)
    form = await request.form()
    parts = form.getlist("recorded_message")
    if len(parts) != 1:
        raise BadRequest("The body must carry exactly one recorded_message part.")
    part = parts[0]
    raw = await part.read() if isinstance(part, UploadFile) else str(part).encode()
    voice: VoiceUpload | None = None
    text = ""
    if request_format == "voice":  # transcribed by plan_interact once the turn may run
        voice = VoiceUpload(raw, (part.content_type if isinstance(part, UploadFile) else "") or "", audio_config)
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest("recorded_message must be UTF-8 encoded text when request_format is text.") from exc
    plan = await service.plan_interact(
        store, runtime, who, conversation_id,
        message_type=str(form.get("initial_message_type") or "user-message"),
        text=text,
        external_contents=[str(v) for v in form.getlist("external_event_message_content")],
        external_timestamps=[str(v) for v in form.getlist("external_event_message_timestamp")],
        response_format=response_format, action_type=current_agent_action_type,
        emit=emit_current_agent_action_event, voice=voice,
    )
    return stream(runtime, plan, request)


@router.post("/conversation/{conversation_id}/interaction/{interaction_id}/simulate",
             operation_id="simulate-an-interaction", response_model=SimulateInteractionResponse)
async def simulate(
    conversation_id: Cid, interaction_id: Iid, session: SessionDep, runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Conversation:InteractWithConversation"))],
    body: SimulateInteractionRequest | None = None,
) -> SimulateInteractionResponse:
    return await service.simulate_interaction(store_for(runtime, session), runtime, who, conversation_id,
                                              interaction_id, body or SimulateInteractionRequest())


def store_for(runtime: Runtime, session: AsyncSession) -> SqlTurnStore:
    """The turn store of one request: reads share the request's session; the outcome has its own transaction."""
    return SqlTurnStore(runtime.db, runtime.embedder, reads=session)


def stream(runtime: Runtime, plan: TurnPlan, request: Request, status_code: int = 200) -> NDJSONResponse:
    """The streamed turn. It outlives the request's session, so its store opens its own transactions."""
    plan.audio_type = response_audio_type(request.headers.get("accept"))
    store = SqlTurnStore(runtime.db, runtime.embedder)
    ids = {"org_id": plan.org_id, "conversation_id": plan.conversation_id, "interaction_id": plan.interaction_id}
    return NDJSONResponse(ndjson_body(pump(runtime, store, plan), ids), status_code=status_code)
