"""Wire models of the role endpoints: roles, permission grants with conditions, temporary grants."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, Field, StringConstraints

from tertulia.auth.permissions import ALL_PERMISSIONS
from tertulia.core.schemas import IsoDuration, NonEmptyStr, TagDict, UserInfo, WireModel

RoleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
FrontendView = Literal["client", "admin"]


class EqualCondition(WireModel):
    type: Literal["Equals"] = "Equals"
    value: Any


class InCondition(WireModel):
    type: Literal["In"] = "In"
    values: list[Any]


class NotEqualCondition(WireModel):
    type: Literal["NotEquals"] = "NotEquals"
    value: Any


def _default_condition_type(value: Any) -> Any:
    """``type`` has a default in the spec; infer it so the discriminated union can choose."""
    if isinstance(value, dict) and "type" not in value:
        return {**value, "type": "In" if "values" in value else "Equals"}
    return value


Condition = Annotated[
    Annotated[EqualCondition | InCondition | NotEqualCondition, Field(discriminator="type")],
    BeforeValidator(_default_condition_type),
]


def _known_permission(name: str) -> str:
    if name not in ALL_PERMISSIONS:
        raise ValueError(f"Unknown permission {name!r}; permission names look like 'Resource:Action' (e.g. 'User:GetUserInfo').")
    return name


PermissionName = Annotated[str, AfterValidator(_known_permission)]


class PermissionGrantInput(WireModel):
    permission_name: PermissionName
    conditions: dict[str, Condition]

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class PermissionGrant(BaseModel):
    permission_name: str
    conditions: dict[str, dict[str, Any]]


class CreateRoleRequest(WireModel):
    role_name: RoleName
    description: NonEmptyStr
    permission_grants: list[PermissionGrantInput]
    frontend_view: FrontendView


class RoleIdResponse(BaseModel):
    role_id: str


class ModifyRoleRequest(WireModel):
    description: NonEmptyStr | None = None
    permission_grants: list[PermissionGrantInput] | None = None
    frontend_view: FrontendView | None = None


class AssignRoleRequest(WireModel):
    user_id: str


class RoleInstance(BaseModel):
    id: str
    name: str
    description: str
    frontend_view: FrontendView
    permission_grants: list[PermissionGrant]


class GetRolesResponse(BaseModel):
    roles: list[RoleInstance]


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("duration must be a positive ISO 8601 duration, e.g. PT1H or P1D.")
    return value


class CreateTemporaryPermissionGrantRequest(WireModel):
    user_id: str
    duration: Annotated[IsoDuration, AfterValidator(_positive)] = Field(description="ISO 8601 duration, e.g. PT4H.")
    permission_grant: PermissionGrantInput
    tags: TagDict
    justification: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10)]


class CreateTemporaryPermissionGrantResponse(BaseModel):
    temporary_permission_grant_id: str
    expires_at: AwareDatetime


class TemporaryPermissionGrantInstance(BaseModel):
    id: str = Field(serialization_alias="_id")
    org_id: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    user_id: str
    expires_at: AwareDatetime
    permission_grant: PermissionGrant
    justification: str
    creator: UserInfo
    tags: dict[str, str | None]


class GetTemporaryPermissionGrantsResponse(BaseModel):
    temporary_permission_grants: list[TemporaryPermissionGrantInstance]
    has_more: bool
    continuation_token: int | None
