"""The content-addressed blob store: one contract, kept by the local store and the S3 store."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.blobs import (
    BlobStore,
    BlobTooLarge,
    LocalBlobStore,
    S3BlobStore,
    S3Location,
    blob_stores,
)
from registry.errors import StorageFault, Unavailable
from tests.support.receivers import free_port

HOSTILE_NAMES = [
    "../../etc/passwd",
    "ABCDEF" * 10 + "ABCD",
    "",
    "0" * 63,
    "0" * 64 + "/..",
    "g" * 64,
    "../" + "0" * 61,
    "0" * 32 + "/" + "0" * 31,
    "0" * 64 + "\n",
    "0" * 64 + "\x00",
    "%2e%2e%2f" + "0" * 55,
]


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path)
    url: str = request.getfixturevalue("s3_blob_url")
    return S3BlobStore(S3Location.parse(url))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=20)
@given(st.binary(max_size=4096))
def test_a_blob_is_named_by_its_digest_and_reads_back(store: BlobStore, data: bytes) -> None:
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.get(digest) == data
    assert store.exists(digest)
    assert store.put(data) == digest


def test_a_large_blob_reads_back_whole(store: BlobStore) -> None:
    data = os.urandom(12 * 1024 * 1024)
    assert store.get(store.put(data)) == data


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_names_that_are_not_digests_are_refused(store: BlobStore, name: str) -> None:
    for use in (store.get, store.exists, store.delete):
        with pytest.raises(ValueError, match="not a SHA-256"):
            use(name)


def test_missing_blob_is_a_key_error_and_does_not_exist(store: BlobStore) -> None:
    with pytest.raises(KeyError):
        store.get("0" * 64)
    assert not store.exists("0" * 64)


def test_a_deleted_blob_is_gone_and_deleting_again_is_harmless(store: BlobStore) -> None:
    digest = store.put(b"short-lived")
    store.delete(digest)
    assert not store.exists(digest)
    store.delete(digest)
    with pytest.raises(KeyError):
        store.get(digest)


def test_fresh_blobs_are_not_stale_and_every_blob_is_stale_after_the_cutoff(
    store: BlobStore,
) -> None:
    digests = {store.put(b"one"), store.put(b"two")}
    assert list(store.stale_digests(3600)) == []
    time.sleep(1.1)
    assert set(store.stale_digests(1)) == digests


def test_stale_digests_lists_only_old_local_blobs(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    old = store.put(b"old")
    store.put(b"new")
    old_path = tmp_path / "sha256" / old[:2] / old[2:4] / old
    two_hours_ago = time.time() - 7200
    os.utime(old_path, (two_hours_ago, two_hours_ago))
    assert list(store.stale_digests(3600)) == [old]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=10)
@given(st.binary(max_size=3 * 1024 * 1024 + 17))
def test_a_streamed_blob_is_named_and_stored_as_if_put_whole(store: BlobStore, data: bytes) -> None:
    digest, size = store.put_stream(io.BytesIO(data), max_bytes=len(data))
    assert (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert store.get(digest) == data
    assert store.put_stream(io.BytesIO(data), max_bytes=len(data)) == (digest, size)


def test_a_stream_past_its_limit_stores_nothing(store: BlobStore) -> None:
    data = os.urandom(2 * 1024 * 1024 + 1)
    with pytest.raises(BlobTooLarge):
        store.put_stream(io.BytesIO(data), max_bytes=2 * 1024 * 1024)
    assert not store.exists(hashlib.sha256(data).hexdigest())
    assert list(store.stale_digests(-3600)) == []


def test_a_local_stream_leaves_no_temporary_file_either_way(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put_stream(io.BytesIO(b"kept"), max_bytes=4)
    with pytest.raises(BlobTooLarge):
        store.put_stream(io.BytesIO(b"refused"), max_bytes=4)
    assert not list((tmp_path / "incoming").iterdir())


@pytest.mark.s3
def test_s3_keys_follow_the_local_layout_under_the_prefix(s3_blob_url: str) -> None:
    registry, evidence = blob_stores(s3_blob_url, Path("unused"), Path("unused"))
    digest = registry.put(b"work")
    assert isinstance(registry, S3BlobStore)
    client = registry.location.client()
    prefix = S3Location.parse(s3_blob_url).prefix
    listing = client.list_objects_v2(Bucket=registry.location.bucket, Prefix=prefix)
    keys = [item["Key"] for item in listing["Contents"]]
    assert keys == [f"{prefix}blobs/sha256/{digest[:2]}/{digest[2:4]}/{digest}"]
    assert not evidence.exists(digest)


@pytest.mark.s3
def test_an_s3_object_that_does_not_hash_to_its_key_is_damage(s3_blob_url: str) -> None:
    store = S3BlobStore(S3Location.parse(s3_blob_url))
    digest = store.put(b"original")
    store.location.client().put_object(
        Bucket=store.location.bucket, Key=store._key(digest), Body=b"tampered"
    )
    with pytest.raises(StorageFault, match="damaged"):
        store.get(digest)


def test_an_unreachable_s3_endpoint_is_unavailable_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unused")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unused")
    closed = f"s3://nowhere?endpoint=http://127.0.0.1:{free_port()}&region=us-east-1"
    store = S3BlobStore(S3Location.parse(closed))
    with pytest.raises(Unavailable, match="cannot be reached"):
        store.put(b"data")


@pytest.mark.parametrize(
    "url",
    ["", "file:///tmp/blobs", "s3://", "s3:///prefix", "http://bucket/prefix", "bucket/prefix"],
)
def test_a_blob_url_that_is_not_s3_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="s3://bucket"):
        S3Location.parse(url)


def test_a_blob_url_names_bucket_prefix_endpoint_and_region() -> None:
    location = S3Location.parse("s3://works/copymark/?endpoint=http://127.0.0.1:9000&region=eu-1")
    assert location == S3Location("works", "copymark/", "http://127.0.0.1:9000", "eu-1")
    assert location.under("evidence").prefix == "copymark/evidence/"
