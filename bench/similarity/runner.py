"""Copy-detection benchmark runner: every system sees the same set, decoded the same way.

Three systems are measured in one run so their figures are comparable: pHash alone (Hamming
distance to each reference's hash and its mirror), PDQ alone (all eight dihedral orientations of
the query) and the full pipeline behind `similarity.engine.SimilarityEngine`. Each system gets
the PNG bytes of every image and decodes them with `similarity.images.load_image`, so decoding is
part of every throughput figure. Per-family figures rank that family's copies together with all
distractor queries, the same unrelated background for every family.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, cast

import imagehash
import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image
from rich.console import Console
from rich.table import Table

from bench.similarity.dataset import (
    FULL_SIZE,
    QUICK_SIZE,
    BenchmarkSet,
    BenchmarkSize,
    build_benchmark,
)
from bench.similarity.metrics import (
    Prediction,
    micro_average_precision,
    precision_recall_curve,
    recall_at_precision,
)
from similarity.images import LoadedImage, load_image

SYSTEMS: Final = ("phash", "pdq", "full")
_HASH_SIDE_PX: Final = 512
DEFAULT_TOP_K: Final = 10


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


def _hash_input(image: LoadedImage) -> npt.NDArray[np.uint8]:
    rgb = image.rgb
    longest = max(rgb.shape[:2])
    if longest <= _HASH_SIDE_PX:
        return rgb
    thumbnail = Image.fromarray(rgb)
    thumbnail.thumbnail((_HASH_SIDE_PX, _HASH_SIDE_PX), Image.Resampling.BILINEAR)
    return np.asarray(thumbnail, dtype=np.uint8)


def _hamming(codes: npt.NDArray[np.uint8], query: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Hamming distance from one packed code to each row of `codes`."""
    differing = np.unpackbits(np.bitwise_xor(codes, query), axis=-1)
    return np.asarray(differing.sum(axis=-1), dtype=np.int64)


def _top(work_ids: list[int], scores: npt.NDArray[np.int64], top_k: int) -> list[tuple[int, float]]:
    order = np.argsort(-scores, kind="stable")[:top_k]
    return [(work_ids[i], float(scores[i])) for i in order]


