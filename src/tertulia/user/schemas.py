"""Wire models of the user endpoints, named after the spec's schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AnyUrl, AwareDatetime, BaseModel, EmailStr, Field, StringConstraints, WithJsonSchema, model_validator

from tertulia.core.languages import LanguageCode, TimeZoneName, iso639_3
from tertulia.core.schemas import NonEmptyStr, WireModel

VariableName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"^[a-z_][a-z0-9_]+$")]
Keyterm = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"^[a-z-]+( [a-z-]+){0,2}$")]


def _language_or_two_letters(value: str) -> str:
    if len(value) == 2 and value.isalnum():
        return value
    if value not in iso639_3():
        raise ValueError(f"{value!r} is not an ISO 639-3 (or 2-letter) language code.")
    return value


LanguageOrTwoLetters = Annotated[
    str,
    AfterValidator(_language_or_two_letters),
    WithJsonSchema({"anyOf": [{"type": "string", "minLength": 3, "maxLength": 3},
                              {"type": "string", "pattern": r"^\w{2}$"}]}),
]


class PreferencesInput(WireModel):
    """Preferences as create-organization / modify-organization take them (ISO 639-3 language)."""

    enable_response_recommendation: bool = False
    preferred_language: LanguageCode | None = None
    conversations_visible_to_admins: bool = True
    user_model_visible_to_admins: bool = True
    timezone: TimeZoneName | None = None
    audio_keyterms: list[str] = []


class InvitePreferencesInput(PreferencesInput):
    """create-invited-user also accepts a 2-letter language code."""

    preferred_language: LanguageOrTwoLetters | None = None  # type: ignore[assignment]


class Preferences(BaseModel):
    """``Preferences-Output``: every field always present."""

    enable_response_recommendation: bool = False
    preferred_language: str | None = None
    conversations_visible_to_admins: bool = True
    user_model_visible_to_admins: bool = True
    timezone: str | None = None
    audio_keyterms: list[str] = []


class CreateInvitedUserRequest(WireModel):
    first_name: NonEmptyStr
    last_name: NonEmptyStr
    email: EmailStr = Field(description="The email of the user; unique in the organization.")
    login_link: Annotated[AnyUrl, Field(max_length=2083)] | None = None
    role_name: str
    nonsensitive_user_variables: Annotated[dict[VariableName, str], Field(max_length=19)] = {}
    sensitive_user_variables: Annotated[dict[VariableName, str], Field(max_length=20)] = {}
    user_preferences: InvitePreferencesInput | None = None

    @model_validator(mode="after")
    def _no_user_id_variable(self) -> CreateInvitedUserRequest:
        if "user_id" in self.nonsensitive_user_variables:
            raise ValueError("A nonsensitive user variable may not be named user_id (it is always provided).")
        return self


class CreateInvitedUserResponse(BaseModel):
    user_id: str
    verify_link: str | None


class UserStats(BaseModel):
    num_conversations: int
    num_messages: int
    last_message_time: AwareDatetime | None


class SearchUserInstance(BaseModel):
    org_id: str
    user_id: str
    first_name: str
    last_name: str
    email: str
    user_stats: UserStats
    role: str
    preferences: Preferences
    nonsensitive_variables: dict[str, str]
    sensitive_variables: list[str]


class UserInstance(SearchUserInstance):
    enable_actions_access: bool


class GetUsersResponse(BaseModel):
    users: list[UserInstance]
    has_more: bool
    continuation_token: int | None


class SearchUsersResponse(BaseModel):
    users: list[SearchUserInstance]


class SignInWithEmailRequest(WireModel):
    redirect_link: AnyUrl
    email: EmailStr


class NotSet(WireModel):
    """``_NotSet``: the empty object ``{}`` means "leave this field unchanged"."""


class UpdateUserInfoRequest(WireModel):
    first_name: NonEmptyStr | None = None
    last_name: NonEmptyStr | None = None
    enable_response_recommendation: bool | None = None
    preferred_language: LanguageCode | NotSet | None = Field(default_factory=NotSet)
    timezone: TimeZoneName | NotSet | None = Field(default_factory=NotSet)
    conversations_visible_to_admins: bool | None = None
    user_model_visible_to_admins: bool | None = None
    additional_context: list[NonEmptyStr] | None = None
    audio_keyterms: Annotated[list[Keyterm], Field(max_length=20)] | None = None


class UserDimension(BaseModel):
    description: str
    tags: list[str]


class UserModel(BaseModel):
    content: str
    insight_ids: list[str]
    dimensions: list[UserDimension]


class GetUserModelResponse(BaseModel):
    user_models: list[UserModel]
    additional_context: list[str]


class MemoryInstance(BaseModel):
    id: str
    created_at: AwareDatetime
    conversation_id: str
    references: list[str]
    content: str
    context: str


class GetMemoriesResponse(BaseModel):
    memories: list[MemoryInstance]
    has_more: bool
    continuation_token: int | None


class UpsertRequest(WireModel):
    name: VariableName
    value: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    is_secret: bool

    @model_validator(mode="after")
    def _no_user_id(self) -> UpsertRequest:
        if not self.is_secret and self.name == "user_id":
            raise ValueError("A nonsensitive user variable may not be named user_id (it is always provided).")
        return self


class DeleteRequest(WireModel):
    name: VariableName


class ModifyUserVariablesRequest(WireModel):
    upserts: list[UpsertRequest] = []
    deletes: list[DeleteRequest] = []


def stats_of(num_conversations: int, num_messages: int, last_message_time: datetime | None) -> dict[str, Any]:
    return {"num_conversations": num_conversations, "num_messages": num_messages, "last_message_time": last_message_time}


DEFAULT_PREFERENCES = {
    "enable_response_recommendation": False,
    "preferred_language": None,
    "conversations_visible_to_admins": True,
    "user_model_visible_to_admins": True,
    "timezone": None,
    "audio_keyterms": [],
}
