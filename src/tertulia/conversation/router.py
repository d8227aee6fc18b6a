"""HTTP routes of the conversation domain (``/conversation``): listing, messages, finish, insights, sources, tags.
The turn routes (create, interact, simulate, recommendations, starters) are ``tertulia.turns.router``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from tertulia.auth.deps import RuntimeDep, SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.conversation import service
from tertulia.conversation.schemas import (
    GetConversationMessagesResponse,
    GetConversationsResponse,
    MessageSourceResponse,
    ModifyConversationTagsRequest,
)
from tertulia.core.errors import error_response
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.routing import domain_router

router = domain_router("Conversation")

ConversationId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The identifier of the conversation.")]
InteractionId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The identifier of the interaction.")]
MessageId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The identifier of the message.")]
ObjectIdList = list[Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]]


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
    sort_by: Annotated[list[str], Query(description="Supported fields: interaction_id and created_at (or timestamp, "
                                              "as seed 002 names it).")] = [],  # noqa: B006
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

