"""Wire models shared by several domains, named as the spec names them."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints


class WireModel(BaseModel):
    """Base for request bodies. Unknown keys are ignored, as the reference API does (none of its object schemas
    forbids additional properties), so a newer client sending a new field keeps working. NaN and infinities are
    refused. Response models are plain ``BaseModel``s: they serialise exactly their declared fields."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)


class UserInfo(BaseModel):
    org_id: str
    user_id: str


class Tag(BaseModel):
    key: str
    value: str | None


TagKey = Annotated[str, StringConstraints(pattern=r"^[\w\s]+$", min_length=1, max_length=256)]
TagValue = Annotated[str, StringConstraints(pattern=r"^[\w\s]+$", min_length=1, max_length=256)]
TagDict = Annotated[dict[TagKey, TagValue | None], Field(max_length=20)]
NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def tags_to_list(tags: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Entities that answer tags as a list of ``Tag`` objects."""
    return [{"key": k, "value": v} for k, v in (tags or {}).items()]


def _iso_8601_text(value: object) -> object:
    """Durations arrive as ISO 8601 strings (``P30D``, ``PT4H``); bare numbers are refused."""
    if not isinstance(value, str) or not value.strip().upper().startswith("P"):
        raise ValueError("must be an ISO 8601 duration such as P30D or PT4H")
    return value.strip()


IsoDuration = Annotated[timedelta, BeforeValidator(_iso_8601_text)]
