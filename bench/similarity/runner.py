"""Copy-detection benchmark runner: every system sees the same sets, decoded the same way.

One run measures, so that every figure's baseline comes from the same run:

- the DISC21-style set (`bench.similarity.dataset`), whose top-level keys are unchanged;
- the held-out set (`bench.similarity.heldout`, key `heldout`), built the same way from image
  sources the engine never trains, normalises, calibrates or tunes on;
- the open-world false-copy rate (`bench.similarity.open_world`, key `open_world`): the engine's
  verdicts on never-registered held-out images at several registry sizes;
- on request (`--sets development`), the development set (`bench.similarity.development`), the
  held-out set's families on calibration images: where ranking changes are tuned.

Systems on both sets: pHash alone (Hamming distance to each reference's hash and its mirror), PDQ
alone (all eight dihedral orientations of the query), the full pipeline behind
`similarity.engine.SimilarityEngine`, and two SSCD baselines (`bench.similarity.sscd`): Meta's
SSCD descriptor and its distilled student, exact cosine search with score normalisation. Each
system gets the PNG bytes of every image and decodes them with `similarity.images.load_image`, so
decoding is part of every throughput figure. Per-family figures rank that family's copies
together with all distractor queries, the same unrelated background for every family.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

import imagehash
import numpy as np
import pdqhash
from PIL import Image
from rich.console import Console, Group
from rich.table import Table

from bench.similarity.dataset import (
    FULL_SIZE,
    QUICK_SIZE,
    BenchmarkSet,
    BenchmarkSize,
    build_benchmark,
    load_source,
)
from bench.similarity.detectors import (
    BenchmarkSystemUnavailableError,
    CopyDetector,
    DecidingDetector,
    EngineDetector,
    PdqDetector,
    PHashDetector,
    engine_factory,
)
from bench.similarity.development import build_development
from bench.similarity.heldout import (
    HELDOUT_FULL_SIZE,
    HELDOUT_QUICK_SIZE,
    HeldoutSet,
    HeldoutSize,
    build_heldout,
)
from bench.similarity.metrics import (
    Prediction,
    micro_average_precision,
    precision_recall_curve,
    recall_at_precision,
)
from bench.similarity.open_world import (
    COPIES_PER_FAMILY,
    OPEN_WORLD_QUICK_SIZES,
    OPEN_WORLD_SIZES,
    measure_open_world,
    planted_copies,
    shared_artwork_pairs,
    with_shared_artwork_reviewed,
)
from bench.similarity.sscd import SSCD_MODELS, SscdDetector
from bench.similarity.throughput import (
    FINGERPRINTING_PROCESSES,
    THROUGHPUT_FULL_SIZE,
    THROUGHPUT_QUICK_SIZE,
    ThroughputSize,
    measure_fingerprinting,
    measure_throughput,
)
from bench.similarity.verdicts import engine_verdicts
from similarity.images import LoadedImage, load_image

__all__ = [
    "SETS",
    "SYSTEMS",
    "BenchmarkSystemUnavailableError",
    "CopyDetector",
    "EngineDetector",
    "PHashDetector",
    "PdqDetector",
    "SystemResult",
    "evaluate_system",
    "main",
    "render_table",
    "run_benchmark",
    "summarise",
]

SYSTEMS: Final = ("phash", "pdq", "full", "sscd", "sscd_distilled")
# The DISC21-style set, the held-out set, the open-world false-copy measurement, queries/s over
# a large registry through one worker process per core.
SETS: Final = ("disc21", "heldout", "open_world", "throughput")
# The set ranking changes are tuned on (`bench.similarity.development`): asked for by name only.
DEVELOPMENT_SET: Final = "development"
DEFAULT_TOP_K: Final = 10


@dataclass(frozen=True, slots=True)
class SystemResult:
    """Everything one system produced on the benchmark."""

    system: str
    predictions: tuple[Prediction, ...]
    images_per_s: float
    queries_per_s: float
    index_bytes_per_work: float
    # Query id -> the system's own verdict, for systems that decide (the full pipeline).
    verdicts: Mapping[str, str] = field(default_factory=dict)
    # CPU time of this process (every thread), which a loaded machine does not inflate as it
    # inflates wall time: the throughput figure that still means something on shared cores.
    cpu_ms_per_image: float = 0.0
    cpu_ms_per_query: float = 0.0


def _load(path: Path) -> LoadedImage:
    return load_image(path.read_bytes())


def _as_uploaded(source: str) -> LoadedImage:
    """A source image ("package:/path") as the sets store it, decoded from its PNG bytes."""
    encoded = io.BytesIO()
    Image.fromarray(load_source(Path(source.split(":", 1)[1]))).save(encoded, format="PNG")
    return load_image(encoded.getvalue())


def evaluate_system(
    system: str, detector: CopyDetector, benchmark: BenchmarkSet, top_k: int = DEFAULT_TOP_K
) -> SystemResult:
    """Register every reference, search every query, time both (decoding included)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for reference in benchmark.references:
        detector.add(reference.work_id, _load(reference.path))
    adding_s = time.perf_counter() - started
    adding_cpu_s = time.process_time() - cpu_started
    predictions: list[Prediction] = []
    verdicts: dict[str, str] = {}
    started, cpu_started = time.perf_counter(), time.process_time()
    for query in benchmark.queries:
        for work_id, score in detector.search(_load(query.path), top_k):
            predictions.append(Prediction(query.query_id, work_id, score))
        if isinstance(detector, DecidingDetector) and detector.last_verdict is not None:
            verdicts[query.query_id] = detector.last_verdict
    searching_s = time.perf_counter() - started
    searching_cpu_s = time.process_time() - cpu_started
    return SystemResult(
        system=system,
        predictions=tuple(predictions),
        images_per_s=len(benchmark.references) / max(adding_s, 1e-9),
        queries_per_s=len(benchmark.queries) / max(searching_s, 1e-9),
        index_bytes_per_work=detector.index_bytes() / max(1, len(benchmark.references)),
        verdicts=verdicts,
        cpu_ms_per_image=1000 * adding_cpu_s / max(1, len(benchmark.references)),
        cpu_ms_per_query=1000 * searching_cpu_s / max(1, len(benchmark.queries)),
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
        figures[f"{result.system}_cpu_ms_per_image"] = result.cpu_ms_per_image
        figures[f"{result.system}_cpu_ms_per_query"] = result.cpu_ms_per_query
        if result.verdicts:
            figures |= _verdict_figures(result, benchmark)
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
            figures["cpu_ms_per_image"] = result.cpu_ms_per_image
            figures["cpu_ms_per_query"] = result.cpu_ms_per_query
    figures["per_family"] = per_family
    return figures


def _verdict_figures(result: SystemResult, benchmark: BenchmarkSet) -> dict[str, object]:
    """Fractions of the set's distractors and copies given each verdict by the system itself."""
    distractors = [q.query_id for q in benchmark.queries if q.reference_id is None]
    copies = [q.query_id for q in benchmark.queries if q.reference_id is not None]
    vocabulary = list(dict.fromkeys([*engine_verdicts(), *result.verdicts.values()]))

    def fractions(query_ids: Sequence[str]) -> dict[str, float]:
        given = [result.verdicts[q] for q in query_ids if q in result.verdicts]
        return {v: given.count(v) / max(1, len(given)) for v in vocabulary}

    on_distractors = fractions(distractors)
    on_copies = fractions(copies)
    return {
        f"{result.system}_false_copy_fraction": on_distractors.get("copy", 0.0),
        f"{result.system}_copy_fraction_on_copies": on_copies.get("copy", 0.0),
        f"{result.system}_distractor_verdict_fractions": on_distractors,
        f"{result.system}_copy_verdict_fractions": on_copies,
    }


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
    if system in SSCD_MODELS:
        return SscdDetector(SSCD_MODELS[system])
    raise ValueError(f"unknown benchmark system {system!r}; expected one of {', '.join(SYSTEMS)}")


def _evaluate_all(
    benchmark: BenchmarkSet,
    systems: Sequence[str],
    cache_dir: Path,
    *,
    top_k: int,
    unavailable: dict[str, str],
    label: str,
    progress: Callable[[str], None] | None,
) -> tuple[list[SystemResult], str | None]:
    """Every available system on one set; (results, the full pipeline's embedder name)."""
    results: list[SystemResult] = []
    embedder_name: str | None = None
    work_dir = Path(tempfile.mkdtemp(prefix="bench-", dir=cache_dir))
    try:
        for system in systems:
            if system in unavailable:
                continue
            try:
                detector = _detector(system, work_dir, cache_dir)
            except BenchmarkSystemUnavailableError as error:
                unavailable[system] = str(error)
                continue
            if isinstance(detector, EngineDetector):
                embedder_name = detector.embedder_name
            if progress:
                progress(f"evaluating {system} on the {label} set")
            results.append(evaluate_system(system, detector, benchmark, top_k))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return results, embedder_name


def _open_world(
    heldout: HeldoutSet,
    sizes: Sequence[int],
    cache_dir: Path,
    seed: int,
    progress: Callable[[str], None] | None,
) -> dict[str, object]:
    """The engine's verdicts on the held-out distractors at each registry size, and
    registration's prior-art check on their sources."""
    benchmark = heldout.benchmark
    real = [(r.work_id, _load(r.path)) for r in (*benchmark.references, *heldout.extras)]
    always = {r.work_id for r in benchmark.references[: min(sizes)]}
    positives = [
        (q.query_id, q.family, q.reference_id)
        for q in benchmark.queries
        if q.reference_id is not None
    ]
    copy_ids = set(planted_copies(positives, always, COPIES_PER_FAMILY))
    distractors = [(q.query_id, _load(q.path)) for q in benchmark.queries if q.reference_id is None]
    copies = [(q.query_id, _load(q.path)) for q in benchmark.queries if q.query_id in copy_ids]
    # The distractors' sources, once each and untransformed, as their designers would upload them.
    distractor_sources = dict.fromkeys(
        q.source for q in benchmark.queries if q.reference_id is None
    )
    uploads = [(source, _as_uploaded(source)) for source in distractor_sources]
    work_dir = Path(tempfile.mkdtemp(prefix="open-world-", dir=cache_dir))
    try:
        figures = measure_open_world(
            engine_factory(cache_dir / "models"),
            real,
            distractors,
            copies,
            uploads=uploads,
            sizes=sizes,
            work_dir=work_dir,
            seed=seed,
            progress=progress,
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    # Queries and works by their source; an upload is named by its source already.
    sources: dict[object, str] = {q.query_id: q.source for q in benchmark.queries}
    sources.update((r.work_id, r.source) for r in (*benchmark.references, *heldout.extras))
    with_shared_artwork_reviewed(
        cast(dict[str, dict[str, Any]], figures["by_size"]),
        lambda key: sources.get(key, str(key)),
        queries=len(distractors),
        uploads=len(uploads),
        shared=shared_artwork_pairs(),
    )
    return figures


def _heldout_figures(heldout: HeldoutSet, results: Sequence[SystemResult]) -> dict[str, object]:
    figures = summarise(heldout.benchmark, results)
    by_source: dict[str, int] = {}
    for reference in heldout.benchmark.references:
        source = reference.source.split(":", 1)[0]
        by_source[source] = by_source.get(source, 0) + 1
    figures["references_by_source"] = by_source
    figures["extra_real_works"] = len(heldout.extras)
    figures["files_read"] = len(heldout.files_read)
    return figures


def run_benchmark(
    cache_dir: Path,
    size: BenchmarkSize = FULL_SIZE,
    *,
    seed: int = 0,
    systems: Sequence[str] = SYSTEMS,
    sets: Sequence[str] = SETS,
    heldout_size: HeldoutSize | None = None,
    open_world_sizes: Sequence[int] | None = None,
    throughput_size: ThroughputSize | None = None,
    top_k: int = DEFAULT_TOP_K,
    progress: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """Build (or reuse) the sets under `cache_dir`, evaluate `systems`, return the figures.

    The held-out set and the open-world registry sizes follow `size` (the quick ones with
    `QUICK_SIZE`) unless given. The DISC21-style figures are top-level keys, the held-out set's
    the same keys under `heldout`, the development set's (asked for by name) under
    `development`, the open world's under `open_world` and queries/s over a large registry under
    `throughput` (the engine and its pHash baseline, so both run when "full" is among
    `systems`). A system that cannot run here is left out of the
    figures, and `unavailable` says why.
    """
    started = time.perf_counter()
    quick = size == QUICK_SIZE
    unavailable: dict[str, str] = {}
    _warm_up()
    figures: dict[str, object] = {}
    if "disc21" in sets:
        benchmark = build_benchmark(cache_dir, size, seed=seed, progress=progress)
        results, embedder_name = _evaluate_all(
            benchmark,
            systems,
            cache_dir,
            top_k=top_k,
            unavailable=unavailable,
            label="DISC21-style",
            progress=progress,
        )
        figures |= summarise(benchmark, results)
        if embedder_name is not None:
            figures["full_embedder"] = embedder_name
    if any(name in sets for name in ("heldout", "open_world", "throughput")):
        heldout = build_heldout(
            cache_dir,
            heldout_size or (HELDOUT_QUICK_SIZE if quick else HELDOUT_FULL_SIZE),
            seed=seed,
            progress=progress,
        )
        if "heldout" in sets:
            results, _name = _evaluate_all(
                heldout.benchmark,
                systems,
                cache_dir,
                top_k=top_k,
                unavailable=unavailable,
                label="held-out",
                progress=progress,
            )
            figures["heldout"] = _heldout_figures(heldout, results)
        if "open_world" in sets and "full" in systems and "full" not in unavailable:
            sizes = open_world_sizes or (OPEN_WORLD_QUICK_SIZES if quick else OPEN_WORLD_SIZES)
            figures["open_world"] = _open_world(heldout, sizes, cache_dir, seed, progress)
        if "throughput" in sets and "full" in systems and "full" not in unavailable:
            figures["throughput"] = measure_throughput(
                heldout,
                throughput_size or (THROUGHPUT_QUICK_SIZE if quick else THROUGHPUT_FULL_SIZE),
                cache_dir,
                seed=seed,
                progress=progress,
            )
            figures["fingerprinting"] = measure_fingerprinting(
                heldout, cache_dir, progress=progress
            )
    if DEVELOPMENT_SET in sets:
        development = build_development(cache_dir, seed=seed, progress=progress)
        results, _name = _evaluate_all(
            development.benchmark,
            systems,
            cache_dir,
            top_k=top_k,
            unavailable=unavailable,
            label="development",
            progress=progress,
        )
        figures[DEVELOPMENT_SET] = summarise(development.benchmark, results)
    figures["load_average_1min"] = os.getloadavg()[0]
    figures["seed"] = seed
    figures["unavailable"] = unavailable
    figures["wall_s"] = time.perf_counter() - started
    return figures


def _per_family(figures: Mapping[str, object]) -> dict[str, dict[str, dict[str, float]]]:
    return cast(dict[str, dict[str, dict[str, float]]], figures.get("per_family", {}))


_METRICS: Final = ("muap", "recall_at_p90", "recall_at_p99")


def _set_table(figures: Mapping[str, object], title: str) -> Table:
    """Per family and overall, for each system: muAP, recall at precision 0.90 and at 0.99."""
    systems = [str(s) for s in cast(list[object], figures.get("systems", []))]
    table = Table(title=title)
    table.add_column("family", no_wrap=True)
    for system in systems:
        table.add_column(f"{system}\nµAP  R@P90 R@P99", justify="right", no_wrap=True)

    def cell(scores: Mapping[str, float]) -> str:
        return " ".join(f"{scores.get(metric, float('nan')):.3f}" for metric in _METRICS)

    for family, by_system in _per_family(figures).items():
        table.add_row(family, *(cell(by_system.get(system, {})) for system in systems))
    overall = [
        cell({metric: cast(float, figures[f"{system}_{metric}"]) for metric in _METRICS})
        for system in systems
    ]
    table.add_row("overall", *overall, style="bold")
    table.caption = "\n".join(
        f"{system}: {cast(float, figures[f'{system}_images_per_s']):.1f} images/s, "
        f"{cast(float, figures[f'{system}_queries_per_s']):.1f} queries/s, "
        f"{cast(float, figures[f'{system}_index_bytes_per_work']):.0f} B/work, "
        f"{cast(float, figures[f'{system}_cpu_ms_per_image']):.1f} CPU ms/image, "
        f"{cast(float, figures[f'{system}_cpu_ms_per_query']):.1f} CPU ms/query"
        for system in systems
    )
    if "full_embedder" in figures:
        table.caption += f"\nfull pipeline embedder: {figures['full_embedder']}"
    return table


def _open_world_table(figures: Mapping[str, object]) -> Table:
    by_size = cast(dict[str, dict[str, object]], figures.get("by_size", {}))
    table = Table(title="Open world: never-registered held-out images decided copy")
    columns = (
        "registered works",
        "real / synthetic",
        "false copy",
        "possible",
        "copies kept",
        "prior-art conflicts",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for size, row in by_size.items():
        possible = row.get("possible_fraction")
        conflicts = row.get("prior_art_conflict_fraction")
        table.add_row(
            f"{int(size):,}",
            f"{row['real_works']} / {row['synthetic_works']}",
            _with_reviewed(row, "false_copy_fraction"),
            "n/a" if possible is None else f"{cast(float, possible):.3f}",
            f"{cast(float, row['copy_fraction_on_copies']):.3f}",
            "n/a" if conflicts is None else _with_reviewed(row, "prior_art_conflict_fraction"),
        )
    table.caption = (
        f"{figures.get('distractor_queries')} unregistered queries, "
        f"{figures.get('copy_queries')} copies of works registered at every size, "
        f"{figures.get('prior_art_uploads')} never-registered uploads checked for prior art; "
        "in brackets, without the pairs reviewed as sharing artwork"
    )
    return table


def _with_reviewed(row: Mapping[str, object], rate: str) -> str:
    """The rate, and in brackets the rate without reviewed shared artwork where measured."""
    reviewed = row.get(f"{rate}_reviewed")
    text = f"{cast(float, row[rate]):.3f}"
    return text if reviewed is None else f"{text} ({cast(float, reviewed):.3f})"


def _throughput_table(figures: Mapping[str, object]) -> Table:
    table = Table(
        title=f"Queries at {cast(int, figures['registered_works']):,} works, "
        f"{figures['workers']} worker processes, verification included"
    )
    columns = ("system", "queries/s", "CPU ms/query", "copies", "never registered", "load average")
    for column in columns:
        table.add_column(column, justify="right")
    for system in ("full", "phash"):
        if f"{system}_queries_per_s" not in figures:
            continue
        load = cast(list[float], figures[f"{system}_load_average_1min"])
        table.add_row(
            system,
            f"{cast(float, figures[f'{system}_queries_per_s']):.1f}",
            f"{cast(float, figures[f'{system}_cpu_ms_per_query']):.1f}",
            f"{cast(float, figures[f'{system}_cpu_ms_per_query_on_copies'] or 0.0):.1f}",
            f"{cast(float, figures[f'{system}_cpu_ms_per_query_on_never_registered'] or 0.0):.1f}",
            ", ".join(f"{value:.1f}" for value in load),
        )
    table.caption = (
        f"{figures['queries']} queries: {figures['copy_queries']} held-out copies, "
        f"{figures['never_registered_queries']} never-registered images"
    )
    return table


def _fingerprinting_table(figures: Mapping[str, object]) -> Table:
    table = Table(title="Fingerprinting: decode, hashes, regions, CNN and index")
    for column in ("processes", "images/s", "CPU ms/image", "load average"):
        table.add_column(column, justify="right")
    for count in FINGERPRINTING_PROCESSES:
        if f"images_per_s_{count}_processes" not in figures:
            continue
        load = cast(list[float], figures[f"load_average_1min_{count}_processes"])
        table.add_row(
            str(count),
            f"{cast(float, figures[f'images_per_s_{count}_processes']):.1f}",
            f"{cast(float, figures[f'cpu_ms_per_image_{count}_processes']):.1f}",
            ", ".join(f"{value:.1f}" for value in load),
        )
    table.caption = f"{figures['fingerprinted_images']} held-out works, one process per core at 2"
    return table


def render_table(figures: Mapping[str, object]) -> Group:
    """The DISC21-style set's table, then the held-out set's and the open world's if measured."""
    tables: list[Table] = []
    if "per_family" in figures:
        tables.append(_set_table(figures, "Copy detection, DISC21-style global ranking"))
    if "heldout" in figures:
        heldout = cast(Mapping[str, object], figures["heldout"])
        tables.append(_set_table(heldout, "Copy detection, held-out sources"))
    if DEVELOPMENT_SET in figures:
        development = cast(Mapping[str, object], figures[DEVELOPMENT_SET])
        tables.append(_set_table(development, "Copy detection, development set"))
    if "open_world" in figures:
        tables.append(_open_world_table(cast(Mapping[str, object], figures["open_world"])))
    if "throughput" in figures:
        tables.append(_throughput_table(cast(Mapping[str, object], figures["throughput"])))
    if "fingerprinting" in figures:
        tables.append(_fingerprinting_table(cast(Mapping[str, object], figures["fingerprinting"])))
    return Group(*tables)


def _benchmark_size(text: str) -> BenchmarkSize:
    try:
        references, per_family, distractors = (int(part) for part in text.split(","))
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected three counts as R,Q,D (e.g. 150,20,100), got {text!r}"
        ) from error
    return BenchmarkSize(references, per_family, distractors)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `python -m bench.similarity --cache-dir DIR [--quick | --size R,Q,D] [--json]`.

    `--size` shrinks the DISC21-style set only; the held-out set and the open world keep their
    full sizes, so the figures that judge the engine are not traded for speed.
    """
    parser = argparse.ArgumentParser(prog="python -m bench.similarity", description=__doc__)
    parser.add_argument("--cache-dir", type=Path, default=Path("var/benchmark"))
    parser.add_argument("--quick", action="store_true", help="the small sets the tests use")
    parser.add_argument(
        "--size",
        type=_benchmark_size,
        metavar="R,Q,D",
        help="DISC21-style set: references, copies per family, distractors (a smaller run)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--sets", nargs="+", choices=[*SETS, DEVELOPMENT_SET], default=list(SETS))
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    arguments = parser.parse_args(argv)
    arguments.cache_dir.mkdir(parents=True, exist_ok=True)
    errors = Console(stderr=True)
    figures = run_benchmark(
        arguments.cache_dir,
        arguments.size or (QUICK_SIZE if arguments.quick else FULL_SIZE),
        seed=arguments.seed,
        systems=arguments.systems,
        sets=arguments.sets,
        progress=errors.log,
    )
    if arguments.json:
        sys.stdout.write(json.dumps(figures) + "\n")
    else:
        Console().print(render_table(figures))
        for system, reason in cast(dict[str, str], figures["unavailable"]).items():
            errors.print(f"{system} left out: {reason}")
    return 0
