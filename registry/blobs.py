"""Content-addressed blob store: blobs are named by their SHA-256, so writes are idempotent.

A blob becomes visible whole or not at all (a renamed temp file, one S3 PutObject), and is
written before the transaction that refers to it commits; a blob whose transaction rolled back
is an orphan that `stale_digests` lets recovery find and delete. Only a SHA-256 hex digest is
ever turned into a path or an object key, so no name a client sends can reach another file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Protocol
from urllib.parse import parse_qs, urlsplit

from registry.errors import StorageFault, Unavailable
from registry.messages import N_

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
STREAM_CHUNK: Final = 1024 * 1024


class BlobTooLarge(ValueError):
    """A streamed blob passed the size its writer allows; nothing was stored."""


class StorageUnavailable(Unavailable):
    """Blob storage cannot be reached or refused a request: a 503 to a client, and a task that
    met it is tried again later. Nothing that needed the blob was written."""

    code = "storage_unavailable"


def _checked(sha256: str) -> str:
    if not _SHA256_HEX.fullmatch(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256[:80]!r}")
    return sha256


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def put_stream(self, stream: BinaryIO, max_bytes: int) -> tuple[str, int]: ...

    def get(self, sha256: str) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None: ...

    def stale_digests(self, older_than_s: float) -> Iterator[str]: ...


class LocalBlobStore:
    """Blobs as files under root/sha256/ab/cd/<digest>, written via temp file and rename."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        _checked(sha256)
        return self.root / "sha256" / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return digest

    def put_stream(self, stream: BinaryIO, max_bytes: int) -> tuple[str, int]:
        """Copy a stream into the store a chunk at a time, hashing as it goes: (digest, size).

        At most one chunk is in memory; past max_bytes it raises BlobTooLarge, keeping nothing.
        The bytes land in a temporary file first and are renamed to their digest once known.
        """
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=incoming, prefix=".tmp-")
        hasher = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                while chunk := stream.read(STREAM_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise BlobTooLarge(f"more than {max_bytes} bytes")
                    hasher.update(chunk)
                    handle.write(chunk)
            digest = hasher.hexdigest()
            path = self._path(digest)
            if path.exists():
                Path(tmp_name).unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return digest, size

    def get(self, sha256: str) -> bytes:
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError:
            raise KeyError(sha256) from None

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)

    def stale_digests(self, older_than_s: float) -> Iterator[str]:
        """Digests of blobs last written more than older_than_s seconds ago."""
        cutoff = time.time() - older_than_s
        base = self.root / "sha256"
        if not base.exists():
            return
        for path in base.glob("*/*/*"):
            if _SHA256_HEX.fullmatch(path.name) and path.stat().st_mtime < cutoff:
                yield path.name


