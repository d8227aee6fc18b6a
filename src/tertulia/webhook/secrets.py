"""Webhook signing secrets: generated here, sealed at rest with Fernet (AES-128-CBC + HMAC) under a key derived from
the deployment's secret (``runtime.jwt_secret``, kept in ``data_dir`` or ``TERTULIA_JWT_SECRET``), never logged.
Changing that deployment secret makes stored webhook secrets unreadable: rotate every destination afterwards."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _secrets

from cryptography.fernet import Fernet


def new_secret() -> str:
    return _secrets.token_urlsafe(32)


def _fernet(master: str) -> Fernet:
    key = hashlib.sha256(b"tertulia-webhook-secret-v1:" + master.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, master: str) -> str:
    return _fernet(master).encrypt(secret.encode()).decode()


def unseal(token: str, master: str) -> str:
    return _fernet(master).decrypt(token.encode()).decode()


def sign(secret: str, timestamp: str, body: str) -> str:
    """Hex HMAC-SHA256 over ``v1:{timestamp}:{body}`` (what ``amigo_sdk.webhooks.verify_signature`` checks)."""
    return hmac.new(secret.encode(), f"v1:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
