"""Wire models of the webhook-destination domain, named as the spec names them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyUrl, BaseModel, Field

from tertulia.core.schemas import WireModel

WebhookType = Literal["conversation-post-processing-complete", "api-key-expiration-soon", "agent-framework-resource-updated"]
RetryAttempts = Annotated[int, Field(gt=0, le=5)]


class CreateWebhookDestinationRequest(WireModel):
    url: AnyUrl
    accepted_types: list[WebhookType]
    retry_attempts: RetryAttempts = 3


class CreateWebhookDestinationResponse(BaseModel):
    webhook_destination_id: str
    secret: str


class WebhookDestination(BaseModel):
    id: str
    url: str
    secret_generated_at: datetime
    retry_attempts: int
    accepted_types: list[str]


class GetWebhookDestinationsResponse(BaseModel):
    webhook_destinations: list[WebhookDestination]


class UpdateWebhookDestinationRequest(WireModel):
    retry_attempts: RetryAttempts | None = None
    accepted_types: list[WebhookType] | None = None


class RotateWebhookDestinationSecretResponse(BaseModel):
    secret: str
    dual_signing_stops_at: datetime


class DeliveryAttempt(BaseModel):
    delivery_time: datetime
    status_code: int


class WebhookDeliveryInstance(BaseModel):
    id: str
    type: str
    webhook_content: dict[str, Any]
    status: Literal["success", "failed"]
    delivery_attempts: list[DeliveryAttempt]
    dual_signed: bool
    created_at: datetime


class GetWebhookDeliveriesResponse(BaseModel):
    webhook_deliveries: list[WebhookDeliveryInstance]
    has_more: bool
    continuation_token: int | None
