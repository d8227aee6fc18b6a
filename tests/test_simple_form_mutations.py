"""``core.simple_form`` against Starlette's parser on mutated bodies: whatever bytes arrive, the one-pass reader
either declines (None) or builds exactly the form Starlette builds, never a form where Starlette refuses the body.

The mutations are seeded (the same 600 bodies on every run): flipped, inserted and deleted bytes, and spliced CRLFs,
dashes and header-like fragments, around the plain bodies the SDK's client sends."""

from __future__ import annotations

import random

import pytest
from starlette.formparsers import MultiPartException

from tertulia.core.simple_form import simple_form
from tests.test_simple_form import LIMITS, PLAIN, comparable, starlette_form

FRAGMENTS = [b"\r\n", b"--", b"\r\n\r\n", b": ", b";", b'"', b"name=", b"filename=", b"*", b"\\", b" ", b"\t",
             b"\x00", b"\xff", b"=?utf-8?", b"Content-Type: text/plain\r\n"]


def mutate(rng: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(data) + 1)
        roll = rng.random()
        if roll < 0.3 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif roll < 0.55 and data:
            del data[min(at, len(data) - 1): min(at, len(data) - 1) + rng.randint(1, 4)]
        else:
            data[at:at] = rng.choice(FRAGMENTS)
    return bytes(data)


def cases() -> list[tuple[bytes, str]]:
    rng = random.Random(20261202)
    return [(mutate(rng, body), content_type) for _ in range(120) for body, content_type in PLAIN]


async def test_a_mutated_body_is_read_as_starlette_reads_it_or_left_to_it() -> None:
    read = 0
    for body, content_type in cases():
        ours = simple_form(body, content_type, **LIMITS)
        if ours is None:
            continue
        read += 1
        try:
            theirs = await starlette_form(body, content_type)
        except MultiPartException as exc:
            pytest.fail(f"read a body Starlette refuses ({exc}): {body!r}")
        assert await comparable(ours) == await comparable(theirs), body
    assert read > 50  # the mutations leave many bodies in the plain shape: the comparison is not vacuous
