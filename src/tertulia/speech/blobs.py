"""Where original audio lives, and signed expiring URLs that the server itself serves (``GET /blobs/{key}``).

Keys look like ``{org_id}/{conversation_id}/{message_id}.wav``. A URL carries ``expires`` (Unix seconds) and
``signature`` = hex HMAC-SHA256 over ``"{key}\\n{expires}"`` with a key derived from the server secret, so anyone
holding the URL may fetch that one blob until it expires, and nothing else.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from tertulia.speech.ports import Blob

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*\.[a-z0-9]{2,4}$")
PREFIX_PATTERN = re.compile(r"^([A-Za-z0-9_-]+/)+$")  # whole folders only: "org/", "org/conversation/"
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "json": "application/json"}  # json: simulation artifacts
EXTENSIONS = {v: k for k, v in CONTENT_TYPES.items()}
LONG_LIVED = timedelta(hours=12)


def valid_key(key: str) -> bool:
    return bool(KEY_PATTERN.fullmatch(key)) and len(key) <= 256


def checked_prefix(prefix: str) -> str:
    """``prefix`` when it names whole folders (``"org/"``); ``ValueError`` otherwise (never the store's root)."""
    if not (PREFIX_PATTERN.fullmatch(prefix) and len(prefix) <= 256):
        raise ValueError(f"invalid blob prefix {prefix!r}")
    return prefix


def content_type_of(key: str) -> str:
    return CONTENT_TYPES.get(key.rsplit(".", 1)[-1], "application/octet-stream")


def message_key(org_id: str, conversation_id: str, message_id: str, content_type: str) -> str:
    return f"{org_id}/{conversation_id}/{message_id}.{EXTENSIONS.get(content_type, 'bin')}"


class UrlSigner:
    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"tertulia-blob-url-v1", hashlib.sha256).digest()

    def signature(self, key: str, expires: int) -> str:
        return hmac.new(self._key, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def verify(self, key: str, expires: int, signature: str, now: datetime) -> bool:
        if expires < int(now.timestamp()):
            return False
        return hmac.compare_digest(self.signature(key, expires), signature)

    def url(self, base_url: str, key: str, expires_at: datetime) -> str:
        expires = int(expires_at.timestamp())
        return f"{base_url.rstrip('/')}/blobs/{quote(key)}?expires={expires}&signature={self.signature(key, expires)}"


def expiry(now: datetime, ttl_seconds: int, long_lived: bool) -> datetime:
    ttl = LONG_LIVED if long_lived else timedelta(seconds=ttl_seconds)
    return (now + ttl).replace(microsecond=0).astimezone(UTC)


class FilesystemBlobStore:
    """Files under a root directory (default ``<data_dir>/blobs``); writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not valid_key(key):
            raise ValueError(f"invalid blob key {key!r}")
        return self.root / key

    def _put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put, key, data)

    async def get(self, key: str) -> Blob | None:
        if not valid_key(key):
            return None
        path = self._path(key)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        return Blob(data, content_type_of(key))

    async def delete(self, key: str) -> None:
        if valid_key(key):
            await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    def _delete_folder(self, prefix: str) -> int:
        folder = self.root / prefix
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return count

    async def delete_prefix(self, prefix: str) -> int:
        return await asyncio.to_thread(self._delete_folder, checked_prefix(prefix))


class S3BlobStore:
    """S3-compatible object storage through boto3 (the ``s3`` extra); credentials from boto3's usual chain.

    Tested against moto's S3 protocol server on loopback (tests/test_speech_s3.py).
    """

    def __init__(self, bucket: str, *, endpoint_url: str | None = None, region: str | None = None, prefix: str = "") -> None:
        try:
            import boto3
        except ImportError:
            raise RuntimeError("TERTULIA_BLOB_STORE=s3 needs boto3, which is not installed (pip install boto3).") from None
        self.bucket = bucket
        self.prefix = prefix
        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def _key(self, key: str) -> str:
        if not valid_key(key):
            raise ValueError(f"invalid blob key {key!r}")
        return f"{self.prefix}{key}"

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    async def get(self, key: str) -> Blob | None:
        def fetch() -> Blob | None:
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            except self.client.exceptions.NoSuchKey:
                return None
            return Blob(response["Body"].read(), response.get("ContentType") or content_type_of(key))

        return await asyncio.to_thread(fetch) if valid_key(key) else None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def _delete_folder(self, prefix: str) -> int:
        count = 0
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        for page in pages:  # at most 1,000 keys a page, and delete_objects takes at most 1,000
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                count += len(keys)
        return count

    async def delete_prefix(self, prefix: str) -> int:
        return await asyncio.to_thread(self._delete_folder, checked_prefix(prefix))
