"""Dynamic behavior set use cases: create (with its first version), list, search, update, delete, versions,
invocations. Functions take ``org_id``/``creator`` or the request principal explicitly, so the demo installer can
create sets without a request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.core import references
from tertulia.core.clock import utcnow
from tertulia.core.errors import BadRequest, Conflict, NotFound, Unprocessable
from tertulia.core.paging import TagFilter, page_list, parse_sort_by, parse_tag_filters, tags_match
from tertulia.core.versions import parse_version_selector
from tertulia.dynamic_behavior_set import repository as repo
from tertulia.dynamic_behavior_set.models import DynamicBehaviorSet, DynamicBehaviorSetVersion
from tertulia.dynamic_behavior_set.schemas import (
    CreateDynamicBehaviorSetRequest,
    CreateDynamicBehaviorSetVersionRequest,
    DynamicBehaviorInvocation,
    DynamicBehaviorSetInstance,
    FilterValues,
    GetDynamicBehaviorInvocationsResponse,
    GetDynamicBehaviorSetsResponse,
    GetDynamicBehaviorSetVersionsResponse,
    SearchDynamicBehaviorSetsResponse,
    UpdateDynamicBehaviorSetRequest,
)
from tertulia.dynamic_behavior_set.schemas import (
    DynamicBehaviorSetVersion as VersionOut,
)
from tertulia.dynamic_behavior_set.search import MAX_RESULTS, relevance
from tertulia.webhook.events import resource_updated

GET = "DynamicBehaviorInstruction:GetDynamicBehaviorInstruction"


async def _ensure_services(session: AsyncSession, org_id: str, service_ids: list[str]) -> None:
    if not service_ids:
        return
    found = await references.existing(session, org_id, "service", service_ids)
    missing = [s for s in service_ids if s not in found]
    if missing:
        raise NotFound(f"Service {missing[0]} not found.")


def _actions(actions: list[Any]) -> list[dict[str, Any]]:
    return [a.model_dump(mode="json") for a in actions]


async def create_set(
    session: AsyncSession, org_id: str, creator: dict[str, Any], body: CreateDynamicBehaviorSetRequest
) -> str:
    services = list(dict.fromkeys(body.applied_to_services))
    await _ensure_services(session, org_id, services)
    initial = body.initial_version
    if initial.is_active and await repo.find_active_by_name(session, org_id, body.name):
        raise Conflict(f"An active dynamic behavior set named {body.name!r} already exists.")
    row = DynamicBehaviorSet(
        org_id=org_id, name=body.name, is_active=initial.is_active, applied_to_services=services,
        tags=dict(body.tags), latest_version=1, creator=creator, updated_by=creator,
    )
    session.add(row)
    await session.flush()
    session.add(DynamicBehaviorSetVersion(
        org_id=org_id, dynamic_behavior_set_id=row.id, version=1,
        conversation_triggers=list(initial.conversation_triggers), actions=_actions(initial.actions), creator=creator,
    ))
    await resource_updated(session, org_id, "dynamic_behavior_set", row.id, 1, "created")
    await session.flush()
    return row.id


def set_instance(s: DynamicBehaviorSet) -> DynamicBehaviorSetInstance:
    return DynamicBehaviorSetInstance(
        id=s.id, name=s.name, is_active=s.is_active, applied_to_services=list(s.applied_to_services or []),
        tags=dict(s.tags or {}), created_at=s.created_at, creator=s.creator, updated_at=s.updated_at,
        updated_by=s.updated_by,
    )


def _creator_keys(values: list[str]) -> set[tuple[str, str]]:
    keys = set()
    for raw in values:
        org, sep, user = raw.partition(",")
        if not sep or not org or not user:
            raise Unprocessable(f"creator {raw!r} must be org_id,user_id.")
        keys.add((org, user))
    return keys


def _matches(s: DynamicBehaviorSet, services: list[str], creators: set[tuple[str, str]], tags: list[TagFilter]) -> bool:
    if services and not set(services) & set(s.applied_to_services or []):
        return False
    if creators and (s.creator.get("org_id"), s.creator.get("user_id")) not in creators:
        return False
    return tags_match(s.tags or {}, tags)


async def _visible(session: AsyncSession, who: Any, ids: list[str], is_active: bool | None, services: list[str],
                   creators: list[str], tags: list[str], sort_by: list[str]) -> tuple[list[DynamicBehaviorSet], list[DynamicBehaviorSet]]:
    sort = parse_sort_by(sort_by, ["updated_at"])
    creator_keys = _creator_keys(creators)
    tag_filters = parse_tag_filters(tags)
    rows = await repo.list_sets(session, who.org_id, ids, is_active, sort)
    visible = [s for s in rows if who.has(GET, {"dynamic_behavior_set_id": s.id})]
    return visible, [s for s in visible if _matches(s, services, creator_keys, tag_filters)]


async def list_sets(session: AsyncSession, who: Any, ids: list[str], is_active: bool | None, services: list[str],
                    creators: list[str], tags: list[str], sort_by: list[str], limit: int, offset: int
                    ) -> GetDynamicBehaviorSetsResponse:
    visible, matching = await _visible(session, who, ids, is_active, services, creators, tags, sort_by)
    page = page_list(matching, limit, offset)
    filter_values = None
    if offset == 0:
        creators_seen = {(s.creator["org_id"], s.creator["user_id"]) for s in visible}
        filter_values = FilterValues(
            applied_to_services_ids=sorted({sid for s in visible for sid in s.applied_to_services or []}),
            creators=[{"org_id": o, "user_id": u} for o, u in sorted(creators_seen)],
            tags=sorted({f"{k}:{v if v is not None else ''}" for s in visible for k, v in (s.tags or {}).items()}),
        )
    return GetDynamicBehaviorSetsResponse(
        dynamic_behavior_sets=[set_instance(s) for s in page.items], has_more=page.has_more,
        continuation_token=page.continuation_token, filter_values=filter_values,
    )


async def search_sets(session: AsyncSession, who: Any, query: str, is_active: bool | None, services: list[str],
                      creators: list[str], tags: list[str]) -> SearchDynamicBehaviorSetsResponse:
    _, matching = await _visible(session, who, [], is_active, services, creators, tags, ["-updated_at"])
    scored = []
    for s in matching:
        latest = await repo.get_version(session, who.org_id, s.id, s.latest_version)
        score = relevance(query, s.name, latest.conversation_triggers if latest else [])
        if score > 0:
            scored.append((score, s))
    scored.sort(key=lambda pair: -pair[0])  # stable: ties keep most recently updated first
    return SearchDynamicBehaviorSetsResponse(dynamic_behavior_sets=[set_instance(s) for _, s in scored[:MAX_RESULTS]])


async def require_set(session: AsyncSession, org_id: str, set_id: str) -> DynamicBehaviorSet:
    row = await repo.get_set(session, org_id, set_id)
    if row is None:
        raise NotFound(f"Dynamic behavior set {set_id} not found.")
    return row


async def update_set(session: AsyncSession, org_id: str, updater: dict[str, Any], set_id: str,
                     body: UpdateDynamicBehaviorSetRequest) -> None:
    row = await require_set(session, org_id, set_id)
    name = body.name if body.name is not None else row.name
    active = body.is_active if body.is_active is not None else row.is_active
    if body.applied_to_services is not None:
        services = list(dict.fromkeys(body.applied_to_services))
        await _ensure_services(session, org_id, services)
        row.applied_to_services = services
    if active and (body.name is not None or body.is_active) and await repo.find_active_by_name(
        session, org_id, name, exclude_id=row.id
    ):
        raise Conflict(f"Another active dynamic behavior set named {name!r} already exists.")
    row.name = name
    row.is_active = active
    if body.tags is not None:
        row.tags = dict(body.tags)
    row.updated_by = updater
    row.updated_at = utcnow()
    await resource_updated(session, org_id, "dynamic_behavior_set", set_id, None, "updated")
    await session.flush()


async def delete_set(session: AsyncSession, org_id: str, set_id: str) -> dict:
    """Removes the set and its versions; recorded invocations stay (they name the set by id)."""
    await require_set(session, org_id, set_id)
    await session.execute(delete(DynamicBehaviorSetVersion).where(
        DynamicBehaviorSetVersion.org_id == org_id, DynamicBehaviorSetVersion.dynamic_behavior_set_id == set_id))
    await session.execute(delete(DynamicBehaviorSet).where(
        DynamicBehaviorSet.org_id == org_id, DynamicBehaviorSet.id == set_id))
    await resource_updated(session, org_id, "dynamic_behavior_set", set_id, None, "deleted")
    await session.flush()
    return {}


async def create_version(session: AsyncSession, org_id: str, creator: dict[str, Any], set_id: str,
                         body: CreateDynamicBehaviorSetVersionRequest, expected: int | None) -> int:
    row = await require_set(session, org_id, set_id)
    next_version = row.latest_version + 1
    if expected is not None and expected != next_version:
        raise BadRequest(f"Version {expected} is not the next version of this set (expected {next_version}).")
    session.add(DynamicBehaviorSetVersion(
        org_id=org_id, dynamic_behavior_set_id=set_id, version=next_version,
        conversation_triggers=list(body.conversation_triggers), actions=_actions(body.actions), creator=creator,
    ))
    row.latest_version = next_version
    row.updated_by = creator
    row.updated_at = utcnow()
    try:
        await resource_updated(session, org_id, "dynamic_behavior_set", set_id, next_version, "created")
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("Another version of this set was created concurrently; retry.") from exc
    return next_version


async def list_versions(session: AsyncSession, org_id: str, set_id: str, selector: str | None, sort_by: list[str],
                        limit: int, offset: int) -> GetDynamicBehaviorSetVersionsResponse:
    row = await require_set(session, org_id, set_id)
    bounds = parse_version_selector(selector, row.latest_version)
    page = await repo.list_versions(session, org_id, set_id, bounds, parse_sort_by(sort_by, ["version"]), limit, offset)
    return GetDynamicBehaviorSetVersionsResponse(
        dynamic_behavior_set_versions=[
            VersionOut(id=v.id, org_id=v.org_id, created_at=v.created_at, updated_at=v.created_at,
                       dynamic_behavior_set_id=v.dynamic_behavior_set_id, version=v.version,
                       conversation_triggers=v.conversation_triggers, actions=v.actions, creator=v.creator)
            for v in page.items
        ],
        has_more=page.has_more, continuation_token=page.continuation_token,
    )


async def list_invocations(session: AsyncSession, who: Any, set_id: str, sort_by: list[str], limit: int,
                           offset: int) -> GetDynamicBehaviorInvocationsResponse:
    await require_set(session, who.org_id, set_id)
    rows = await repo.list_invocations(session, who.org_id, set_id, parse_sort_by(sort_by, ["invoked_at"]))
    visible = [r for r in rows if who.has("Conversation:GetMessage", {
        "user_id": r.user_id, "conversation_id": r.conversation_id, "service_id": r.service_id})]
    page = page_list(visible, limit, offset)
    return GetDynamicBehaviorInvocationsResponse(
        dynamic_behavior_invocations=[
            DynamicBehaviorInvocation(
                id=r.id, org_id=r.org_id, created_at=r.created_at, updated_at=r.created_at,
                conversation_id=r.conversation_id, service_id=r.service_id, user_id=r.user_id,
                initial_message_id=r.initial_message_id or "", agent_message_id=r.agent_message_id,
                agent_inner_thoughts_ids=list(r.agent_inner_thoughts_ids or []),
                dynamic_behavior_set_version_info=(r.dynamic_behavior_set_id, r.dynamic_behavior_set_version),
                invoked_at=r.invoked_at, external_event_message_ids=list(r.external_event_message_ids or []),
            )
            for r in page.items
        ],
        has_more=page.has_more, continuation_token=page.continuation_token,
    )
