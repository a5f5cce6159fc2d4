"""Boxes within an image that are fingerprinted on their own, so partial copies can match.

A registered work is described by its whole frame, a centre crop and a 2x2 grid (a crop of the
work overlaps one of them heavily). A query adds boxes that isolate a work pasted into something
larger: the content inside uniform borders and the largest high-detail blobs (a print on a
T-shirt, a tile on a page, a picture between meme captions).

`FeatureMapEmbedder` embeds every box of an image from one forward pass of the CNN: the network's
head is GeM pooling over its last feature map, so pooling a sub-window of that map instead of the
whole of it describes the region for the price of a matrix product rather than another pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort

RGBArray = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]

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


def map_window(box: Box, width: int, height: int, cells: int) -> tuple[int, int, int, int]:
    """Cells (left, top, right, bottom) of a square feature map covering a pixel box best."""
    left = min(cells - 1, round(box.left / width * cells))
    top = min(cells - 1, round(box.top / height * cells))
    right = max(left + 1, min(cells, round(box.right / width * cells)))
    bottom = max(top + 1, min(cells, round(box.bottom / height * cells)))
    return left, top, right, bottom


class FeatureMapEmbedder:
    """Embeds many boxes of one image with a single pass of an ONNX GeM-headed network.

    The graph is split at the head's spatial mean: the first part returns the powered feature
    map (activations raised to GeM's exponent), the second turns a pooled 1280-vector into the
    unit embedding. The whole-frame box at the network's input size reproduces the full graph's
    output exactly.
    """

    def __init__(self, model: onnx.ModelProto, input_side: int = 224) -> None:
        pooling = _head_pooling(model)
        if pooling is None:
            raise ValueError("the model has no spatial mean-pooling head to split at")
        powered, pooled = pooling
        input_name = model.graph.input[0].name
        output_name = model.graph.output[0].name
        head = onnx.utils.Extractor(onnx.shape_inference.infer_shapes(model)).extract_model(
            [pooled], [output_name]
        )
        backbone = onnx.ModelProto()
        backbone.CopyFrom(model)
        del backbone.graph.output[:]
        backbone.graph.output.append(onnx.helper.make_empty_tensor_value_info(powered))
        # Spatial axes become free so that a larger input gives a finer map.
        for axis in (2, 3):
            backbone.graph.input[0].type.tensor_type.shape.dim[axis].dim_param = "side"
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        self._backbone = ort.InferenceSession(backbone.SerializeToString(), options, providers)
        self._head = ort.InferenceSession(head.SerializeToString(), options, providers)
        self._input = input_name
        self._pooled = pooled
        self.input_side = input_side
        self.dim = int(self._head.get_outputs()[0].shape[1])

    @classmethod
    def from_model_file(cls, path: Path) -> FeatureMapEmbedder | None:
        """The embedder for an ONNX file, or None when its graph cannot be split."""
        try:
            return cls(onnx.load(str(path)))
        except (OSError, ValueError, onnx.checker.ValidationError):
            return None

    def feature_map(self, rgb: RGBArray, side: int | None = None) -> FloatArray:
        """Powered activations (channels, cells, cells) of the image squashed to a square side.

        The default side is the network's own; a larger one gives a finer map for small boxes.
        """
        side = side or self.input_side
        interpolation = (
            cv2.INTER_AREA if rgb.shape[0] * rgb.shape[1] >= side * side else cv2.INTER_LINEAR
        )
        resized = cv2.resize(np.ascontiguousarray(rgb), (side, side), interpolation=interpolation)
        batch = ((resized.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
        (powered,) = self._backbone.run(None, {self._input: np.ascontiguousarray(batch)})
        return np.asarray(powered[0], dtype=np.float32)

    def pool(self, powered: FloatArray, windows: Sequence[tuple[int, int, int, int]]) -> FloatArray:
        """Unit embeddings of cell windows of a powered feature map, one row per window."""
        means = np.empty((len(windows), powered.shape[0]), dtype=np.float32)
        for row, (left, top, right, bottom) in enumerate(windows):
            means[row] = powered[:, top:bottom, left:right].mean(axis=(1, 2))
        (vectors,) = self._head.run(None, {self._pooled: means})
        return np.asarray(vectors, dtype=np.float32)

    def embed_boxes(
        self, rgb: RGBArray, boxes: Sequence[Box], side: int | None = None
    ) -> FloatArray:
        """Unit embeddings of each box of the image, from one forward pass."""
        powered = self.feature_map(rgb, side)
        cells = powered.shape[1]
        height, width = rgb.shape[:2]
        return self.pool(powered, [map_window(box, width, height, cells) for box in boxes])


def sliding_windows(cells: int, sizes: Sequence[int]) -> list[tuple[int, int, int, int]]:
    """Square cell windows of each size, stepping by half a window, over a square map."""
    windows: list[tuple[int, int, int, int]] = []
    for size in sizes:
        if size > cells:
            continue
        step = max(1, size // 2)
        starts = range(0, cells - size + 1, step)
        windows.extend((x, y, x + size, y + size) for y in starts for x in starts)
    return windows


def _head_pooling(model: onnx.ModelProto) -> tuple[str, str] | None:
    """(powered map, pooled vector) tensor names around the head's last spatial mean."""
    for node in reversed(model.graph.node):
        if node.op_type != "ReduceMean":
            continue
        axes = next((list(a.ints) for a in node.attribute if a.name == "axes"), [])
        keepdims = next((a.i for a in node.attribute if a.name == "keepdims"), 1)
        if sorted(axes) == [2, 3] and keepdims == 0:
            return node.input[0], node.output[0]
        return None
    return None
