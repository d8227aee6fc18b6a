"""FastAPI dependencies: database session, authenticated principal, permission requirements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Protocol

from fastapi import Depends, Path, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from tertulia.auth.principal import Principal
from tertulia.auth.security import read_token
from tertulia.core.db import unit_of_work
from tertulia.core.errors import Forbidden, Unauthorized
from tertulia.runtime import Runtime

bearer_scheme = HTTPBearer(auto_error=False, scheme_name="Bearer-Authorization")
basic_scheme = HTTPBasic(auto_error=False, scheme_name="Basic")
org_header_scheme = APIKeyHeader(name="X-ORG-ID", auto_error=False, scheme_name="Bearer-Authorization-Organization")


async def get_runtime(request: Request) -> Runtime:
    """Async on purpose: FastAPI runs a plain ``def`` dependency on a worker thread, a thread hop per request."""
    return request.app.state.runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: ONE transaction, committed when the handler returns, rolled back when it raises.

    Scoped to the handler function (``scope="function"``): the commit happens before the response is sent, so a
    client that sees a 2xx can read what it wrote. Services and repositories only ``flush``. A streamed response
    (create/interact) writes its turn in its own transaction at the end of the stream (``tertulia.turns``).
    """
    async with unit_of_work(request.app.state.runtime.db.sessions) as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
OrgPath = Annotated[str, Path(alias="organization", title="Organization")]


def _token_from(bearer: HTTPAuthorizationCredentials | None, basic: HTTPBasicCredentials | None) -> tuple[str | None, str | None]:
    """(token, basic_username) from whichever scheme the client used."""
    if bearer is not None and bearer.credentials:
        return bearer.credentials, None
    if basic is not None and basic.password:
        return basic.password, basic.username
    return None, None


class PrincipalLoader(Protocol):
    """The principal behind a verified token: raises ``Unauthorized`` when its API key was revoked or expired, or its
    user no longer exists. Installed on ``app.state.principals`` (``tertulia.identity.principals``)."""

    async def __call__(self, session: AsyncSession, org_id: str, user_id: str, api_key_id: str | None) -> Principal: ...


async def authenticate(
    request: Request,
    session: AsyncSession,
    organization: str,
    bearer: HTTPAuthorizationCredentials | None,
    basic: HTTPBasicCredentials | None,
    x_org_id: str | None,
    *,
    allow_issuing_org: bool = False,
) -> Principal | None:
    """The principal behind the request's credentials, or None when it sent none.

    A token is valid only in the organization that issued it. With ``allow_issuing_org`` (create-organization
    only) the token may come from the organization named by ``X-ORG-ID`` and the principal is of that org.
    """
    runtime: Runtime = request.app.state.runtime
    token, basic_user = _token_from(bearer, basic)
    if token is None:
        return None
    claims = read_token(runtime.jwt_secret, token)
    if claims is None:
        raise Unauthorized("Invalid or expired token; sign in again with signin_with_api_key.")
    if basic_user is not None and basic_user != f"{claims.org_id}_{claims.user_id}":
        raise Unauthorized("Basic username must be {org_id}_{user_id} of the token.")
    issuing_org = x_org_id or organization
    if claims.org_id != issuing_org or (claims.org_id != organization and not allow_issuing_org):
        # tertulia does not federate organizations: a token is valid only in the organization that issued it.
        raise Unauthorized("This token was not issued for this organization.")
    loader: PrincipalLoader = request.app.state.principals
    principal = await loader(session, issuing_org, claims.user_id, claims.api_key_id)
    request.state.principal = principal
    return principal


async def _credentials(request: Request) -> tuple[HTTPAuthorizationCredentials | None, HTTPBasicCredentials | None, str | None]:
    """The three credential schemes read straight off the request. They are not FastAPI dependencies, which would be
    solved one by one on every request; ``auth.openapi`` documents them on each operation instead (``SCHEMES``)."""
    return await bearer_scheme(request), await basic_scheme(request), await org_header_scheme(request)


async def _signed_in(request: Request, organization: str, session: AsyncSession) -> Principal:
    bearer, basic, x_org_id = await _credentials(request)
    principal = await authenticate(request, session, organization, bearer, basic, x_org_id)
    if principal is None:
        raise Unauthorized("Missing credentials: send Authorization: Bearer <id_token> from signin_with_api_key.")
    return principal


async def current_principal(request: Request, organization: OrgPath, session: SessionDep) -> Principal:
    """Authenticate the request: a valid, unexpired token issued by this organization for a user that still exists."""
    return await _signed_in(request, organization, session)


async def optional_principal(request: Request, organization: OrgPath, session: SessionDep) -> Principal | None:
    """For public operations: None without credentials; credentials that are sent must be valid (else 401)."""
    bearer, basic, x_org_id = await _credentials(request)
    return await authenticate(request, session, organization, bearer, basic, x_org_id)


async def issuing_org_principal(request: Request, organization: OrgPath, session: SessionDep) -> Principal:
    """Bearer only; the token's organization is the path's or the one named by ``X-ORG-ID`` (create-organization)."""
    bearer, _, x_org_id = await _credentials(request)
    principal = await authenticate(request, session, organization, bearer, None, x_org_id, allow_issuing_org=True)
    if principal is None:
        raise Unauthorized("Missing credentials: send Authorization: Bearer <id_token> (and X-ORG-ID of its organization).")
    return principal


# The schemes each principal dependency reads, as the schema documents them (``auth.openapi``)
SCHEMES = {
    current_principal: (bearer_scheme, basic_scheme, org_header_scheme),
    optional_principal: (bearer_scheme, basic_scheme, org_header_scheme),
    issuing_org_principal: (bearer_scheme, org_header_scheme),
}


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(*permissions: str) -> Callable[..., Any]:
    """Dependency: the caller must hold every permission (unconditionally, or under conditions checked later).

    Grants with conditions pass this gate; the service then calls ``principal.require(name, attrs)`` with the
    attributes of the concrete resource, so conditioned grants are enforced per resource.

    It authenticates by itself (the same parameters and checks as ``current_principal``) instead of depending on
    ``PrincipalDep``: FastAPI solves every dependency as a nested dependant on every request (a recursive
    ``solve_dependencies`` with its parameter passes and cache-key work), and this one only passed the principal
    through. No route combines ``require`` with ``PrincipalDep``, which would now authenticate twice.
    """

    async def _check(request: Request, organization: OrgPath, session: SessionDep) -> Principal:
        principal = await _signed_in(request, organization, session)
        for name in permissions:
            if not principal.has_any_grant(name):
                raise Forbidden(f"Missing required permission {name}.")
        return principal

    _check.permissions = permissions  # type: ignore[attr-defined]  # read by tests that audit routes
    SCHEMES[_check] = SCHEMES[current_principal]  # documented as current_principal's (``auth.openapi``)
    return _check

