"""Imports every domain's tables so ``Base.metadata`` is complete (Alembic, tests).

A domain that adds tables adds its ``models`` module to ``DOMAIN_MODELS``.
"""

from __future__ import annotations

import importlib

from tertulia.core.db import Base

DOMAIN_MODELS = (
    "organization",
    "user",
    "role",
    "api_key",
    "agent",
    "context_graph",
    "service",
    "dynamic_behavior_set",
    "conversation",
    "feedback",
    "metric",
    "webhook",
    "jobs",
    "simulation",
    "prompt_log",
)


def load_all() -> type[Base]:
    for domain in DOMAIN_MODELS:
        try:
            importlib.import_module(f"tertulia.{domain}.models")
        except ModuleNotFoundError as exc:
            if exc.name is None or not f"tertulia.{domain}.models".startswith(exc.name):
                raise
    return Base
