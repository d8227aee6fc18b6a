"""Version selectors of the ``get-*-versions`` endpoints: ``N``, ``latest``, ``A-B``, ``A-latest`` (inclusive)."""

from __future__ import annotations

import re

from tertulia.core.errors import Unprocessable

_SELECTOR = re.compile(r"^(?:(\d+|latest)|(\d+)-(\d+|latest))$")


def parse_version_selector(selector: str | None, latest: int | None) -> tuple[int, int] | None:
    """Return the inclusive (low, high) range the selector names, or None for 'all versions'."""
    if selector is None:
        return None
    match = _SELECTOR.match(selector.strip())
    if not match:
        raise Unprocessable("version must be N, latest, A-B or A-latest.")
    top = latest or 0
    single, low, high = match.groups()
    if single is not None:
        n = top if single == "latest" else int(single)
        return n, n
    hi = top if high == "latest" else int(high)
    return int(low), hi
