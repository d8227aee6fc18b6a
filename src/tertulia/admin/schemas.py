"""Wire models of the admin endpoints tertulia serves."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Model(BaseModel):
    name: str
    params_model_schema: dict[str, Any]


class GetModelsResponse(BaseModel):
    models: list[Model]
