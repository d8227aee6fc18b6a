"""Summarise a py-spy collapsed-stack profile (``benchmarks/load.py --profile out.txt``, or
``py-spy record --format raw``): the top frames by own time and by inclusive time, as a share of all samples.

    python benchmarks/profile_summary.py out.txt [--top 10] [--idle]

Idle samples (the event loop waiting in ``select``/``epoll``) are left out unless ``--idle``: what remains is where
the process spent CPU. A frame is ``function (file:line)`` as py-spy writes it; files are shortened to the part after
``site-packages/`` or ``src/``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

IDLE = re.compile(r"\b(select|epoll|poll|_run_once|run_forever)\b.*(selectors|base_events)\.py")


def short(frame: str) -> str:
    frame = re.sub(r"\(.*?(?:site-packages|src|lib/python3\.\d+)/", "(", frame)
    return re.sub(r":\d+\)$", ")", frame)  # by function, not by line


def load(path: Path, idle: bool) -> tuple[Counter, Counter, int]:
    own: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [short(f) for f in stack.split(";") if f.strip()]
        if not frames or (not idle and IDLE.search(stack.split(";")[-1])):
            continue
        n = int(count)
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    return own, inclusive, total


def package(frame: str) -> str:
    """Where a frame's code lives: ``tertulia.<domain>``, a library's top-level package, or the standard library."""
    found = re.search(r"\(([^()]*)\)$", frame)
    path = found.group(1) if found else ""
    parts = path.split("/")
    if parts[0] == "tertulia" and len(parts) > 2:
        return f"tertulia.{parts[1]}"
    return parts[0].removesuffix(".py") if len(parts) > 1 else "(python stdlib)"


def by_package(own: Counter) -> Counter:
    out: Counter = Counter()
    for frame, n in own.items():
        out[package(frame)] += n
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--idle", action="store_true", help="keep the event loop's idle samples")
    parser.add_argument("--match", help="inclusive table only for frames matching this regex (e.g. tertulia)")
    args = parser.parse_args()
    own, inclusive, total = load(args.profile, args.idle)
    print(f"{total} busy samples")
    print(f"\ntop {args.top} frames by own time")
    for frame, n in own.most_common(args.top):
        print(f"  {100 * n / total:5.1f} %  {frame}")
    print(f"\ntop {args.top} packages by own time (where the CPU went)")
    for name, n in by_package(own).most_common(args.top):
        print(f"  {100 * n / total:5.1f} %  {name}")
    pattern = re.compile(args.match) if args.match else None
    rows = [(f, n) for f, n in inclusive.most_common() if pattern is None or pattern.search(f)]
    print(f"\ntop {args.top} frames by inclusive time" + (f" matching {args.match!r}" if pattern else ""))
    for frame, n in rows[: args.top]:
        print(f"  {100 * n / total:5.1f} %  {frame}")


if __name__ == "__main__":
    main()
