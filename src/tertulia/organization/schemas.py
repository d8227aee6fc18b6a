"""Wire models of the organization endpoints."""

from __future__ import annotations

from typing import Annotated

import base64
import binascii

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, WithJsonSchema

from tertulia.core.schemas import NonEmptyStr, WireModel
from tertulia.user.schemas import Preferences, PreferencesInput, UserDimension


def _strict_base64(value: str) -> str:
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be base64-encoded bytes") from exc
    if not decoded:
        raise ValueError("must be base64-encoded bytes of an image, not empty")
    return value


# The spec's schema: ``{"type": "string", "format": "base64"}``; an empty image is refused by the validator.
Base64Bytes = Annotated[str, AfterValidator(_strict_base64), WithJsonSchema({"type": "string", "format": "base64"})]


class UserDimensionInput(WireModel):
    description: NonEmptyStr
    tags: list[NonEmptyStr]


class GetOrganizationResponse(BaseModel):
    org_id: str
    org_name: str
    default_user_preferences: Preferences | None
    tenant_id: str | None


class CreateOrganizationRequest(WireModel):
    """Logos and favicon are validated as base64 and not stored: tertulia serves no branded frontend."""

    org_name: NonEmptyStr
    user_dimensions: list[UserDimensionInput]
    logo: Base64Bytes
    square_logo: Base64Bytes
    favicon: Base64Bytes
    default_user_preferences: PreferencesInput | None = None
    azure_devops_team_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20, pattern=r"^[a-z-]+$")
    ]


class CreateOrganizationResponse(BaseModel):
    org_id: str


class ModifyOrganizationRequest(WireModel):
    logo: Base64Bytes | None = None
    square_logo: Base64Bytes | None = None
    favicon: Base64Bytes | None = None
    user_dimensions: Annotated[list[UserDimensionInput], Field(min_length=1)] | None = None
    default_user_preferences: PreferencesInput | None = None


class GetUserDimensionsResponse(BaseModel):
    user_dimensions: list[UserDimension]
