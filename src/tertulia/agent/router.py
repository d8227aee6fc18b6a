"""HTTP routes of the agent domain (``/organization/agent``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query

from tertulia.agent import service
from tertulia.agent.schemas import (
    CreateAgentRequest,
    CreateAgentResponse,
    CreateAgentVersionRequest,
    CreateAgentVersionResponse,
    GetAgentsResponse,
    GetAgentVersionsResponse,
)
from tertulia.auth.deps import SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.ids import OBJECT_ID_PATTERN
from tertulia.core.routing import domain_router

router = domain_router("Organization")

AgentId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN, description="The ID of the agent.")]


@router.post("/organization/agent", operation_id="create-agent", status_code=201, response_model=CreateAgentResponse,
             responses={409: {"description": "An `Agent` with the same name already exists."}})
async def create_agent(
    body: CreateAgentRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:CreateAgent"))],
) -> CreateAgentResponse:
    return await service.create_agent(session, who, body)


@router.get("/organization/agent", operation_id="get-agents", response_model=GetAgentsResponse)
async def get_agents(
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:GetAgent"))],
    deprecated: Annotated[bool | None, Query(description="Whether the agent is deprecated.")] = None,
    id: Annotated[list[Annotated[str, Query(pattern=OBJECT_ID_PATTERN)]], Query(description="The IDs of the agents to filter for.")] = [],  # noqa: A002,B006
    limit: Annotated[int, Query(gt=0, le=20)] = 10,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
) -> GetAgentsResponse:
    return await service.list_agents(session, who, id, deprecated, limit, continuation_token)


@router.post("/organization/agent/{agent_id}/", operation_id="create-agent-version", status_code=201,
             response_model=CreateAgentVersionResponse,
             responses={400: {"description": "The initial version needs every field."},
                        409: {"description": "The specified version is not the expected next version for the agent."}})
async def create_agent_version(
    agent_id: AgentId,
    body: CreateAgentVersionRequest,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:CreateAgentVersion"))],
    version: Annotated[int | None, Query(gt=0)] = None,
) -> CreateAgentVersionResponse:
    return await service.create_version(session, who, agent_id, body, version)


@router.delete("/organization/agent/{agent_id}/", operation_id="delete-agent",
               responses={400: {"description": "An active service exists that utilizes this agent."},
                          409: {"description": "The specified agent is already deleted"}})
async def delete_agent(
    agent_id: AgentId,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:DeleteAgent"))],
) -> dict[str, Any]:
    return await service.delete_agent(session, who, agent_id)


@router.get("/organization/agent/{agent_id}/version", operation_id="get-agent-versions",
            response_model=GetAgentVersionsResponse)
async def get_agent_versions(
    agent_id: AgentId,
    session: SessionDep,
    who: Annotated[Principal, Depends(require("Organization:GetAgent"))],
    version: Annotated[str | None, Query(description="N, latest, A-B or A-latest.")] = None,
    limit: Annotated[int, Query(gt=0, le=10)] = 10,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
) -> GetAgentVersionsResponse:
    return await service.list_versions(session, who, agent_id, version, sort_by, limit, continuation_token)
