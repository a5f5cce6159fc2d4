"""Systems under test: pHash alone, PDQ alone and the full pipeline behind SimilarityEngine.

Each takes decoded images (`similarity.images.LoadedImage`), so decoding is timed alike for all.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, Protocol, cast, runtime_checkable

import imagehash
import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image

from bench.similarity.open_world import Engine, EngineFactory, RGBArray
from bench.similarity.verdicts import verdict_of
from similarity.images import LoadedImage

_HASH_SIDE_PX: Final = 512


class BenchmarkSystemUnavailableError(RuntimeError):
    """A system asked for cannot run here (its module has not been installed or built)."""


class CopyDetector(Protocol):
    """A system under test: registers works, then ranks them for a query."""

    def add(self, work_id: int, image: LoadedImage) -> None:
        """Fingerprint and index one registered work."""

    def search(self, image: LoadedImage, top_k: int) -> list[tuple[int, float]]:
        """Up to `top_k` (work id, score) pairs, higher score = more likely a copy."""

    def index_bytes(self) -> int:
        """Bytes the index holds for all works added so far."""


@runtime_checkable
class DecidingDetector(Protocol):
    """A system that also decides, like the product, whether its last query was a copy."""

    last_verdict: str | None


def _hash_input(image: LoadedImage) -> npt.NDArray[np.uint8]:
    rgb = image.rgb
    longest = max(rgb.shape[:2])
    if longest <= _HASH_SIDE_PX:
        return rgb
    thumbnail = Image.fromarray(rgb)
    thumbnail.thumbnail((_HASH_SIDE_PX, _HASH_SIDE_PX), Image.Resampling.BILINEAR)
    return np.asarray(thumbnail, dtype=np.uint8)


def _hamming(codes: npt.NDArray[np.uint8], query: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Hamming distance from one packed code to each row of `codes` (last axis: the code)."""
    if codes.shape[-1] % 8 == 0:
        # Eight bytes at a time: a 100,000-work pHash index is counted in about a millisecond.
        codes = np.ascontiguousarray(codes).view(np.uint64)
        query = np.ascontiguousarray(query).view(np.uint64)
    differing = np.bitwise_count(np.bitwise_xor(codes, query))
    return np.asarray(differing.sum(axis=-1, dtype=np.int64), dtype=np.int64)


def _top(work_ids: list[int], scores: npt.NDArray[np.int64], top_k: int) -> list[tuple[int, float]]:
    order = np.argsort(-scores, kind="stable")[:top_k]
    return [(work_ids[i], float(scores[i])) for i in order]


