import cv2
import numpy as np
import pytest
from skimage import data

import similarity.verify
from similarity.verify import _ransac_iterations, verify

ASTRONAUT = data.astronaut()


def test_crop_is_verified_with_its_region() -> None:
    outcome = verify(np.ascontiguousarray(ASTRONAUT[100:380, 150:430]), ASTRONAUT)
    assert outcome.verified
    assert outcome.region is not None
    top_left = outcome.region[0]
    assert abs(top_left[0] + 150) < 15
    assert abs(top_left[1] + 100) < 15


def test_rotated_copy_is_verified() -> None:
    rotation = cv2.getRotationMatrix2D((256, 256), 15, 1)
    assert verify(cv2.warpAffine(ASTRONAUT, rotation, (512, 512)), ASTRONAUT).verified


def test_mirrored_copy_is_verified_as_mirrored() -> None:
    outcome = verify(np.ascontiguousarray(ASTRONAUT[:, ::-1]), ASTRONAUT)
    assert outcome.verified
    assert outcome.mirrored


def test_unrelated_images_are_not_verified() -> None:
    assert not verify(data.coffee(), ASTRONAUT).verified
    assert not verify(data.chelsea(), data.rocket()).verified


def test_flat_query_is_not_verified() -> None:
    assert not verify(np.zeros((64, 64, 3), np.uint8), ASTRONAUT).verified


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "rocket"])
@pytest.mark.parametrize("scale", [0.15, 0.2])
def test_thumbnail_is_verified_against_its_original(name: str, scale: float) -> None:
    original = getattr(data, name)()
    thumbnail = cv2.resize(original, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    outcome = verify(thumbnail, original)
    assert outcome.verified
    assert outcome.region is not None
    # The original's outline lands on the thumbnail's frame.
    assert abs(outcome.region[2][0] - thumbnail.shape[1]) < 0.1 * thumbnail.shape[1]


@pytest.mark.parametrize(("query", "reference"), [("coffee", "astronaut"), ("chelsea", "rocket")])
def test_thumbnail_of_an_unrelated_image_is_not_verified(query: str, reference: str) -> None:
    small = cv2.resize(getattr(data, query)(), None, fx=0.15, fy=0.15, interpolation=cv2.INTER_AREA)
    assert not verify(small, getattr(data, reference)()).verified


@pytest.mark.parametrize(
    ("matches", "iterations"), [(15, 300), (150, 300), (200, 652), (400, 2000)]
)
def test_ransac_runs_as_long_as_the_weakest_verifiable_consensus_needs(
    matches: int, iterations: int
) -> None:
    # Up to 150 matches, 40% of them must agree (204 iterations, raised to the floor); beyond,
    # 60 inliers suffice and a smaller share takes longer to draw, up to OpenCV's 2,000.
    assert _ransac_iterations(matches) == iterations


def test_capped_ransac_finds_what_the_full_run_finds_on_copies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rotation = cv2.getRotationMatrix2D((256, 256), 15, 1)
    queries = [
        np.ascontiguousarray(ASTRONAUT[100:380, 150:430]),
        cv2.warpAffine(ASTRONAUT, rotation, (512, 512)),
        np.ascontiguousarray(ASTRONAUT[:, ::-1]),
    ]
    capped = [verify(query, ASTRONAUT) for query in queries]
    monkeypatch.setattr(similarity.verify, "_ransac_iterations", lambda _matches: 2000)
    assert capped == [verify(query, ASTRONAUT) for query in queries]
