"""Wire models of sign-in."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field


class SigninWithAPIKeyResponse(BaseModel):
    id_token: str = Field(description="The ID token that should be attached to the Authorization header for future API calls.")
    expires_at: AwareDatetime = Field(description="The time at which the token expires.")
