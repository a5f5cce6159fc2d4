"""Boxes within an image that are fingerprinted on their own, so partial copies can match.

A registered work is described by its whole frame, a centre crop and a 2x2 grid (a crop of the
work overlaps one of them heavily). A query adds boxes that isolate a work pasted into something
larger: the content inside uniform borders and the largest high-detail blobs (a print on a
T-shirt, a tile on a page, a picture between meme captions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

RGBArray = npt.NDArray[np.uint8]

MIN_REGION_SIDE: Final = 32
_BORDER_TOLERANCE: Final = 12
_ANALYSIS_SIDE: Final = 256


@dataclass(frozen=True, slots=True, order=True)
class Box:
    """Pixel rectangle [left, right) x [top, bottom)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.right - self.left

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.bottom - self.top

    @property
    def area(self) -> int:
        """Area in pixels."""
        return self.width * self.height

    def crop(self, rgb: RGBArray) -> RGBArray:
        """The pixels inside the box."""
        return rgb[self.top : self.bottom, self.left : self.right]

    def iou(self, other: Box) -> float:
        """Intersection over union with another box."""
        width = min(self.right, other.right) - max(self.left, other.left)
        height = min(self.bottom, other.bottom) - max(self.top, other.top)
        if width <= 0 or height <= 0:
            return 0.0
        overlap = width * height
        return overlap / (self.area + other.area - overlap)


def _full(rgb: RGBArray) -> Box:
    return Box(0, 0, rgb.shape[1], rgb.shape[0])


def _centre(rgb: RGBArray, fraction: float) -> Box:
    height, width = rgb.shape[:2]
    margin_x = round(width * (1 - fraction) / 2)
    margin_y = round(height * (1 - fraction) / 2)
    return Box(margin_x, margin_y, width - margin_x, height - margin_y)


def _grid(rgb: RGBArray) -> list[Box]:
    height, width = rgb.shape[:2]
    half_x, half_y = width // 2, height // 2
    return [
        Box(0, 0, half_x, half_y),
        Box(half_x, 0, width, half_y),
        Box(0, half_y, half_x, height),
        Box(half_x, half_y, width, height),
    ]


def content_box(rgb: RGBArray) -> Box:
    """The box left after trimming uniform-colour borders (padding, letterboxing, frames)."""
    full = _full(rgb)
    if min(rgb.shape[:2]) < 2 * MIN_REGION_SIDE:
        return full
    signed = rgb.astype(np.int16)

    def uniform(strip: npt.NDArray[np.int16], colour: npt.NDArray[np.int16]) -> bool:
        return bool(np.abs(strip - colour).max() <= _BORDER_TOLERANCE)

    top, bottom, left, right = 0, rgb.shape[0], 0, rgb.shape[1]
    colour = signed[0, 0]
    while bottom - top > MIN_REGION_SIDE and uniform(signed[top, left:right], colour):
        top += 1
    colour = signed[-1, -1]
    while bottom - top > MIN_REGION_SIDE and uniform(signed[bottom - 1, left:right], colour):
        bottom -= 1
    colour = signed[top, 0]
    while right - left > MIN_REGION_SIDE and uniform(signed[top:bottom, left], colour):
        left += 1
    colour = signed[bottom - 1, -1]
    while right - left > MIN_REGION_SIDE and uniform(signed[top:bottom, right - 1], colour):
        right -= 1
    return Box(left, top, right, bottom)


def detail_boxes(rgb: RGBArray, limit: int = 2) -> list[Box]:
    """Bounding boxes of the largest textured blobs (edges closed into solid regions)."""
    height, width = rgb.shape[:2]
    scale = min(1.0, _ANALYSIS_SIDE / max(height, width))
    small = cv2.resize(
        rgb,
        (max(1, round(width * scale)), max(1, round(height * scale))),
        interpolation=cv2.INTER_AREA,
    )
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey, 60, 160)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
    closed = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, kernel, iterations=2)
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    small_area = small.shape[0] * small.shape[1]
    boxes: list[tuple[int, Box]] = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if not 0.08 * small_area <= w * h <= 0.9 * small_area:
            continue
        box = Box(
            int(x / scale),
            int(y / scale),
            min(width, int(np.ceil((x + w) / scale))),
            min(height, int(np.ceil((y + h) / scale))),
        )
        boxes.append((w * h, box))
    boxes.sort(key=lambda item: item[0], reverse=True)
    return [box for _, box in boxes[:limit]]


def _distinct(boxes: list[Box], rgb: RGBArray) -> list[Box]:
    kept: list[Box] = []
    for box in boxes:
        if min(box.width, box.height) < min(MIN_REGION_SIDE, *rgb.shape[:2]):
            continue
        if all(box.iou(other) < 0.9 for other in kept):
            kept.append(box)
    return kept


def reference_regions(rgb: RGBArray) -> list[Box]:
    """Boxes indexed for a registered work: whole frame first, then centre and 2x2 grid."""
    return _distinct([_full(rgb), _centre(rgb, 0.6), *_grid(rgb)], rgb)


def query_regions(rgb: RGBArray) -> list[Box]:
    """Boxes searched for a query: whole frame first, then content, detail blobs, centre, grid."""
    return _distinct(
        [_full(rgb), content_box(rgb), *detail_boxes(rgb), _centre(rgb, 0.6), *_grid(rgb)], rgb
    )