@dataclass(frozen=True)
class S3Location:
    """Where an S3 store keeps its blobs: `s3://bucket[/prefix][?endpoint=URL&region=NAME]`.

    Credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
    a profile, an instance role), never from the URL, so the URL can be logged.
    """

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """Read a blob URL; anything but `s3://bucket...` is a configuration error."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"a blob URL looks like s3://bucket/prefix?endpoint=URL, not {url!r}")
        query = parse_qs(parts.query)
        prefix = parts.path.strip("/")
        return cls(
            bucket=parts.netloc,
            prefix=f"{prefix}/" if prefix else "",
            endpoint=query.get("endpoint", [None])[0],
            region=query.get("region", [None])[0],
        )

    def under(self, folder: str) -> S3Location:
        """The same bucket with `folder/` appended to the prefix."""
        return S3Location(self.bucket, f"{self.prefix}{folder}/", self.endpoint, self.region)

    def client(self) -> S3Client:
        """A boto3 client for the bucket (one per store; boto3 clients are thread-safe)."""
        import boto3
        from botocore.config import Config

        config = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=5)
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=self.region, config=config
        )


class S3BlobStore:
    """Blobs as objects `<prefix>sha256/ab/cd/<digest>` in an S3 bucket, the local store's layout.

    A PutObject is atomic, so no reader ever sees part of a blob. A blob read back is checked
    against its name: an object that does not hash to its key is damage, not data.
    """

    def __init__(self, location: S3Location, client: S3Client | None = None) -> None:
        self.location = location
        self._client = client or location.client()

    def _key(self, sha256: str) -> str:
        _checked(sha256)
        return f"{self.location.prefix}sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        with _s3_errors():
            # Putting again refreshes the object's age, so a blob that a registration in flight
            # is about to reference is never old enough for orphan cleanup.
            self._client.put_object(Bucket=self.location.bucket, Key=self._key(digest), Body=data)
        return digest

    def put_stream(self, stream: BinaryIO, max_bytes: int) -> tuple[str, int]:
        """Spool a stream to a local temporary file while hashing it, then put it: (digest, size).

        The object's key is its digest, known only once the stream ends, and a PutObject keeps
        the blob whole-or-nothing; at most one chunk is in memory. Past max_bytes it raises
        BlobTooLarge and nothing reaches the bucket.
        """
        hasher = hashlib.sha256()
        size = 0
        with tempfile.TemporaryFile(prefix="copymark-upload-") as spool:
            while chunk := stream.read(STREAM_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge(f"more than {max_bytes} bytes")
                hasher.update(chunk)
                spool.write(chunk)
            digest = hasher.hexdigest()
            spool.seek(0)
            with _s3_errors():
                self._client.put_object(
                    Bucket=self.location.bucket,
                    Key=self._key(digest),
                    Body=spool,
                    ContentLength=size,
                )
        return digest, size

    def get(self, sha256: str) -> bytes:
        key = self._key(sha256)
        with _s3_errors():
            try:
                response = self._client.get_object(Bucket=self.location.bucket, Key=key)
            except self._client.exceptions.NoSuchKey:
                raise KeyError(sha256) from None
            data = response["Body"].read()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageFault(
                N_("the stored blob %(sha256)s is damaged: its bytes hash differently"),
                sha256=sha256,
            )
        return data

    def exists(self, sha256: str) -> bool:
        key = self._key(sha256)
        with _s3_errors():
            try:
                self._client.head_object(Bucket=self.location.bucket, Key=key)
            except self._client.exceptions.ClientError as error:
                if _status(error) == 404:
                    return False
                raise
        return True

    def delete(self, sha256: str) -> None:
        key = self._key(sha256)
        with _s3_errors():
            self._client.delete_object(Bucket=self.location.bucket, Key=key)

    def stale_digests(self, older_than_s: float) -> Iterator[str]:
        """Digests of blobs last written more than older_than_s seconds ago."""
        cutoff = time.time() - older_than_s
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=f"{self.location.prefix}sha256/"
        )
        with _s3_errors():
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"].rsplit("/", 1)[-1]
                    if _SHA256_HEX.fullmatch(name) and item["LastModified"].timestamp() < cutoff:
                        yield name


def _status(error: Exception) -> int | None:
    response: Any = getattr(error, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


@contextlib.contextmanager
def _s3_errors() -> Iterator[None]:
    """Turn an unreachable or refusing S3 endpoint into StorageUnavailable (503: try later)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        if _status(error) == 404:
            raise
        raise StorageUnavailable(
            N_("blob storage refused the request; try again shortly")
        ) from error
    except BotoCoreError as error:
        raise StorageUnavailable(N_("blob storage cannot be reached; try again shortly")) from error


def blob_stores(blob_url: str, blob_dir: Path, evidence_dir: Path) -> tuple[BlobStore, BlobStore]:
    """The registry's store and the evidence store: files in the two folders, or an S3 bucket.

    They are separate stores because the registry's orphan cleanup deletes any blob that no
    work references, which every evidence bundle is.
    """
    if not blob_url:
        return LocalBlobStore(blob_dir), LocalBlobStore(evidence_dir)
    location = S3Location.parse(blob_url)
    client = location.client()
    return (
        S3BlobStore(location.under("blobs"), client),
        S3BlobStore(location.under("evidence"), client),
    )
