"""The content-addressed blob store."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.blobs import LocalBlobStore


@given(st.binary(max_size=4096))
def test_a_blob_is_named_by_its_digest_and_reads_back(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        store = LocalBlobStore(Path(directory))
        digest = store.put(data)
        assert digest == hashlib.sha256(data).hexdigest()
        assert store.get(digest) == data
        assert store.put(data) == digest


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "ABCDEF" * 10 + "ABCD", "", "0" * 63, "0" * 64 + "/..", "g" * 64]
)
def test_names_that_are_not_digests_are_refused(tmp_path: Path, name: str) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(ValueError, match="not a SHA-256"):
        store.get(name)


def test_missing_blob_is_a_key_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        LocalBlobStore(tmp_path).get("0" * 64)


def test_stale_digests_lists_only_old_blobs(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    old, new = store.put(b"old"), store.put(b"new")
    old_path = tmp_path / "sha256" / old[:2] / old[2:4] / old
    two_hours_ago = time.time() - 7200
    os.utime(old_path, (two_hours_ago, two_hours_ago))
    assert list(store.stale_digests(3600)) == [old]
    assert new not in list(store.stale_digests(3600))


@given(st.binary(max_size=3 * 1024 * 1024 + 17))
def test_a_streamed_blob_is_named_and_stored_as_if_put_whole(data: bytes) -> None:
    import io
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        store = LocalBlobStore(Path(directory))
        digest, size = store.put_stream(io.BytesIO(data), max_bytes=len(data))
        assert (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))
        assert store.get(digest) == data
        assert store.put_stream(io.BytesIO(data), max_bytes=len(data)) == (digest, size)
        assert not list((Path(directory) / "incoming").iterdir())


def test_a_stream_past_its_limit_stores_nothing(tmp_path: Path) -> None:
    import io

    from registry.blobs import BlobTooLarge

    store = LocalBlobStore(tmp_path)
    data = os.urandom(2 * 1024 * 1024 + 1)
    with pytest.raises(BlobTooLarge):
        store.put_stream(io.BytesIO(data), max_bytes=2 * 1024 * 1024)
    assert not store.exists(hashlib.sha256(data).hexdigest())
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []
