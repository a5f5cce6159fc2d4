"""Content-addressed blob store: blobs are named by their SHA-256, so writes are idempotent."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final, Protocol

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
STREAM_CHUNK: Final = 1024 * 1024


class BlobTooLarge(ValueError):
    """A streamed blob passed the size its writer allows; nothing was stored."""


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
        if not _SHA256_HEX.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256[:80]!r}")
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
            if _SHA256_HEX.match(path.name) and path.stat().st_mtime < cutoff:
                yield path.name
