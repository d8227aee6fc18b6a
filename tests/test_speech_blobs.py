"""The blob store and its signed, expiring URLs served at GET /blobs/{key}."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tertulia.core.clock import utcnow
from tertulia.core.ids import new_object_id
from tertulia.runtime import Runtime
from tertulia.speech.blobs import FilesystemBlobStore, UrlSigner, expiry, message_key, valid_key
from tertulia.speech.voice import discard, message_source, store_original


def test_keys_are_confined_to_safe_relative_paths() -> None:
    assert valid_key("a1/b2/c3.wav")
    for bad in ("../etc/passwd.wav", "/abs/x.wav", "a/../b.wav", "a//b.wav", "a/b", "a/b.wav\n", "a b/c.wav"):
        assert not valid_key(bad), bad


async def test_filesystem_store_round_trip(tmp_path) -> None:
    store = FilesystemBlobStore(tmp_path)
    await store.put("o/c/m.mp3", b"ID3 data", "audio/mpeg")
    blob = await store.get("o/c/m.mp3")
    assert blob.data == b"ID3 data" and blob.content_type == "audio/mpeg"
    assert await store.get("o/c/missing.wav") is None
    assert await store.get("../x.wav") is None
    with pytest.raises(ValueError):
        await store.put("../escape.wav", b"x", "audio/wav")
    await store.delete("o/c/m.mp3")
    assert await store.get("o/c/m.mp3") is None
    assert not list(tmp_path.rglob("*.part"))


async def test_filesystem_delete_prefix_removes_one_folder_only(tmp_path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    for key in ("orgA/c1/m1.wav", "orgA/c2/m2.mp3", "orgAB/c3/m3.wav"):
        await store.put(key, b"audio", "audio/wav")
    (tmp_path / "outside.wav").write_bytes(b"keep")
    assert await store.delete_prefix("orgA/") == 2
    assert await store.get("orgA/c1/m1.wav") is None and await store.get("orgAB/c3/m3.wav") is not None
    assert await store.delete_prefix("orgA/") == 0
    for bad in ("", "orgA", "../", "orgA/../", "/abs/"):
        with pytest.raises(ValueError):
            await store.delete_prefix(bad)
    assert (tmp_path / "outside.wav").read_bytes() == b"keep"


def test_signatures_bind_key_and_expiry() -> None:
    signer, other = UrlSigner("secret-a"), UrlSigner("secret-b")
    now = utcnow()
    expires = int((now + timedelta(minutes=5)).timestamp())
    sig = signer.signature("o/c/m.wav", expires)
    assert signer.verify("o/c/m.wav", expires, sig, now)
    assert not signer.verify("o/c/n.wav", expires, sig, now)
    assert not signer.verify("o/c/m.wav", expires + 1, sig, now)
    assert not other.verify("o/c/m.wav", expires, sig, now)
    assert not signer.verify("o/c/m.wav", expires, sig, now + timedelta(minutes=6))
    assert expiry(now, 900, True) - now > timedelta(hours=11, minutes=59)


async def test_signed_url_serves_the_blob_until_it_expires(runtime: Runtime, client: httpx.AsyncClient) -> None:
    org, conv, msg = "org" + new_object_id()[:6], new_object_id(), new_object_id()
    key = await store_original(runtime, org, conv, msg, b"RIFF....WAVEdata", "audio/wav")
    assert key == message_key(org, conv, msg, "audio/wav") == f"{org}/{conv}/{msg}.wav"
    source = message_source(runtime, key=key, content_type="audio/wav", base_url="http://tertulia.test/")
    assert source["content_type"] == "audio/wav"
    url = urlsplit(source["url"])
    assert url.scheme == "http" and url.netloc == "tertulia.test" and url.path == f"/blobs/{key}"
    response = await client.get(source["url"])
    assert response.status_code == 200 and response.content == b"RIFF....WAVEdata"
    assert response.headers["content-type"] == "audio/wav"

    query = parse_qs(url.query)
    expires, signature = int(query["expires"][0]), query["signature"][0]
    tampered = await client.get(f"/blobs/{key}", params={"expires": expires + 60, "signature": signature})
    assert tampered.status_code == 403
    other = f"{org}/{conv}/{new_object_id()}.wav"
    assert (await client.get(f"/blobs/{other}", params={"expires": expires, "signature": signature})).status_code == 403
    past = int((utcnow() - timedelta(seconds=1)).timestamp())
    signer = runtime.speech.signer
    expired = await client.get(f"/blobs/{key}", params={"expires": past, "signature": signer.signature(key, past)})
    assert expired.status_code == 403
    assert (await client.get(f"/blobs/{key}")).status_code == 422

    await discard(runtime, key)
    assert (await client.get(source["url"])).status_code == 404


async def test_long_lived_urls_last_twelve_hours(runtime: Runtime) -> None:
    short = message_source(runtime, key="o/c/m.mp3", content_type="audio/mpeg", base_url="http://h/")
    long = message_source(runtime, key="o/c/m.mp3", content_type="audio/mpeg", base_url="http://h/", long_lived=True)
    from datetime import datetime

    now = utcnow()
    assert timedelta(minutes=1) < datetime.fromisoformat(short["expires_at"]) - now <= timedelta(hours=1)
    assert timedelta(hours=11) < datetime.fromisoformat(long["expires_at"]) - now <= timedelta(hours=12)
    assert long["content_type"] == "audio/mpeg" and datetime.fromisoformat(long["expires_at"]).tzinfo is not None
