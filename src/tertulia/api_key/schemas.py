"""Wire models of the API-key endpoints."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from tertulia.core.schemas import IsoDuration, NonEmptyStr, UserInfo, WireModel

MIN_DURATION = timedelta(days=1)
MAX_DURATION = timedelta(days=90)


def _one_to_ninety_days(value: timedelta) -> timedelta:
    if not MIN_DURATION <= value <= MAX_DURATION:
        raise ValueError("duration must be between 1 and 90 days (ISO 8601, e.g. P30D).")
    return value


class CreateAPIKeyRequest(WireModel):
    name: NonEmptyStr | None = Field(description="An optional name for the API key.")
    duration: Annotated[IsoDuration, AfterValidator(_one_to_ninety_days)] = Field(
        description="ISO 8601 duration between 1 and 90 days, e.g. P30D."
    )
    role_name: str = "DefaultAdministratorRole"


class CreateAPIKeyResponse(BaseModel):
    api_key_id: str
    api_key: str
    expires_at: AwareDatetime


class APIKeyInstance(BaseModel):
    id: str = Field(serialization_alias="_id")
    name: str | None
    org_id: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    key_id: str
    expires_at: AwareDatetime
    creator: UserInfo
    role_id: str


class GetAPIKeysResponse(BaseModel):
    api_keys: list[APIKeyInstance]


class DeleteAPIKeyResponse(BaseModel):
    deleted_key_id: str
