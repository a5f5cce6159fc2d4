"""Geometric verification: do the query and a reference share a planar region (ORB + RANSAC)?

A candidate is verified when enough keypoint matches agree on one homography and they are a fair
share of all the matches (repeated glyphs on unrelated text pages agree by accident). The query
is also tried mirrored, because ORB descriptors are not mirror-invariant. The matched region is
the reference's outline projected into the query's coordinates.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from similarity.hashes import fit, shrink

RGBArray = npt.NDArray[np.uint8]
Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]

VERIFY_SIDE: Final = 512
MIN_INLIERS: Final = 15
# Two unrelated pages of text in one font share many glyphs: ORB pairs up 70-200 keypoints and
# RANSAC finds 15-57 that agree on a shift lining up a few identical words. Measured by
# `bench.calibration` (never-registered images against their ten nearest registered works, 6,020
# pairs), such pairs had at most 36% of their matches as inliers, while true copies mostly have
# half or more: demanding 40% cost 1.3 points of verified true pairs (0.803 -> 0.790 of 300
# fresh copies). Past ENOUGH_INLIERS the share no longer matters (57 was the most any unrelated
# pair reached).
MIN_INLIER_SHARE: Final = 0.4
ENOUGH_INLIERS: Final = 60
_RATIO: Final = 0.8
# A query whose longer side is this many times smaller than the reference's is a thumbnail.
THUMBNAIL_RATIO: Final = 2
_FEATURES: Final = 500
# An ORB descriptor is 256 bits.
DESCRIPTOR_BYTES: Final = 32
# ORB's 31-pixel patches need this much image around each keypoint.
_MIN_SIDE: Final = 48
# RANSAC stops early only once its best consensus is large, so an unrelated pair ran all of
# OpenCV's 2,000 iterations (about 5 ms, most of verification's cost). A pair now gets as many as
# find, at RANSAC's own confidence, a four-inlier sample of the weakest consensus that would
# verify (`_ransac_iterations`), and never fewer than the floor: four noisy inliers do not always
# recover their whole consensus (at the bare count, one of 296 development pairs lost 2 of its 15
# inliers and its verification).
_RANSAC_CONFIDENCE: Final = 0.995
_RANSAC_MIN_ITERATIONS: Final = 300
_RANSAC_MAX_ITERATIONS: Final = 2000


@dataclass(frozen=True, slots=True)
class Verification:
    """Outcome of matching one query against one reference."""

    inliers: int
    region: Quad | None
    mirrored: bool = False
    matches: int = 0

    @property
    def verified(self) -> bool:
        """Enough geometrically consistent matches, and few enough inconsistent ones, to call
        the pair a copy."""
        if self.region is None or self.inliers < MIN_INLIERS:
            return False
        return self.inliers >= ENOUGH_INLIERS or self.inliers >= MIN_INLIER_SHARE * self.matches


@dataclass(frozen=True, slots=True)
class Keypoints:
    """ORB features of one image at verification size, and the scale back to the caller's."""

    points: npt.NDArray[np.float32]
    descriptors: npt.NDArray[np.uint8] | None
    scale: float
    width: int
    height: int


NOT_VERIFIED: Final = Verification(0, None)


def extract(rgb: RGBArray, enlarge_to: int | None = None) -> Keypoints:
    """ORB keypoints of an RGB image, detected on a copy shrunk to VERIFY_SIDE, or resized so its
    longer side is `enlarge_to`."""
    small = shrink(rgb, VERIFY_SIDE) if enlarge_to is None else fit(rgb, enlarge_to)
    if min(small.shape[:2]) < _MIN_SIDE:
        return Keypoints(np.empty((0, 2), np.float32), None, 1.0, rgb.shape[1], rgb.shape[0])
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    orb = cv2.ORB.create(nfeatures=_FEATURES, fastThreshold=10)
    keypoints, descriptors = orb.detectAndCompute(grey, None)
    points = np.array([keypoint.pt for keypoint in keypoints], dtype=np.float32).reshape(-1, 2)
    scale = rgb.shape[1] / small.shape[1]
    codes = None if descriptors is None else np.asarray(descriptors, dtype=np.uint8)
    return Keypoints(points, codes, scale, rgb.shape[1], rgb.shape[0])


class QueryFeatures:
    """A query's features, with the mirrored image's extracted only when first needed."""

    def __init__(self, rgb: RGBArray) -> None:
        self.rgb = rgb
        self.direct = extract(rgb)
        self._enlarged: dict[int, Keypoints] = {}

    def enlarged(self, side: int) -> Keypoints:
        """Features of the query enlarged so its longer side is `side`."""
        if side not in self._enlarged:
            self._enlarged[side] = extract(self.rgb, enlarge_to=side)
        return self._enlarged[side]

    @functools.cached_property
    def mirrored(self) -> Keypoints:
        """Features of the horizontally mirrored query."""
        return extract(np.ascontiguousarray(self.rgb[:, ::-1]))


