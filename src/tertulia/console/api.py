"""Console-only endpoints, for what the public API does not offer. Authenticated like the API (Bearer token of the
organization in the path), org-scoped, and answered through the owning domains' use cases.

* ``GET  /console/api/{organization}/jobs`` — the organization's durable jobs, newest first, with status counts;
* ``POST /console/api/{organization}/jobs/{job_id}/retry`` — queue a failed job again (409 unless it is failed);
* ``GET  /console/api/{organization}/graphs/{graph_id}/versions/{version}/diagram.svg`` — a context graph version
  laid out and drawn as SVG.

Jobs are operations data with no permission of their own in the Classic Amigo API: tertulia asks for
``Organization:ModifyOrganization``, which only the administrator roles hold.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from tertulia.auth.deps import SessionDep, require
from tertulia.auth.principal import Principal
from tertulia.core.errors import NotFound
from tertulia.core.ids import OBJECT_ID_PATTERN

JOBS_PERMISSION = "Organization:ModifyOrganization"
GRAPH_PERMISSION = "Organization:GetServiceHierarchicalStateMachine"

router = APIRouter(prefix="/console/api/{organization}", include_in_schema=False)

JobId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN)]
GraphId = Annotated[str, Path(pattern=OBJECT_ID_PATTERN)]


@router.get("/jobs")
async def list_jobs(
    session: SessionDep,
    who: Annotated[Principal, Depends(require(JOBS_PERMISSION))],
    status: Annotated[Literal["queued", "running", "succeeded", "failed"] | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(gt=0, le=200)] = 50,
    continuation_token: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    from tertulia.jobs import admin

    page = await admin.list_org_jobs(session, who.org_id, status=status, kind=kind, limit=limit,
                                     offset=continuation_token)
    counts = await admin.count_org_jobs(session, who.org_id)
    return {"jobs": [j.wire() for j in page.items], "counts": counts, "has_more": page.has_more,
            "continuation_token": page.continuation_token}


@router.post("/jobs/{job_id}/retry")
async def retry_job(
    job_id: JobId,
    session: SessionDep,
    who: Annotated[Principal, Depends(require(JOBS_PERMISSION))],
) -> dict[str, Any]:
    from tertulia.jobs import admin

    job = await admin.retry_failed_job(session, who.org_id, job_id)
    return job.wire()  # the request's unit of work commits


@router.get("/graphs/{graph_id}/versions/{version}/diagram.svg")
async def graph_diagram(
    graph_id: GraphId,
    version: Annotated[int, Path(gt=0)],
    session: SessionDep,
    who: Annotated[Principal, Depends(require(GRAPH_PERMISSION))],
) -> Response:
    from tertulia.console import diagram, svg
    from tertulia.context_graph import service as graphs

    found = await graphs.list_versions(session, who.org_id, graph_id, str(version), [], 1, 0)
    if not found.state_machine_versions:
        raise NotFound(f"Context graph {graph_id} has no version {version}.")
    body = found.state_machine_versions[0].model_dump(mode="json")
    drawing = svg.render(diagram.layout(diagram.build(body)), title=f"context graph {graph_id} v{version}")
    return Response(drawing, media_type="image/svg+xml", headers={"cache-control": "private, no-store"})
