"""Grammar-safe texts in a decision's JSON schema, mapped back in the answer.

llama.cpp-based servers (llama-cpp-python's in particular) compile a ``json_schema`` response format into a grammar;
a double quote, a backslash or a line break inside an enum value or a property name produces a grammar that fails to
parse, and the server process dies. The engine puts the graph author's own texts there (exit conditions, behavior
triggers), so any of them may hold a quote. ``plain_texts`` writes those characters as ones that mean the same to a
reader (``"`` → ``'``, ``\\`` → ``/``, line breaks → spaces) and ``restore`` maps the answer's keys and values back to
the exact originals, so the engine never sees the difference.
"""

from __future__ import annotations

from typing import Any

_SUBSTITUTES = str.maketrans({'"': "'", "\\": "/", "\n": " ", "\r": " ", "\t": " "})


def plain_texts(schema: Any) -> tuple[Any, dict[str, str]]:
    """The schema with every enum string and property name made grammar-safe, and {safe text: original}."""
    back: dict[str, str] = {}
    taken: dict[str, str] = {}

    def safe(text: str) -> str:
        plain = text.translate(_SUBSTITUTES)
        if plain == text and plain not in back:
            taken.setdefault(plain, text)
            return text
        if plain in taken and taken[plain] == text:
            return plain
        candidate, n = plain, 2
        while candidate in taken and taken[candidate] != text:
            candidate, n = f"{plain} ({n})", n + 1
        taken[candidate] = text
        if candidate != text:
            back[candidate] = text
        return candidate

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                out[key] = {safe(name): walk(sub) for name, sub in value.items()}
            elif key in ("enum", "required") and isinstance(value, list):
                out[key] = [safe(v) if isinstance(v, str) else v for v in value]
            else:
                out[key] = walk(value)
        return out

    return walk(schema), back


def restore(value: Any, back: dict[str, str]) -> Any:
    """An answer to a ``plain_texts`` schema with its keys and enum values as the original texts."""
    if not back:
        return value
    if isinstance(value, dict):
        return {back.get(k, k): restore(v, back) for k, v in value.items()}
    if isinstance(value, list):
        return [restore(v, back) for v in value]
    if isinstance(value, str):
        return back.get(value, value)
    return value
