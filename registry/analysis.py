"""Decoding and fingerprinting uploads in a pool of processes, each with its own network session.

Threads share one ONNX session and the GIL-bound parts of hashing, so they stop scaling before
the cores do; processes, each running the network with one intra-op thread, scale with cores.
Workers start by spawn, never fork (the parent may already run ONNX Runtime threads), so a pool
costs seconds to start: `copymark register --processes N` uses one, requests never do.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

from registry.image_refusals import image_refusal
from registry.messages import Message
from similarity.engine import Fingerprint, SimilarityEngine
from similarity.images import ImageLimits, ImageRejected, LoadedImage, load_image
from similarity.references import ReferenceFeatures


@dataclass(frozen=True, slots=True)
class Analysis:
    """An upload decoded, fingerprinted, and with what searches will check it against."""

    image: LoadedImage
    fingerprint: Fingerprint
    reference: ReferenceFeatures


_engine: SimilarityEngine | None = None


def _start_worker(model_cache_dir: Path) -> None:
    global _engine  # noqa: PLW0603 - one engine per worker process, built once at its start
    from similarity.embedding.embedders import load_default_embedder
    from similarity.embedding.sscd import load_student

    # An empty index of its own: a worker only fingerprints, it never searches.
    scratch = Path(tempfile.mkdtemp(prefix="copymark-analysis-"))
    _engine = SimilarityEngine(
        scratch,
        load_default_embedder(model_cache_dir),
        lambda _id: None,
        copy_descriptor=load_student(),
    )


def _analyse(data: bytes, limits: ImageLimits, max_side: int) -> Analysis | Message:
    if _engine is None:
        raise RuntimeError("the analysis worker was not started")
    try:
        image = load_image(data, limits, max_side=max_side)
    except ImageRejected as rejection:
        return image_refusal(rejection)
    return Analysis(image, _engine.fingerprint(image), _engine.reference_features(image))


class AnalysisPool:
    """Workers that decode and analyse; each answer is the analysis, or why it was refused."""

    def __init__(self, processes: int, model_cache_dir: Path) -> None:
        self.processes = processes
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(model_cache_dir,),
        )

    def analyse(
        self, uploads: Sequence[bytes], limits: ImageLimits, max_side: int
    ) -> list[Analysis | Message]:
        return list(
            self._pool.map(_analyse, uploads, repeat(limits), repeat(max_side), chunksize=2)
        )

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
