"""HTTP routes of the admin domain: the models version sets may route to."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from tertulia.admin import service
from tertulia.admin.schemas import GetModelsResponse
from tertulia.auth.deps import RuntimeDep, require
from tertulia.auth.principal import Principal
from tertulia.core.routing import domain_router

router = domain_router("Admin")


@router.get("/admin/get_models/", operation_id="get-models", response_model=GetModelsResponse)
async def get_models(
    runtime: RuntimeDep,
    who: Annotated[Principal, Depends(require("Admin:GetModels"))],
) -> GetModelsResponse:
    return service.get_models(runtime)
