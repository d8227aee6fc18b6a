"""Verified id tokens are remembered per process (one HMAC check per token, not two per request) without ever
accepting what a fresh check would refuse: an expired token, a token under another secret, a forged one."""

from __future__ import annotations

import time

import jwt

from tertulia.auth.security import ISSUER, read_token

SECRET = "cache-test-secret-" + "s" * 40


def token(exp: float, secret: str = SECRET) -> str:
    return jwt.encode({"iss": ISSUER, "sub": "u1", "org": "o1", "exp": int(exp)}, secret, algorithm="HS256")


def test_a_remembered_token_stops_being_accepted_when_it_expires():
    t = token(time.time() + 2)
    first, second = read_token(SECRET, t), read_token(SECRET, t)
    assert first is not None and second is first  # the second read came from the cache
    while time.time() < int(jwt.decode(t, options={"verify_signature": False})["exp"]):
        time.sleep(0.05)
    assert read_token(SECRET, t) is None


def test_a_remembered_token_is_not_valid_under_another_secret():
    t = token(time.time() + 600)
    assert read_token(SECRET, t) is not None
    assert read_token("another-secret-" + "o" * 40, t) is None


def test_forged_and_malformed_tokens_are_refused_every_time():
    forged = token(time.time() + 600, secret="not-the-secret-" + "f" * 40)
    for _ in range(2):
        assert read_token(SECRET, forged) is None
        assert read_token(SECRET, "not.a.token") is None
    assert read_token(SECRET, token(time.time() - 1)) is None
