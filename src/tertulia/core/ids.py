"""Identifiers: 24-hex ObjectIds, generated locally (timestamp + random, like MongoDB's)."""

from __future__ import annotations

import os
import secrets
import time
from typing import Annotated

from pydantic import StringConstraints

OBJECT_ID_PATTERN = r"^[a-f0-9]{24}$"
ObjectIdStr = Annotated[str, StringConstraints(pattern=OBJECT_ID_PATTERN)]

_counter = int.from_bytes(os.urandom(3), "big")
_process_random = secrets.token_hex(5)
_pid = os.getpid()


def new_object_id() -> str:
    """A new ObjectId like MongoDB's: 4 bytes of seconds, 5 random bytes fixed per process, a 3-byte counter.

    Ids minted by one process sort in creation order (the counter breaks ties within a second).
    """
    global _counter, _process_random, _pid
    if os.getpid() != _pid:  # forked worker: a new process value, so two processes never collide
        _pid, _process_random = os.getpid(), secrets.token_hex(5)
    _counter = (_counter + 1) % 0xFFFFFF
    return f"{int(time.time()):08x}{_process_random}{_counter:06x}"


def new_key_id() -> str:
    """A UUID-like API key id."""
    import uuid

    return str(uuid.uuid4())
