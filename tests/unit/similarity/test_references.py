import io
import json

import numpy as np
import numpy.typing as npt
import pytest
from skimage import data

from similarity.references import ReferenceFeatures, ReferenceFormatError
from similarity.verify import Keypoints, extract


def _features(copy_vector: bool = True) -> ReferenceFeatures:
    vector = np.random.default_rng(7).standard_normal(512).astype(np.float32)
    return ReferenceFeatures(extract(data.astronaut()), vector if copy_vector else None)


def _same(first: ReferenceFeatures, second: ReferenceFeatures) -> bool:
    a, b = first.keypoints, second.keypoints
    arrays = [(a.points, b.points), (a.descriptors, b.descriptors)]
    arrays.append((first.copy_vector, second.copy_vector))
    return (a.scale, a.width, a.height) == (b.scale, b.width, b.height) and all(
        (x is None and y is None)
        or (x is not None and y is not None and x.dtype == y.dtype and np.array_equal(x, y))
        for x, y in arrays
    )


@pytest.mark.parametrize("copy_vector", [True, False], ids=["with-descriptor", "without"])
def test_features_come_back_exactly_as_stored(copy_vector: bool) -> None:
    features = _features(copy_vector)
    assert features.keypoints.descriptors is not None
    assert len(features.keypoints.points) == 500
    assert _same(ReferenceFeatures.from_bytes(features.to_bytes()), features)


def test_an_image_too_small_for_orb_stores_no_keypoints() -> None:
    features = ReferenceFeatures(extract(np.zeros((20, 30, 3), np.uint8)), None)
    restored = ReferenceFeatures.from_bytes(features.to_bytes())
    assert restored.keypoints.descriptors is None
    assert restored.keypoints.points.shape == (0, 2)
    assert (restored.keypoints.width, restored.keypoints.height) == (30, 20)


def test_stored_features_stay_small() -> None:
    assert len(_features().to_bytes()) < 24_000


def test_every_truncation_is_refused() -> None:
    stored = _features().to_bytes()
    for length in range(0, len(stored), 97):
        with pytest.raises(ReferenceFormatError):
            ReferenceFeatures.from_bytes(stored[:length])


def test_a_flipped_bit_anywhere_in_the_codes_is_refused() -> None:
    features = _features()
    stored = features.to_bytes()
    codes = features.keypoints.descriptors
    assert codes is not None
    start = stored.index(codes.tobytes()[:64])
    for offset in range(start, start + codes.nbytes, 997):
        damaged = bytearray(stored)
        damaged[offset] ^= 0x01
        with pytest.raises(ReferenceFormatError):
            ReferenceFeatures.from_bytes(bytes(damaged))


def _archive(header: object, **arrays: npt.NDArray[np.generic]) -> bytes:
    buffer = io.BytesIO()
    encoded = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(buffer, allow_pickle=False, header=encoded, **arrays)
    return buffer.getvalue()


_HEADER = {"version": 1, "scale": 1.0, "width": 64, "height": 64}
_POINTS = np.zeros((3, 2), np.float32)
_CODES = np.zeros((3, 32), np.uint8)


@pytest.mark.parametrize(
    ("header", "arrays"),
    [
        ({**_HEADER, "version": 2}, {"points": _POINTS}),
        ([1, 2, 3], {"points": _POINTS}),
        ({"version": 1}, {"points": _POINTS}),
        (_HEADER, {}),
        (_HEADER, {"points": _POINTS.astype(np.float64)}),
        (_HEADER, {"points": np.zeros((3, 3), np.float32)}),
        (_HEADER, {"points": np.full((3, 2), np.nan, np.float32)}),
        (_HEADER, {"points": _POINTS, "descriptors": np.zeros((2, 32), np.uint8)}),
        (_HEADER, {"points": _POINTS, "descriptors": np.zeros((3, 16), np.uint8)}),
        (_HEADER, {"points": _POINTS, "descriptors": _CODES.astype(np.int16)}),
        ({**_HEADER, "scale": 0.0}, {"points": _POINTS}),
        ({**_HEADER, "scale": 1}, {"points": _POINTS}),
        ({**_HEADER, "scale": "1.0"}, {"points": _POINTS}),
        ({**_HEADER, "width": -5}, {"points": _POINTS}),
        ({**_HEADER, "height": True}, {"points": _POINTS}),
        ({**_HEADER, "width": 6.5}, {"points": _POINTS}),
        (_HEADER, {"points": _POINTS, "copy_vector": np.zeros(8, np.float64)}),
        (_HEADER, {"points": _POINTS, "copy_vector": np.zeros((2, 4), np.float32)}),
        (_HEADER, {"points": _POINTS, "copy_vector": np.array([np.inf, 0], np.float32)}),
    ],
    ids=[
        "unknown-version",
        "header-not-an-object",
        "header-incomplete",
        "no-points",
        "float64-points",
        "points-not-pairs",
        "nan-points",
        "fewer-codes-than-points",
        "short-codes",
        "codes-not-bytes",
        "zero-scale",
        "integer-scale",
        "text-scale",
        "negative-width",
        "boolean-height",
        "fractional-width",
        "float64-descriptor",
        "descriptor-not-a-vector",
        "infinite-descriptor",
    ],
)
def test_well_formed_archives_of_the_wrong_shape_are_refused(
    header: object, arrays: dict[str, npt.NDArray[np.generic]]
) -> None:
    with pytest.raises(ReferenceFormatError):
        ReferenceFeatures.from_bytes(_archive(header, **arrays))


def test_a_pickled_array_is_refused_unread() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array([{"version": 1}], dtype=object), points=_POINTS)
    with pytest.raises(ReferenceFormatError):
        ReferenceFeatures.from_bytes(buffer.getvalue())


def test_a_valid_archive_of_keypoints_reads_back() -> None:
    restored = ReferenceFeatures.from_bytes(_archive(_HEADER, points=_POINTS, descriptors=_CODES))
    assert isinstance(restored.keypoints, Keypoints)
    assert restored.copy_vector is None
