"""What a query is checked against for a registered work, computed once when it is registered.

Invariant: `ReferenceFeatures.from_bytes(features.to_bytes())` gives back the very arrays that
were stored (float32 stays float32), so a candidate checked against its stored features gets the
verification and the second opinion it would get against features computed from its image now.
Damaged bytes raise `ReferenceFormatError`, never features that were not stored: every member
of the archive carries its own CRC-32, checked as it is read.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from similarity.verify import DESCRIPTOR_BYTES, Keypoints

FloatArray = npt.NDArray[np.float32]

_FORMAT_VERSION: Final = 1


class ReferenceFormatError(ValueError):
    """Stored reference features cannot be read back."""


@dataclass(frozen=True, slots=True, eq=False)
class ReferenceFeatures:
    """A registered work's ORB keypoints (about 20 KB) and copy descriptor (2 KB), if any."""

    keypoints: Keypoints
    copy_vector: FloatArray | None

    def to_bytes(self) -> bytes:
        """NumPy .npz, pickle-free and uncompressed: ORB codes are near-random bits that
        deflate shrank by 8%, not worth inflating on every read."""
        keypoints = self.keypoints
        header = {
            "version": _FORMAT_VERSION,
            "scale": keypoints.scale,
            "width": keypoints.width,
            "height": keypoints.height,
        }
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            "points": keypoints.points,
        }
        if keypoints.descriptors is not None:
            arrays["descriptors"] = keypoints.descriptors
        if self.copy_vector is not None:
            arrays["copy_vector"] = self.copy_vector
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceFeatures:
        """Read the output of `to_bytes`, checking every array's type and shape."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                header = json.loads(bytes(archive["header"]).decode())
                if not isinstance(header, dict) or header.get("version") != _FORMAT_VERSION:
                    raise ReferenceFormatError(f"unknown reference features version {header!r}")
                points = archive["points"]
                descriptors = archive.get("descriptors")
                copy_vector = archive.get("copy_vector")
                scale, width, height = header["scale"], header["width"], header["height"]
        except ReferenceFormatError:
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
            raise ReferenceFormatError(f"unreadable reference features: {error}") from error
        _check_keypoints(points, descriptors, scale, width, height)
        if copy_vector is not None and (
            copy_vector.dtype != np.float32
            or copy_vector.ndim != 1
            or not np.isfinite(copy_vector).all()
        ):
            raise ReferenceFormatError("the stored copy descriptor is not a finite float32 vector")
        return cls(Keypoints(points, descriptors, float(scale), width, height), copy_vector)


def _check_keypoints(
    points: npt.NDArray[np.generic],
    descriptors: npt.NDArray[np.generic] | None,
    scale: object,
    width: object,
    height: object,
) -> None:
    if points.dtype != np.float32 or points.ndim != 2 or points.shape[1] != 2:
        raise ReferenceFormatError(f"stored keypoints have shape {points.shape} ({points.dtype})")
    if not np.isfinite(points).all():
        raise ReferenceFormatError("stored keypoints are not finite")
    if descriptors is not None and (
        descriptors.dtype != np.uint8 or descriptors.shape != (len(points), DESCRIPTOR_BYTES)
    ):
        raise ReferenceFormatError(
            f"stored ORB codes have shape {descriptors.shape} ({descriptors.dtype}) "
            f"for {len(points)} keypoints"
        )
    if not isinstance(scale, float) or not math.isfinite(scale) or scale <= 0:
        raise ReferenceFormatError(f"stored keypoint scale {scale!r} is not a positive number")
    for side in (width, height):
        if not isinstance(side, int) or isinstance(side, bool) or side <= 0:
            raise ReferenceFormatError(f"stored image side {side!r} is not a positive integer")
