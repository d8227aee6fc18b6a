"""The package layering, over EVERY package of tertulia (also ones added after the import-linter lists in
pyproject.toml), imports inside functions included (grimp reads every import statement of a module).

* ``core`` imports nothing of tertulia; ``engine`` and ``speech`` import only ``core``;
* only the application layer (``APPLICATION``) imports ``turns``;
* no import cycles between packages (any ``ignore_imports`` pyproject.toml might list are honoured).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
APPLICATION = {"turns", "simulator", "app", "asgi", "cli", "chat", "console", "bootstrap", "demo", "first_run", "gauges",
               "wiring", "worker_cli"}


@pytest.fixture(scope="module")
def edges() -> dict[tuple[str, str], list[str]]:
    graph = grimp.build_graph("tertulia", cache_dir=None)
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    ignored = {tuple(i.split(" -> ")) for c in config for i in c.get("ignore_imports", [])}
    found: dict[tuple[str, str], list[str]] = {}
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            a, b = _package(importer), _package(imported)
            if a and b and a != b and (importer, imported) not in ignored:
                found.setdefault((a, b), []).append(f"{importer} -> {imported}")
    return found


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "tertulia" and len(parts) > 1 else None


def test_core_imports_nothing_of_tertulia(edges):
    assert [i for (a, _), imports in edges.items() if a == "core" for i in imports] == []


def test_engine_and_speech_import_only_core(edges):
    bad = [i for (a, b), imports in edges.items() if a in ("engine", "speech") and b != "core" for i in imports]
    assert bad == []


def test_only_the_application_layer_imports_turns(edges):
    bad = [i for (a, b), imports in edges.items() if b == "turns" and a not in APPLICATION for i in imports]
    assert bad == []


def test_no_cycles_between_packages(edges):
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    cycles = []
    for start in sorted(graph):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    cycles.append(path + [start])
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
    assert cycles == [], "; ".join(" -> ".join(c) for c in cycles[:5])


def test_a_function_level_import_counts(tmp_path, monkeypatch):
    """The checks above see imports inside functions: a deferred import of a higher package is an edge."""
    pkg = tmp_path / "layered"
    (pkg / "low").mkdir(parents=True)
    (pkg / "high").mkdir()
    for path in (pkg / "__init__.py", pkg / "low" / "__init__.py", pkg / "high" / "__init__.py"):
        path.write_text("")
    (pkg / "low" / "mod.py").write_text("def f():\n    from layered.high import mod\n    return mod\n")
    (pkg / "high" / "mod.py").write_text("from layered.low import mod\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("layered", cache_dir=None)
    assert "layered.high.mod" in graph.find_modules_directly_imported_by("layered.low.mod")