class PHashDetector:
    """64-bit imagehash pHash; each work indexed with its mirrored hash too. Score: 64 - bits."""

    def __init__(self) -> None:
        self._work_ids: list[int] = []
        self._codes: list[npt.NDArray[np.uint8]] = []

    @staticmethod
    def _code(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        bits = imagehash.phash(Image.fromarray(pixels)).hash
        return np.packbits(np.asarray(bits, dtype=np.uint8).ravel())

    def add(self, work_id: int, image: LoadedImage) -> None:
        """Index the hash of the work and of its mirror image."""
        pixels = _hash_input(image)
        self._work_ids.append(work_id)
        self._codes.append(np.stack([self._code(pixels), self._code(pixels[:, ::-1])]))

    def search(self, image: LoadedImage, top_k: int) -> list[tuple[int, float]]:
        """Rank works by the nearer of their two hashes."""
        if not self._codes:
            return []
        distances = _hamming(np.stack(self._codes), self._code(_hash_input(image))).min(axis=1)
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
        embedder, self.embedder_name = _default_embedder(model_cache_dir)
        self._engine = cast(
            _Engine,
            engine_module.SimilarityEngine(index_dir, embedder, self._references.get),
        )

    def add(self, work_id: int, image: LoadedImage) -> None:
        """Fingerprint (hashes, embedding, regions) and index one work."""
        self._references[work_id] = image.rgb
        self._engine.add(work_id, self._engine.fingerprint(image))

    def search(self, image: LoadedImage, top_k: int) -> list[tuple[int, float]]:
        """The engine's matches with its globally comparable scores."""
        # Handing over the image, not a fingerprint, lets the engine verify geometrically.
        matches = self._engine.search(image, top_k=top_k)
        return [(int(m.work_id), float(m.score)) for m in matches]

    def index_bytes(self) -> int:
        """Bytes of the persisted index files, less the fixed-size score-normalisation set."""
        self._engine.save()
        files = (p for p in self._index_dir.rglob("*") if p.is_file())
        return sum(p.stat().st_size for p in files if not p.name.startswith("background-"))


def _default_embedder(model_cache_dir: Path) -> tuple[object | None, str]:
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


@dataclass(frozen=True, slots=True)
class SystemResult:
    """Everything one system produced on the benchmark."""

    system: str
    predictions: tuple[Prediction, ...]
    images_per_s: float
    queries_per_s: float
    index_bytes_per_work: float


def _load(path: Path) -> LoadedImage:
    return load_image(path.read_bytes())


def evaluate_system(
    system: str, detector: CopyDetector, benchmark: BenchmarkSet, top_k: int = DEFAULT_TOP_K
) -> SystemResult:
    """Register every reference, search every query, time both (decoding included)."""
    started = time.perf_counter()
    for reference in benchmark.references:
        detector.add(reference.work_id, _load(reference.path))
    adding_s = time.perf_counter() - started
    predictions: list[Prediction] = []
    started = time.perf_counter()
    for query in benchmark.queries:
        for work_id, score in detector.search(_load(query.path), top_k):
            predictions.append(Prediction(query.query_id, work_id, score))
    searching_s = time.perf_counter() - started
    return SystemResult(
        system=system,
        predictions=tuple(predictions),
        images_per_s=len(benchmark.references) / max(adding_s, 1e-9),
        queries_per_s=len(benchmark.queries) / max(searching_s, 1e-9),
        index_bytes_per_work=detector.index_bytes() / max(1, len(benchmark.references)),
    )


def _scores(predictions: Iterable[Prediction], truth: Mapping[str, int]) -> dict[str, float]:
    curve = precision_recall_curve(predictions, truth)
    return {
        "muap": micro_average_precision(curve),
        "recall_at_p90": recall_at_precision(curve, 0.90),
        "recall_at_p99": recall_at_precision(curve, 0.99),
    }


def summarise(benchmark: BenchmarkSet, results: Sequence[SystemResult]) -> dict[str, object]:
    """Flatten results into figures with unit-bearing names; `full_*` also appear unprefixed."""
    truth = benchmark.ground_truth()
    distractor_ids = {q.query_id for q in benchmark.queries if q.reference_id is None}
    figures: dict[str, object] = {
        "references": len(benchmark.references),
        "positive_queries": len(truth),
        "distractor_queries": len(distractor_ids),
        "systems": [result.system for result in results],
    }
    per_family: dict[str, dict[str, dict[str, float]]] = {}
    for result in results:
        for name, value in _scores(result.predictions, truth).items():
            figures[f"{result.system}_{name}"] = value
        figures[f"{result.system}_images_per_s"] = result.images_per_s
        figures[f"{result.system}_queries_per_s"] = result.queries_per_s
        figures[f"{result.system}_index_bytes_per_work"] = result.index_bytes_per_work
        for family in benchmark.families():
            family_truth = {
                q.query_id: q.reference_id
                for q in benchmark.queries
                if q.family == family and q.reference_id is not None
            }
            family_predictions = [
                p
                for p in result.predictions
                if p.query_id in family_truth or p.query_id in distractor_ids
            ]
            per_family.setdefault(family, {})[result.system] = _scores(
                family_predictions, family_truth
            )
        if result.system == "full":
            figures["images_per_s"] = result.images_per_s
            figures["queries_per_s"] = result.queries_per_s
            figures["index_bytes_per_work"] = result.index_bytes_per_work
    figures["per_family"] = per_family
    return figures


def _warm_up() -> None:
    """Pay one-off import and initialisation costs before any clock starts."""
    blank = np.full((64, 64, 3), 128, dtype=np.uint8)
    imagehash.phash(Image.fromarray(blank))
    pdqhash.compute_dihedral(blank)


def _detector(system: str, work_dir: Path, cache_dir: Path) -> CopyDetector:
    if system == "phash":
        return PHashDetector()
    if system == "pdq":
        return PdqDetector()
    if system == "full":
        return EngineDetector(work_dir / "full-index", cache_dir / "models")
    raise ValueError(f"unknown benchmark system {system!r}; expected one of {', '.join(SYSTEMS)}")


def run_benchmark(
    cache_dir: Path,
    size: BenchmarkSize = FULL_SIZE,
    *,
    seed: int = 0,
    systems: Sequence[str] = SYSTEMS,
    top_k: int = DEFAULT_TOP_K,
    progress: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """Build (or reuse) the set under `cache_dir`, evaluate `systems`, return the figures.

    A system that cannot run here (the full pipeline before `similarity.engine` exists) is left
    out of the figures, and `unavailable` says why.
    """
    started = time.perf_counter()
    benchmark = build_benchmark(cache_dir, size, seed=seed, progress=progress)
    _warm_up()
    results: list[SystemResult] = []
    unavailable: dict[str, str] = {}
    embedder_name: str | None = None
    work_dir = Path(tempfile.mkdtemp(prefix="bench-", dir=cache_dir))
    try:
        for system in systems:
            try:
                detector = _detector(system, work_dir, cache_dir)
            except BenchmarkSystemUnavailableError as error:
                unavailable[system] = str(error)
                continue
            if isinstance(detector, EngineDetector):
                embedder_name = detector.embedder_name
            if progress:
                progress(f"evaluating {system}")
            results.append(evaluate_system(system, detector, benchmark, top_k))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    figures = summarise(benchmark, results)
    figures["seed"] = seed
    figures["unavailable"] = unavailable
    if embedder_name is not None:
        figures["full_embedder"] = embedder_name
    figures["wall_s"] = time.perf_counter() - started
    return figures


def _per_family(figures: Mapping[str, object]) -> dict[str, dict[str, dict[str, float]]]:
    return cast(dict[str, dict[str, dict[str, float]]], figures.get("per_family", {}))


def render_table(figures: Mapping[str, object]) -> Table:
    """Per family and overall, for each system: muAP, recall at precision 0.90 and at 0.99."""
    systems = [str(s) for s in cast(list[object], figures.get("systems", []))]
    metrics = ("muap", "recall_at_p90", "recall_at_p99")
    table = Table(title="Copy detection, DISC21-style global ranking")
    table.add_column("family", no_wrap=True)
    for system in systems:
        table.add_column(f"{system}\nµAP  R@P90 R@P99", justify="right", no_wrap=True)

    def cell(scores: Mapping[str, float]) -> str:
        return " ".join(f"{scores.get(metric, float('nan')):.3f}" for metric in metrics)

    for family, by_system in _per_family(figures).items():
        table.add_row(family, *(cell(by_system.get(system, {})) for system in systems))
    overall = [
        cell({metric: cast(float, figures[f"{system}_{metric}"]) for metric in metrics})
        for system in systems
    ]
    table.add_row("overall", *overall, style="bold")
    table.caption = "\n".join(
        f"{system}: {cast(float, figures[f'{system}_images_per_s']):.1f} images/s, "
        f"{cast(float, figures[f'{system}_queries_per_s']):.1f} queries/s, "
        f"{cast(float, figures[f'{system}_index_bytes_per_work']):.0f} B/work"
        for system in systems
    )
    if "full_embedder" in figures:
        table.caption += f"\nfull pipeline embedder: {figures['full_embedder']}"
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `python -m bench.similarity --cache-dir DIR [--quick] [--json]`."""
    parser = argparse.ArgumentParser(prog="python -m bench.similarity", description=__doc__)
    parser.add_argument("--cache-dir", type=Path, default=Path("var/benchmark"))
    parser.add_argument("--quick", action="store_true", help="the small set the tests use")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    arguments = parser.parse_args(argv)
    arguments.cache_dir.mkdir(parents=True, exist_ok=True)
    errors = Console(stderr=True)
    figures = run_benchmark(
        arguments.cache_dir,
        QUICK_SIZE if arguments.quick else FULL_SIZE,
        seed=arguments.seed,
        systems=arguments.systems,
        progress=errors.log,
    )
    if arguments.json:
        sys.stdout.write(json.dumps(figures) + "\n")
    else:
        Console().print(render_table(figures))
        for system, reason in cast(dict[str, str], figures["unavailable"]).items():
            errors.print(f"{system} left out: {reason}")
    return 0