def _match(query: Keypoints, reference: Keypoints) -> Verification:
    if (
        query.descriptors is None
        or reference.descriptors is None
        or len(query.descriptors) < 2
        or len(reference.descriptors) < 2
    ):
        return NOT_VERIFIED
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(query.descriptors, reference.descriptors, k=2)
    good = [
        pair[0] for pair in pairs if len(pair) == 2 and pair[0].distance < _RATIO * pair[1].distance
    ]
    if len(good) < MIN_INLIERS:
        return Verification(len(good) // 4, None, matches=len(good))
    source = reference.points[[match.trainIdx for match in good]] * reference.scale
    target = query.points[[match.queryIdx for match in good]] * query.scale
    homography, mask = cv2.findHomography(
        source,
        target,
        cv2.RANSAC,
        5.0 * query.scale,
        maxIters=_ransac_iterations(len(good)),
        confidence=_RANSAC_CONFIDENCE,
    )
    if homography is None or mask is None:
        return Verification(0, None, matches=len(good))
    inliers = int(mask.sum())
    corners = np.array(
        [[0, 0], [reference.width, 0], [reference.width, reference.height], [0, reference.height]],
        dtype=np.float64,
    ).reshape(-1, 1, 2)
    projected = np.asarray(cv2.perspectiveTransform(corners, homography), np.float64).reshape(-1, 2)
    if not _plausible(projected):
        return Verification(inliers, None, matches=len(good))
    quad = tuple((float(x), float(y)) for x, y in projected)
    return Verification(inliers, quad, matches=len(good))  # type: ignore[arg-type]


def _ransac_iterations(matches: int) -> int:
    """RANSAC iterations that draw, with `_RANSAC_CONFIDENCE`, a sample of four inliers from the
    smallest consensus among `matches` that `Verification.verified` accepts.

    The iterations are the first ones of a longer run (OpenCV seeds each run alike), so a pair
    whose best consensus comes within them gets the same homography and inliers as before.
    """
    needed = max(MIN_INLIERS, min(ENOUGH_INLIERS, math.ceil(MIN_INLIER_SHARE * matches)))
    all_inliers = (needed / matches) ** 4
    if all_inliers >= 1.0:
        return _RANSAC_MIN_ITERATIONS
    iterations = math.ceil(math.log(1.0 - _RANSAC_CONFIDENCE) / math.log(1.0 - all_inliers))
    return max(_RANSAC_MIN_ITERATIONS, min(_RANSAC_MAX_ITERATIONS, iterations))


def _plausible(quad: npt.NDArray[np.float64]) -> bool:
    """A real copy maps the reference to a convex, non-degenerate, same-orientation quad."""
    if not np.isfinite(quad).all():
        return False
    contour = quad.astype(np.float32).reshape(-1, 1, 2)
    if not cv2.isContourConvex(contour):
        return False
    signed_area = 0.5 * float(
        np.dot(quad[:, 0], np.roll(quad[:, 1], -1)) - np.dot(quad[:, 1], np.roll(quad[:, 0], -1))
    )
    return signed_area > 64.0


def verify(query: RGBArray, reference: RGBArray) -> Verification:
    """Match a query against one reference, trying the mirrored query too."""
    return verify_features(QueryFeatures(query), extract(reference))


def verify_features(query: QueryFeatures, reference: Keypoints) -> Verification:
    """Like `verify` with features already extracted (one query against many references).

    A query much smaller than the reference (a thumbnail) is also tried enlarged to the
    reference's size: a 100 px image has too few 31-pixel patches for ORB, and the reference's
    keypoints lie beyond ORB's eight-level scale pyramid. Only a thumbnail is enlarged: fitting
    every image to one size let unrelated small icons verify one another on blurred corners
    (4 of 94 never-registered development queries verified, against 1).
    """
    direct = _match(query.direct, reference)
    if direct.verified:
        return direct
    reference_side = round(max(reference.width, reference.height) / reference.scale)
    query_side = round(max(query.direct.width, query.direct.height) / query.direct.scale)
    if reference_side >= THUMBNAIL_RATIO * query_side:
        enlarged = _match(query.enlarged(reference_side), reference)
        if enlarged.verified:
            return enlarged
    flipped = _match(query.mirrored, reference)
    if flipped.region is None or flipped.inliers <= direct.inliers:
        return direct
    width = query.direct.width
    region = tuple((width - x, y) for x, y in flipped.region)
    return Verification(
        flipped.inliers,
        region,  # type: ignore[arg-type]
        mirrored=True,
        matches=flipped.matches,
    )
