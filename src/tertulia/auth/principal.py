"""The authenticated caller of a request and its permission checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tertulia.auth.permissions import grant_allows
from tertulia.core.errors import Forbidden


@dataclass
class Principal:
    org_id: str
    user_id: str
    role_id: str
    role_name: str
    grants: list[dict[str, Any]] = field(default_factory=list)  # fixed once the principal is made
    # the grants by permission name: a check looks at that permission's few grants, not at all ~90 of a role
    _by_name: dict[str, list[dict[str, Any]]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name = {}
        for g in self.grants:
            self._by_name.setdefault(g.get("permission_name", ""), []).append(g)

    def has(self, permission: str, attrs: Mapping[str, Any] | None = None) -> bool:
        """Whether some grant allows ``permission`` on a resource with these attributes."""
        attrs = attrs or {}
        return any(grant_allows(g, permission, attrs, self.user_id) for g in self._by_name.get(permission, ()))

    def has_any_grant(self, permission: str) -> bool:
        """Whether the caller holds ``permission`` at all (possibly only under conditions)."""
        return permission in self._by_name

    def require(self, permission: str, attrs: Mapping[str, Any] | None = None) -> None:
        if not self.has(permission, attrs):
            raise Forbidden(f"Missing required permission {permission}.")

    @property
    def user_info(self) -> dict[str, str]:
        """The ``UserInfo`` the spec records as creator / updated_by."""
        return {"org_id": self.org_id, "user_id": self.user_id}
