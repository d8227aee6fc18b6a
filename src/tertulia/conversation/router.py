"""HTTP routes of the conversation domain (``/conversation``). Literal paths are registered before parameterised ones."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Body, Depends, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from tertulia.auth.deps import RuntimeDep, SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.conversation import service, start, suggestions
from tertulia.conversation.extras_router import router as extras_router
from tertulia.conversation.schemas import (
    CreateConversationRequest,
    GenerateConversationStarterRequest,
    GenerateConversationStarterResponse,
    GetConversationMessagesResponse,
    GetConversationsResponse,
    MessageSourceResponse,
    ModifyConversationTagsRequest,
    RecommendResponsesRequest,
    RecommendResponsesResponse,
)
from tertulia.conversation.streaming import NDJSONResponse
from tertulia.conversation.turn import stream_turn
from tertulia.core.errors import BadRequest, error_response
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.routing import domain_router
from tertulia.speech.voice import response_audio_type

router = domain_router("Conversation")

ConversationId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The identifier of the conversation.")]
InteractionId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The identifier of the interaction.")]
MessageId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The identifier of the message.")]
ObjectIdList = list[Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]]
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
    return await suggestions.conversation_starters(session, runtime, who, body)


router.include_router(extras_router)


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
    plan = await start.plan_create(session, runtime, who, body, response_format, current_agent_action_type,
                                   emit_current_agent_action_event)
    plan.audio_type = response_audio_type(request.headers.get("accept"))
    return NDJSONResponse(stream_turn(runtime, plan), status_code=201)


@router.get("/conversation/", operation_id="get-conversations", response_model=GetConversationsResponse)
async def get_conversations(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Conversation:GetConversation"))],
    user_id: Annotated[list[str], Query(description="The identifier of the user whose conversations to retrieve.")] = [],  # noqa: B006
    service_id: Annotated[ObjectIdList, Query(description="The identifier of the service whose conversation to retrieve.")] = [],  # noqa: B006
    is_finished: Annotated[bool | None, Query(description="Whether the conversation is finished.")] = None,
    id: Annotated[ObjectIdList, Query(description="The ID of the conversation to retrieve.")] = [],  # noqa: A002,B006
    limit: Annotated[int, Query(gt=0, le=150)] = 150,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    sort_by: Annotated[list[str], Query(description="Supported fields: created_at, with + or - in front.")] = [],  # noqa: B006
    tag: Annotated[list[str], Query(description="key:value, key:* (any value) or key: (null value).")] = [],  # noqa: B006
) -> GetConversationsResponse:
    return await service.list_conversations(
        session, who, user_ids=user_id, service_ids=service_id, is_finished=is_finished, ids=id, tags=tag,
        sort_by=sort_by, limit=limit, offset=continuation_token,
    )


@router.get("/conversation/{conversation_id}/messages/", operation_id="get-conversation-messages",
            response_model=GetConversationMessagesResponse,
            responses={404: {"description": "Specified organization or conversation is not found."}})
async def get_conversation_messages(
    conversation_id: ConversationId,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Conversation:GetMessage"))],
    id: Annotated[ObjectIdList, Query(description="The IDs of the messages to retrieve.")] = [],  # noqa: A002,B006
    message_type: Annotated[
        list[Literal["user-message", "agent-message", "agent-inner-thought", "external-event"]],
        Query(description="The type of messages to retrieve (inner thoughts only when asked)."),
    ] = ["external-event", "agent-message", "user-message"],  # noqa: B006
    interaction_id: Annotated[ObjectIdList, Query(description="The IDs of the interactions to retrieve messages for.")] = [],  # noqa: B006
    limit: Annotated[int, Query(gt=0, le=500)] = 500,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    sort_by: Annotated[list[str], Query(description="Supported fields: interaction_id and created_at.")] = [],  # noqa: B006
) -> GetConversationMessagesResponse:
    return await service.list_messages(
        session, who, conversation_id, ids=id, message_types=list(message_type), interaction_ids=interaction_id,
        sort_by=sort_by, limit=limit, offset=continuation_token,
    )


@router.post("/conversation/{conversation_id}/finish/", operation_id="finish-conversation", status_code=204,
             response_class=Response,
             responses={400: {"description": "The conversation has no interactions (it is deleted)."},
                        404: {"description": "Specified organization or conversation is not found."},
                        409: {"description": "The specified conversation is already finished, or a related operation is in process."}})
async def finish_conversation(
    conversation_id: ConversationId,
    session: SessionDep,
    runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Conversation:FinishConversation"))],
) -> Response:
    refused = await service.finish_conversation(session, who, conversation_id)
    return error_response(refused) if refused is not None else Response(status_code=204)


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
    return await suggestions.recommend_responses(session, runtime, who, conversation_id, interaction_id,
                                                 body or RecommendResponsesRequest())


@router.get("/conversation/{conversation_id}/interaction/{interaction_id}/insights",
            operation_id="get-interaction-insights",
            responses={404: {"description": "Specified organization, conversation, or interaction is not found."}})
async def get_interaction_insights(
    conversation_id: ConversationId,
    interaction_id: InteractionId,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Conversation:GetInteractionInsights",
                                              "Organization:GetServiceHierarchicalStateMachine"))],
) -> JSONResponse:
    return JSONResponse(await service.interaction_insights(session, who, conversation_id, interaction_id))


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
    from tertulia.conversation.voice import parse_audio_config, transcribe

    start.compile_action_filter(current_agent_action_type)
    audio_config = parse_audio_config(request_audio_config)
    form = await request.form()
    parts = form.getlist("recorded_message")
    if len(parts) != 1:
        raise BadRequest("The body must carry exactly one recorded_message part.")
    part = parts[0]
    raw = await part.read() if isinstance(part, UploadFile) else str(part).encode()
    audio: tuple[bytes, str] | None = None
    if request_format == "voice":
        part_type = part.content_type if isinstance(part, UploadFile) else ""
        heard = await transcribe(runtime, raw, part_type or "", audio_config, session=session, org_id=who.org_id,
                                 conversation_id=conversation_id)
        text, audio = heard.text, (heard.audio, heard.content_type)
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest("recorded_message must be UTF-8 encoded text when request_format is text.") from exc
    plan = await start.plan_interact(
        session, runtime, who, conversation_id,
        message_type=str(form.get("initial_message_type") or "user-message"),
        text=text,
        external_contents=[str(v) for v in form.getlist("external_event_message_content")],
        external_timestamps=[str(v) for v in form.getlist("external_event_message_timestamp")],
        response_format=response_format, action_type=current_agent_action_type,
        emit=emit_current_agent_action_event, audio=audio,
    )
    plan.audio_type = response_audio_type(request.headers.get("accept"))
    return NDJSONResponse(stream_turn(runtime, plan))


@router.get("/conversation/{conversation_id}/messages/{message_id}/source", operation_id="retrieve-message-source",
            response_model=MessageSourceResponse,
            responses={400: {"description": "The message is a text message."},
                       404: {"description": "Specified organization or message is not found."}})
async def retrieve_message_source(
    request: Request,
    conversation_id: ConversationId,
    message_id: MessageId,
    session: SessionDep,
    runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Conversation:GetMessage"))],
    long_lived: Annotated[bool, Query(description="Whether to generate a URL that lasts 12 hours.")] = False,
) -> Any:
    return await service.message_source(session, runtime, who, conversation_id, message_id, long_lived,
                                        base_url=str(request.base_url))


@router.post("/conversation/{conversation_id}/tags/", operation_id="modify-tags-of-conversation", status_code=204,
             response_class=Response,
             responses={400: {"description": "The conversation cannot contain more than 20 tags."},
                        404: {"description": "Specified organization or conversation is not found."}})
async def modify_tags_of_conversation(
    conversation_id: ConversationId,
    body: ModifyConversationTagsRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Conversation:ModifyConversation"))],
) -> Response:
    await service.modify_tags(session, who, conversation_id, body)
    return Response(status_code=204)

