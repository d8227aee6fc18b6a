"""Where the shared reference material lives: the Classic Amigo OpenAPI, the API notes and the seeds.

``TERTULIA_SHARED_DIR`` points at it; by default it is ``../shared`` beside the project (the layout of the
development machine). A fresh clone has no such directory: every test that needs it skips with the reason below.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    configured = os.environ.get("TERTULIA_SHARED_DIR")
    return Path(configured) if configured else PROJECT.parent / "shared"


def shared_file(*parts: str) -> Path:
    """The path of a shared file, or skip the calling test when it is not there."""
    path = shared_dir().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found: the reference material lives in ../shared beside the project "
                    "(set TERTULIA_SHARED_DIR to its location)")
    return path


@cache
def _load(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def reference_spec() -> dict[str, Any]:
    """The Classic Amigo OpenAPI document (skips the test without it)."""
    return _load(str(shared_file("reference", "amigo-openapi.json")))
