"""``GET /v1/{organization}/admin/get_prompt_logs/`` (``get-prompt-logs``): a zip of the matching prompt logs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import Response

from tertulia.auth.deps import SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.routing import domain_router
from tertulia.prompt_log import service

router = domain_router("Admin")


@router.get(
    "/admin/get_prompt_logs/", operation_id="get-prompt-logs", response_class=Response,
    responses={200: {"description": "Succeeded.", "content": {"application/zip": {"schema": {"type": "string"}}}},
               404: {"description": "No prompt logs found matching the supplied prefix"}},
)
async def get_prompt_logs(
    session: SessionDep,
    who: Annotated[Principal, Depends(require(service.PERMISSION))],
    prompt_log_prefix: Annotated[str, Query(description="The prefix of the prompt log to retrieve.")],
) -> Response:
    body = await service.prompt_logs_zip(session, who, prompt_log_prefix)
    return Response(body, media_type="application/zip",
                    headers={"content-disposition": 'attachment; filename="prompt_logs.zip"'})
