"""HTTP routes of the webhook-destination domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends, Path, Query, Response

from tertulia.auth.deps import RuntimeDep, SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.routing import domain_router
from tertulia.webhook import schemas as s
from tertulia.webhook import service

router = domain_router("Webhook")

DestinationId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the webhook destination.")]


@router.post("/webhook_destination/", operation_id="create-webhook-destination", status_code=201,
             response_model=s.CreateWebhookDestinationResponse,
             responses={400: {"description": "The organization already has the maximum amount of webhook destinations defined."}})
async def create_webhook_destination(
    body: s.CreateWebhookDestinationRequest, session: SessionDep, runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Webhook:CreateWebhookDestination"))],
) -> s.CreateWebhookDestinationResponse:
    return await service.create_destination(session, runtime.jwt_secret, who, body)


@router.get("/webhook_destination/", operation_id="get_webhook_destinations",
            response_model=s.GetWebhookDestinationsResponse)
async def get_webhook_destinations(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Webhook:GetWebhookDestination"))],
    id: Annotated[list[Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]], Query()] = [],  # noqa: A002,B006
) -> s.GetWebhookDestinationsResponse:
    return await service.list_destinations(session, who, id)


@router.post("/webhook_destination/{webhook_destination_id}", operation_id="update-webhook-destination",
             status_code=204, response_class=Response)
async def update_webhook_destination(
    webhook_destination_id: DestinationId, body: s.UpdateWebhookDestinationRequest, session: SessionDep,
    who: Annotated[Principal, Depends(require("Webhook:UpdateWebhookDestination"))],
) -> Response:
    await service.update_destination(session, who, webhook_destination_id, body)
    return Response(status_code=204)


@router.delete("/webhook_destination/{webhook_destination_id}", operation_id="delete-webhook-destination",
               status_code=204, response_class=Response)
async def delete_webhook_destination(
    webhook_destination_id: DestinationId, session: SessionDep,
    who: Annotated[Principal, Depends(require("Webhook:DeleteWebhookDestination"))],
) -> Response:
    await service.delete_destination(session, who, webhook_destination_id)
    return Response(status_code=204)


@router.post("/webhook_destination/{webhook_destination_id}/rotate-secret",
             operation_id="rotate-webhook-destination-secret",
             response_model=s.RotateWebhookDestinationSecretResponse,
             responses={400: {"description": "The frequency of secret rotation is limited to once per hour."}})
async def rotate_webhook_destination_secret(
    webhook_destination_id: DestinationId, session: SessionDep, runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Webhook:UpdateWebhookDestination"))],
) -> s.RotateWebhookDestinationSecretResponse:
    return await service.rotate_secret(session, runtime.jwt_secret, who, webhook_destination_id)


@router.get("/webhook_destination/{webhook_destination_id}/delivery", operation_id="get-webhook-deliveries",
            response_model=s.GetWebhookDeliveriesResponse)
async def get_webhook_deliveries(
    webhook_destination_id: DestinationId, session: SessionDep,
    who: Annotated[Principal, Depends(require("Webhook:GetWebhookDeliveries"))],
    status: Literal["success", "failed"] | None = None,
    type: str | None = None,  # noqa: A002
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: Annotated[int, Query(ge=0, le=50)] = 50,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
) -> s.GetWebhookDeliveriesResponse:
    return await service.list_deliveries(
        session, who, webhook_destination_id, status=status, type_=type, after=created_after, before=created_before,
        sort_by=sort_by, limit=limit, offset=continuation_token,
    )
