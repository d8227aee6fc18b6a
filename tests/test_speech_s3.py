"""The S3-compatible blob store against a real S3 protocol server on loopback (moto's server mode)."""

from __future__ import annotations

import socket

import pytest

boto3 = pytest.importorskip("boto3", reason="the 's3' extra (boto3) is not installed")
moto_server = pytest.importorskip("moto.server", reason="moto[server] (test extra) is not installed")

from tertulia.speech.blobs import S3BlobStore  # noqa: E402


@pytest.fixture(scope="module")
def s3_endpoint(monkeypatch_module):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_ACCESS_KEY_ID", "tertulia-test")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "tertulia-test")
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield mp
    mp.undo()


async def test_put_get_delete_round_trip(s3_endpoint):
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket="audio")
    store = S3BlobStore("audio", endpoint_url=s3_endpoint, region="us-east-1", prefix="tertulia/")
    key = "org1/" + "a" * 24 + "/" + "b" * 24 + ".wav"
    await store.put(key, b"RIFF-audio", "audio/wav")
    blob = await store.get(key)
    assert blob is not None and blob.data == b"RIFF-audio" and blob.content_type == "audio/wav"
    listed = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").list_objects_v2(Bucket="audio")
    assert [o["Key"] for o in listed["Contents"]] == [f"tertulia/{key}"]
    await store.delete(key)
    assert await store.get(key) is None
    assert await store.get("../escape") is None


async def test_delete_prefix_removes_one_folder_only(s3_endpoint):
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket="purge")
    store = S3BlobStore("purge", endpoint_url=s3_endpoint, region="us-east-1", prefix="t/")
    gone = [f"orgA/{'c' * 24}/{i:024d}.wav" for i in range(3)]
    kept = "orgAB/" + "c" * 24 + "/" + "d" * 24 + ".mp3"  # same leading letters, another folder
    for key in (*gone, kept):
        await store.put(key, b"audio", "audio/wav")
    assert await store.delete_prefix("orgA/") == 3
    assert all([await store.get(k) is None for k in gone])
    assert (await store.get(kept)).data == b"audio"
    assert await store.delete_prefix("orgA/") == 0
    with pytest.raises(ValueError):
        await store.delete_prefix("")
