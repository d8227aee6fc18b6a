"""Permission names (exactly as the Classic Amigo API names them) and the default roles of a new organization.

A grant is ``{"permission_name": "Resource:Action", "conditions": {attribute: Condition}}``. Conditions are
``{"type": "Equals"|"NotEquals", "value": v}`` or ``{"type": "In", "values": [...]}`` over attributes of the
resource a request touches (``user_id``, ``service_id``, ...). tertulia extension: the value ``"@me"`` stands
for the caller's own user id, which lets one shared role say "only your own conversations".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ALL_PERMISSIONS: tuple[str, ...] = (
    "Admin:GetModels",
    "Conversation:CreateConversation",
    "Conversation:FinishConversation",
    "Conversation:GetConversation",
    "Conversation:GetConversationFeedback",
    "Conversation:GetInteractionFeedback",
    "Conversation:GetInteractionInsights",
    "Conversation:GetMessage",
    "Conversation:GetRecommendedResponses",
    "Conversation:InteractWithConversation",
    "Conversation:ModifyConversation",
    "Conversation:UpsertConversationFeedback",
    "Conversation:UpsertInteractionFeedback",
    "DynamicBehaviorInstruction:CreateDynamicBehaviorInstruction",
    "DynamicBehaviorInstruction:DeleteDynamicBehaviorInstruction",
    "DynamicBehaviorInstruction:GetDynamicBehaviorInstruction",
    "DynamicBehaviorInstruction:UpdateDynamicBehaviorInstruction",
    "Metric:CreateMetric",
    "Metric:DeleteMetric",
    "Metric:EvaluateMetric",
    "Metric:GetMetric",
    "Metric:GetMetricEvaluationResult",
    "Metric:ModifyMetric",
    "Organization:CreateAPIKey",
    "Organization:CreateAgent",
    "Organization:CreateAgentVersion",
    "Organization:CreateOrganization",
    "Organization:CreateServiceHierarchicalStateMachine",
    "Organization:CreateServiceHierarchicalStateMachineVersion",
    "Organization:DeleteAPIKey",
    "Organization:DeleteAgent",
    "Organization:DeleteOrganization",
    "Organization:DeleteServiceHierarchicalStateMachine",
    "Organization:GetAPIKey",
    "Organization:GetAgent",
    "Organization:GetOrganizationDetails",
    "Organization:GetServiceHierarchicalStateMachine",
    "Organization:ModifyOrganization",
    "Role:CreateRole",
    "Role:CreateTemporaryPermissionGrant",
    "Role:GetRole",
    "Role:GetTemporaryPermissionGrant",
    "Role:ModifyRole",
    "Service:CreateService",
    "Service:CreateVersionSet",
    "Service:DeleteVersionSet",
    "Service:GetService",
    "Service:GetVersionSet",
    "Service:UpdateService",
    "Service:UpdateVersionSet",
    "Simulation:CancelSimulationUnitTestSetRun",
    "Simulation:CreateSimulationPersona",
    "Simulation:CreateSimulationScenario",
    "Simulation:CreateSimulationUnitTest",
    "Simulation:CreateSimulationUnitTestSet",
    "Simulation:CreateSimulationUnitTestSetRun",
    "Simulation:DeleteSimulationPersona",
    "Simulation:DeleteSimulationScenario",
    "Simulation:DeleteSimulationUnitTest",
    "Simulation:DeleteSimulationUnitTestSet",
    "Simulation:GetSimulationPersona",
    "Simulation:GetSimulationScenario",
    "Simulation:GetSimulationUnitTest",
    "Simulation:GetSimulationUnitTestSet",
    "Simulation:GetSimulationUnitTestSetRun",
    "Simulation:ModifySimulationPersona",
    "Simulation:ModifySimulationScenario",
    "Simulation:ModifySimulationUnitTest",
    "Simulation:ModifySimulationUnitTestSet",
    "Tool:AccessRepo",
    "Tool:CreateTool",
    "Tool:DeleteTool",
    "Tool:InvokeTool",
    "Tool:ModifyTool",
    "User:DeleteUser",
    "User:GetUserInfo",
    "User:GetUserModel",
    "User:InviteUser",
    "User:UpdateUserInfo",
    "Webhook:CreateWebhookDestination",
    "Webhook:DeleteWebhookDestination",
    "Webhook:GetWebhookDeliveries",
    "Webhook:GetWebhookDestination",
    "Webhook:UpdateWebhookDestination",
)

ME = "@me"
_OWN = {"user_id": {"type": "Equals", "value": ME}}


def grant(name: str, conditions: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"permission_name": name, "conditions": dict(conditions or {})}


def _grants(names: Iterable[str], conditions: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    return [grant(n, conditions) for n in names]


_ORG_ONLY = {"Organization:CreateOrganization", "Organization:DeleteOrganization"}

DEFAULT_ROLES: dict[str, dict[str, Any]] = {
    "DefaultSuperAdministratorRole": {
        "description": "Every permission in the organization.",
        "frontend_view": "admin",
        "permission_grants": _grants(ALL_PERMISSIONS),
    },
    "DefaultAmigoAdministratorRole": {
        "description": "Platform operators: every permission in the organization.",
        "frontend_view": "admin",
        "permission_grants": _grants(ALL_PERMISSIONS),
    },
    "DefaultAdministratorRole": {
        "description": "Administers the organization's agents, services, users and conversations.",
        "frontend_view": "admin",
        "permission_grants": _grants(p for p in ALL_PERMISSIONS if p not in _ORG_ONLY),
    },
    "DefaultUserRole": {
        "description": "An end user: talks to services and sees only their own conversations and profile.",
        "frontend_view": "client",
        "permission_grants": _grants(
            [
                "Conversation:CreateConversation",
                "Conversation:FinishConversation",
                "Conversation:GetConversation",
                "Conversation:GetMessage",
                "Conversation:GetRecommendedResponses",
                "Conversation:InteractWithConversation",
                "Conversation:ModifyConversation",
                "User:GetUserInfo",
                "User:UpdateUserInfo",
                "User:GetUserModel",
            ],
            _OWN,
        )
        + _grants(
            [
                "Organization:GetAgent",
                "Organization:GetServiceHierarchicalStateMachine",
                "Service:GetService",
                "Service:GetVersionSet",
            ]
        ),
    },
}

ROLE_RANK = {
    "DefaultUserRole": 0,
    "DefaultAdministratorRole": 1,
    "DefaultAmigoAdministratorRole": 2,
    "DefaultSuperAdministratorRole": 3,
}


def _condition_holds(cond: Mapping[str, Any], actual: Any, me: str) -> bool:
    kind = cond.get("type")
    if kind in ("Equals", "NotEquals"):
        expected = me if cond.get("value") == ME else cond.get("value")
        return (actual == expected) == (kind == "Equals")
    if kind == "In":
        values = [me if v == ME else v for v in cond.get("values", [])]
        return actual in values
    return False


def grant_allows(g: Mapping[str, Any], permission: str, attrs: Mapping[str, Any], me: str) -> bool:
    name = g.get("permission_name", "")
    if name != permission:
        return False
    for attribute, cond in (g.get("conditions") or {}).items():
        if attribute not in attrs or not _condition_holds(cond, attrs[attribute], me):
            return False
    return True


def permission_names(grants: Iterable[Mapping[str, Any]]) -> set[str]:
    return {g["permission_name"] for g in grants if not g.get("conditions")}


def at_most_as_permissive(candidate: Iterable[Mapping[str, Any]], bound: Iterable[Mapping[str, Any]]) -> bool:
    """True when every grant of ``candidate`` is also granted, unconditionally or identically, by ``bound``."""
    bound_list = list(bound)
    unconditional = permission_names(bound_list)
    for g in candidate:
        if g["permission_name"] in unconditional:
            continue
        if not any(b == g for b in bound_list):
            return False
    return True
