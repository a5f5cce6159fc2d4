"""Index files are replaced atomically: a reader sees the old file or the new one, never half."""

import os
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt


class IndexCorruptError(RuntimeError):
    """An index file is missing or unreadable; rebuild it from the stored fingerprints."""


def write_atomically(path: Path, payload: npt.NDArray[np.uint8] | bytes) -> None:
    """Write to a temporary file in the same directory, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(bytes(payload) if isinstance(payload, bytes) else payload.tobytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_bytes(path: Path) -> npt.NDArray[np.uint8]:
    """The file as a uint8 array (FAISS deserialisation input)."""
    try:
        return np.frombuffer(path.read_bytes(), dtype=np.uint8)
    except OSError as error:
        raise IndexCorruptError(f"cannot read index file {path}: {error}") from error