class PHashDetector:
    """64-bit imagehash pHash; each work indexed with its mirrored hash too. Score: 64 - bits."""

    def __init__(self) -> None:
        self._work_ids: list[int] = []
        self._codes: list[npt.NDArray[np.uint8]] = []
        self._stacked: npt.NDArray[np.uint8] | None = None

    @staticmethod
    def _code(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        bits = imagehash.phash(Image.fromarray(pixels)).hash
        return np.packbits(np.asarray(bits, dtype=np.uint8).ravel())

    @classmethod
    def codes_of(cls, image: LoadedImage) -> npt.NDArray[np.uint8]:
        """The (2, 8) packed hashes a work is indexed with: its own and its mirror image's."""
        pixels = _hash_input(image)
        return np.stack([cls._code(pixels), cls._code(pixels[:, ::-1])])

    def add(self, work_id: int, image: LoadedImage) -> None:
        """Index the hash of the work and of its mirror image."""
        self.add_codes(work_id, self.codes_of(image))

    def add_codes(self, work_id: int, codes: npt.NDArray[np.uint8]) -> None:
        """Index a work by hashes `codes_of` computed earlier."""
        self._work_ids.append(work_id)
        self._codes.append(codes)
        self._stacked = None

    def search(self, image: LoadedImage, top_k: int) -> list[tuple[int, float]]:
        """Rank works by the nearer of their two hashes."""
        if not self._codes:
            return []
        if self._stacked is None:
            self._stacked = np.stack(self._codes)
        distances = _hamming(self._stacked, self._code(_hash_input(image))).min(axis=1)
        return _top(self._work_ids, 64 - distances, top_k)

    def index_bytes(self) -> int:
        """Two 8-byte hashes and an 8-byte id per work."""
        return len(self._work_ids) * (2 * 8 + 8)


class PdqDetector:
    """256-bit PDQ; the query's eight dihedral hashes against each work's. Score: 256 - bits."""

    def __init__(self) -> None:
        self._work_ids: list[int] = []
        self._codes: list[npt.NDArray[np.uint8]] = []

    def add(self, work_id: int, image: LoadedImage) -> None:
        """Index the work's PDQ hash in its registered orientation."""
        bits, _quality = pdqhash.compute(_hash_input(image))
        self._work_ids.append(work_id)
        self._codes.append(np.packbits(np.asarray(bits, dtype=np.uint8)))

    def search(self, image: LoadedImage, top_k: int) -> list[tuple[int, float]]:
        """Rank works by their distance to the nearest orientation of the query."""
        if not self._codes:
            return []
        orientations, _qualities = pdqhash.compute_dihedral(_hash_input(image))
        queries = np.packbits(np.asarray(orientations, dtype=np.uint8), axis=-1)
        codes = np.stack(self._codes)
        distances = np.unpackbits(
            np.bitwise_xor(codes[:, None, :], queries[None, :, :]), axis=-1
        ).sum(axis=-1, dtype=np.int64)
        return _top(self._work_ids, 256 - distances.min(axis=1), top_k)

    def index_bytes(self) -> int:
        """One 32-byte hash and an 8-byte id per work."""
        return len(self._work_ids) * (32 + 8)


class _Match(Protocol):
    @property
    def work_id(self) -> int: ...
    @property
    def score(self) -> float: ...


class _Engine(Protocol):
    def fingerprint(self, image: LoadedImage) -> object: ...
    def add(self, work_id: int, fingerprint: Any) -> None: ...
    def search(self, query: LoadedImage, top_k: int = ...) -> Sequence[_Match]: ...
    def decide(self, matches: Sequence[Any]) -> object: ...
    def save(self) -> None: ...


class EngineDetector:
    """The full pipeline, driven only through SimilarityEngine's public API."""

    def __init__(self, index_dir: Path, model_cache_dir: Path) -> None:
        try:
            engine_module = importlib.import_module("similarity.engine")
        except ImportError as error:
            raise BenchmarkSystemUnavailableError(
                f"similarity.engine is not available: {error}"
            ) from error
        self._index_dir = index_dir
        self._references: dict[int, npt.NDArray[np.uint8]] = {}
        embedder, self.embedder_name = default_embedder(model_cache_dir)
        self.last_verdict: str | None = None
        sscd = importlib.import_module("similarity.embedding.sscd")
        self._engine = cast(
            _Engine,
            engine_module.SimilarityEngine(
                index_dir, embedder, self._references.get, copy_descriptor=sscd.load_student()
            ),
        )

    def add(self, work_id: int, image: LoadedImage) -> None:
        """Fingerprint (hashes, embedding, regions) and index one work."""
        self._references[work_id] = image.rgb
        self._engine.add(work_id, self._engine.fingerprint(image))

    def search(self, image: LoadedImage, top_k: int) -> list[tuple[int, float]]:
        """The engine's matches with its globally comparable scores."""
        # Handing over the image, not a fingerprint, lets the engine verify geometrically.
        matches = self._engine.search(image, top_k=top_k)
        # What the product would conclude from these matches, read as the engine words it.
        self.last_verdict = verdict_of(self._engine.decide(matches))
        return [(int(m.work_id), float(m.score)) for m in matches]

    def index_bytes(self) -> int:
        """Bytes of the persisted index files, less the fixed-size score-normalisation set."""
        self._engine.save()
        files = (p for p in self._index_dir.rglob("*") if p.is_file())
        return sum(p.stat().st_size for p in files if not p.name.startswith("background-"))


def engine_factory(
    model_cache_dir: Path, stored_reference: Callable[[int], bytes | None] | None = None
) -> EngineFactory:
    """Makes the engine as the app wires it: the default embedder and SSCD's student, and the
    works' features stored at registration where `stored_reference` gives them."""
    from similarity.embedding.sscd import load_student
    from similarity.engine import Embedder, SimilarityEngine

    embedder = cast("Embedder | None", default_embedder(model_cache_dir)[0])

    def make(index_dir: Path, reference_image: Callable[[int], RGBArray | None]) -> Engine:
        return SimilarityEngine(
            index_dir,
            embedder,
            reference_image,
            copy_descriptor=load_student(),
            stored_reference=stored_reference,
        )

    return make


# Loaded once per process: every engine of a run shares the ONNX session.
@functools.cache
def default_embedder(model_cache_dir: Path) -> tuple[object | None, str]:
    """The production embedder and its name, or None and why it is missing."""
    loader = None
    for module_name in ("similarity.embedding", "similarity.embedding.embedders"):
        try:
            loader = getattr(importlib.import_module(module_name), "load_default_embedder", None)
        except ImportError:
            continue
        if loader is not None:
            break
    if loader is None:
        return None, "none: similarity.embedding offers no load_default_embedder"
    try:
        embedder = loader(model_cache_dir)
    except (OSError, ValueError, RuntimeError) as error:
        # Missing or unreadable weights: the pipeline still runs on hashes and regions alone.
        return None, f"none: {type(error).__name__}: {error}"
    return embedder, type(embedder).__name__
