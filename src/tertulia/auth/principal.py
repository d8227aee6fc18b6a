"""The authenticated caller of a request and its permission checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tertulia.auth.permissions import grant_allows
from tertulia.core.errors import Forbidden


def index_grants(grants: Iterable[Mapping[str, Any]]) -> dict[str, tuple[Mapping[str, Any], ...]]:
    """Grants by permission name: a check looks at that permission's few grants, not at all ~90 of a role."""
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for g in grants:
        by_name.setdefault(g.get("permission_name", ""), []).append(g)
    return {name: tuple(found) for name, found in by_name.items()}


def frozen(value: Any) -> Any:
    """A read-only deep copy of JSON data (mappings → ``MappingProxyType``, lists → tuples): grants shared by every
    request of a role can then be handed to each without a copy, and none can change them for the others."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(frozen(v) for v in value)
    return value


@dataclass
class Principal:
    org_id: str
    user_id: str
    role_id: str
    role_name: str
    grants: Sequence[Mapping[str, Any]] = field(default_factory=list)  # fixed once the principal is made
    # ``index_grants(grants)``, given when it is already known (a role's cached, frozen index), else built here
    index: Mapping[str, tuple[Mapping[str, Any], ...]] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.index is None:
            self.index = index_grants(self.grants)

    def has(self, permission: str, attrs: Mapping[str, Any] | None = None) -> bool:
        """Whether some grant allows ``permission`` on a resource with these attributes."""
        attrs = attrs or {}
        return any(grant_allows(g, permission, attrs, self.user_id) for g in self.index.get(permission, ()))

    def has_any_grant(self, permission: str) -> bool:
        """Whether the caller holds ``permission`` at all (possibly only under conditions)."""
        return permission in self.index

    def require(self, permission: str, attrs: Mapping[str, Any] | None = None) -> None:
        if not self.has(permission, attrs):
            raise Forbidden(f"Missing required permission {permission}.")

    @property
    def user_info(self) -> dict[str, str]:
        """The ``UserInfo`` the spec records as creator / updated_by."""
        return {"org_id": self.org_id, "user_id": self.user_id}
