"""Queries per second at a large registry, verification included, one worker process per core.

The product answers searches from worker processes, one per core, each running its numeric
libraries on one thread (`similarity.threads`). This measurement does the same: a registry of
`works` works (the held-out set's real works, then synthetic ones, built as
`bench.similarity.open_world` builds them) is written once to index files; `workers` spawned
processes each open the engine on those files and together answer a seeded mix of the held-out
set's copies and never-registered images, each taking the next unanswered query when it is free,
as the product's workers take the next request. Every query is decoded, fingerprinted, searched,
verified with ORB and, when inconclusive, given the second opinion, as `copymark match` does;
what the engine checks a look-alike against is read from the features stored at registration
(one file per real work, a synthetic work reading its origin's), as the app reads them from the
database; a work without them would have its pixels read from their file. pHash alone, over a
registry of the same size (synthetic hashes crossed from the real ones as far as real works sit
from each other), answers the same queries through the same number of workers as the baseline.

Figures: wall-clock queries/s from the workers' common start to the last one's end, and CPU ms
per query (every worker's own CPU time, all its threads, summed), the figure a shared machine
distorts least; the 1-minute load average at the start and end of each system's run. The
registry's files are cached under the benchmark cache, keyed by the real works' fingerprints
and the size, so a repeated run skips the build.

Fingerprinting is measured the same way (`measure_fingerprinting`): 1 and then 2 spawned
processes decode, fingerprint (hashes, regions, the CNN) and index the held-out set's real works
in a scratch engine each, every process taking the next image when it is free, as registration's
workers take the next upload.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from bench.similarity.dataset import Reference
from bench.similarity.detectors import PHashDetector, engine_factory
from bench.similarity.heldout import HeldoutSet
from bench.similarity.open_world import (
    SYNTHETIC_FIRST_ID,
    Engine,
    RealWork,
    RGBArray,
    SyntheticWorks,
    _hamming_nearest,
    _registry,
)
from bench.similarity.verdicts import verdict_of
from bench.spawned import run_spawned
from similarity.images import load_image
from similarity.index.storage import write_atomically

SYSTEMS: Final = ("full", "phash")
# The job that fingerprints and indexes instead of searching (`measure_fingerprinting`).
FINGERPRINTING: Final = "fingerprinting"
FINGERPRINTING_PROCESSES: Final = (1, 2)
WARM_UP_QUERIES: Final = 4
TOP_K: Final = 10
# Workers that have not all answered after this long are taken to be stuck.
_WORKER_TIMEOUT_S: Final = 1800.0
_FORMAT_VERSION: Final = 1
_REFERENCES: Final = "references"


class ThroughputError(RuntimeError):
    """A worker failed or the set has too few queries for the size asked."""


@dataclass(frozen=True, slots=True)
class ThroughputSize:
    """Registered works, timed queries (after `WARM_UP_QUERIES` untimed ones), worker processes."""

    works: int
    queries: int
    workers: int = 2


THROUGHPUT_FULL_SIZE: Final = ThroughputSize(works=100_000, queries=400)
THROUGHPUT_QUICK_SIZE: Final = ThroughputSize(works=2_000, queries=24)


@dataclass(frozen=True, slots=True)
class _Job:
    """What one worker needs, all of it picklable for a spawned process; `queries` are shared by
    every worker, each answering the next one not yet taken. A fingerprinting job has no registry:
    its `registry_dir` is the scratch folder its workers' engines index into."""

    system: str
    model_cache_dir: Path
    registry_dir: Path
    warm_up: tuple[Path, ...]
    queries: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class _Answered:
    """One worker's timed run."""

    worker: int
    started: float
    ended: float
    cpu_s: float
    # The positions in the job's queries this worker took, each with its verdict and its own CPU
    # time, so copies and never-registered images can be told apart.
    taken: tuple[int, ...]
    verdicts: tuple[str | None, ...]
    query_cpu_s: tuple[float, ...]


def _registry_key(real: Sequence[RealWork], size: ThroughputSize, seed: int) -> str:
    """Digest of everything the registry files depend on: the real works' fingerprints, the size."""
    digest = hashlib.sha256(f"{_FORMAT_VERSION}:{size.works}:{seed}".encode())
    for work in real:
        fingerprint = work.fingerprint
        digest.update(str(work.work_id).encode())
        digest.update(fingerprint.region_pdq.tobytes())
        if fingerprint.embeddings is not None:
            digest.update(fingerprint.embeddings.tobytes())
    return digest.hexdigest()[:16]


def _synthetic_phash(
    real_codes: npt.NDArray[np.uint8], count: int, seed: int
) -> npt.NDArray[np.uint8]:
    """`count` (2, 8) pHash pairs: real pairs with as many bits flipped as real works differ."""
    rng = np.random.default_rng([seed, count])
    nearest = _hamming_nearest(real_codes[:, 0])
    origins = rng.integers(0, len(real_codes), count)
    flips = rng.choice(nearest, count)
    bits = np.zeros((count, 64), dtype=np.uint8)
    for row, flipped in enumerate(flips):
        bits[row, rng.choice(64, size=min(int(flipped), 64), replace=False)] = 1
    masks = np.packbits(bits, axis=1)
    return np.asarray(real_codes[origins] ^ masks[:, None, :], dtype=np.uint8)


def build_registry(
    heldout: HeldoutSet,
    size: ThroughputSize,
    cache_dir: Path,
    *,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> tuple[Path, bool]:
    """The registry's folder under `cache_dir` (engine index files, pHash codes, where each
    work's pixels are) and whether it was already there."""
    factory = engine_factory(cache_dir / "models")
    references = [*heldout.benchmark.references, *heldout.extras]
    scratch = factory(cache_dir / "throughput" / "scratch", lambda _work_id: None)
    real: list[RealWork] = []
    for reference in references:
        image = load_image(reference.path.read_bytes())
        real.append(RealWork(reference.work_id, image.rgb, scratch.fingerprint(image)))
    folder = cache_dir / "throughput" / f"registry-{_registry_key(real, size, seed)}"
    _store_references(folder / _REFERENCES, scratch, references)
    if (folder / "works.json").is_file():
        return folder, True
    if progress:
        progress(f"throughput: writing a registry of {size.works:,} works")
    origin_of: dict[int, int] = {}
    synthetic = SyntheticWorks(real) if size.works > len(real) else None
    engine, _real_count, extra = _registry(
        size.works,
        real,
        synthetic,
        engine_factory=factory,
        index_dir=folder / "index",
        seed=seed,
        origin_of=origin_of,
    )
    engine.save()
    real_codes = np.stack(
        [PHashDetector.codes_of(load_image(r.path.read_bytes())) for r in references]
    )
    codes = real_codes[: size.works]
    ids = [r.work_id for r in references][: size.works]
    if extra:
        codes = np.concatenate([codes, _synthetic_phash(real_codes, extra, seed)])
        ids += [SYNTHETIC_FIRST_ID + offset for offset in range(extra)]
    np.savez(folder / "phash.npz", work_ids=np.array(ids, dtype=np.int64), codes=codes)
    works = {
        "pixels": {str(r.work_id): str(r.path) for r in references},
        "origin_of": {str(work): origin for work, origin in origin_of.items()},
        "works": size.works,
    }
    (folder / "works.json").write_text(json.dumps(works))
    return folder, False


def _store_references(folder: Path, engine: Engine, references: Sequence[Reference]) -> None:
    """Each real work's reference features as registration stores them, unless already there."""
    folder.mkdir(parents=True, exist_ok=True)
    for reference in references:
        path = folder / f"{reference.work_id}.npz"
        if not path.is_file():
            image = load_image(reference.path.read_bytes())
            write_atomically(path, engine.reference_features(image).to_bytes())


def _fingerprinter(job: _Job) -> Callable[[bytes], str | None]:
    """Decode, fingerprint and index one image in a scratch engine of this process's own."""
    engine = engine_factory(job.model_cache_dir)(
        Path(tempfile.mkdtemp(dir=job.registry_dir)), lambda _work_id: None
    )
    work_ids = itertools.count(1)

    def fingerprint(data: bytes) -> None:
        image = load_image(data)
        engine.add(next(work_ids), engine.fingerprint(image))

    return fingerprint


def _searcher(job: _Job) -> Callable[[bytes], str | None]:
    """Decode + search one query with the job's system; the engine's verdict (None for pHash)."""
    if job.system == FINGERPRINTING:
        return _fingerprinter(job)
    if job.system == "phash":
        stored = np.load(job.registry_dir / "phash.npz")
        detector = PHashDetector()
        for work_id, codes in zip(stored["work_ids"], stored["codes"], strict=True):
            detector.add_codes(int(work_id), codes)

        def by_phash(data: bytes) -> str | None:
            detector.search(load_image(data), TOP_K)
            return None

        return by_phash
    works = json.loads((job.registry_dir / "works.json").read_text())
    pixels = {int(work): Path(path) for work, path in works["pixels"].items()}
    origin_of = {int(work): int(origin) for work, origin in works["origin_of"].items()}

    stored = job.registry_dir / _REFERENCES

    def reference_image(work_id: int) -> RGBArray | None:
        path = pixels.get(origin_of.get(work_id, work_id))
        return None if path is None else load_image(path.read_bytes()).rgb

    def stored_reference(work_id: int) -> bytes | None:
        try:
            return (stored / f"{origin_of.get(work_id, work_id)}.npz").read_bytes()
        except FileNotFoundError:
            return None

    engine = engine_factory(job.model_cache_dir, stored_reference)(
        job.registry_dir / "index", reference_image
    )

    def by_engine(data: bytes) -> str | None:
        image = load_image(data)
        matches = engine.search(engine.fingerprint(image), TOP_K, image=image)
        return verdict_of(engine.decide(matches))

    return by_engine


def _take(next_query: Synchronized[int], count: int) -> int | None:
    """The position of the next query no worker has taken; None when all are taken."""
    with next_query.get_lock():
        position = next_query.value
        if position >= count:
            return None
        next_query.value = position + 1
    return position


def _answer(
    worker: int,
    job: _Job,
    next_query: Synchronized[int],
    barrier: Barrier,
    results: multiprocessing.Queue[object],
) -> None:
    """Worker process: warm up, wait for the others, answer queries against the clock."""
    try:
        search = _searcher(job)
        payloads = [path.read_bytes() for path in job.queries]
        for path in job.warm_up:
            search(path.read_bytes())
        barrier.wait()
        started, cpu_started = time.monotonic(), time.process_time()
        taken: list[int] = []
        verdicts: list[str | None] = []
        query_cpu_s: list[float] = []
        while (position := _take(next_query, len(payloads))) is not None:
            query_started = time.process_time()
            verdicts.append(search(payloads[position]))
            query_cpu_s.append(time.process_time() - query_started)
            taken.append(position)
        answered = _Answered(
            worker,
            started,
            time.monotonic(),
            time.process_time() - cpu_started,
            tuple(taken),
            tuple(verdicts),
            tuple(query_cpu_s),
        )
        results.put(answered)
    except Exception as error:
        barrier.abort()
        results.put(f"{type(error).__name__}: {error}")


def _run(job: _Job, workers: int) -> list[_Answered]:
    """Answer the job's queries in `workers` spawned processes (fresh interpreters: no inherited
    ONNX or FAISS state)."""
    next_query = multiprocessing.get_context("spawn").Value("i", 0)
    answered = run_spawned(
        _answer,
        [(worker, job, next_query) for worker in range(workers)],
        _Answered,
        name="throughput worker",
        timeout_s=_WORKER_TIMEOUT_S,
    )
    return sorted(answered, key=lambda outcome: outcome.worker)


def query_mix(heldout: HeldoutSet, count: int, seed: int) -> tuple[list[Path], list[Path], int]:
    """(warm-up queries, timed queries, how many of those copy a work): a seeded shuffle of the
    held-out set's copies and never-registered images."""
    queries = list(heldout.benchmark.queries)
    if len(queries) < WARM_UP_QUERIES + count:
        raise ThroughputError(
            f"{count} timed queries asked, the held-out set has {len(queries)} "
            f"({WARM_UP_QUERIES} more are needed to warm up)"
        )
    order = np.random.default_rng([seed, 7]).permutation(len(queries))
    shuffled = [queries[i] for i in order]
    timed = shuffled[WARM_UP_QUERIES : WARM_UP_QUERIES + count]
    copies = sum(1 for query in timed if query.reference_id is not None)
    return [q.path for q in shuffled[:WARM_UP_QUERIES]], [q.path for q in timed], copies


def measure_throughput(
    heldout: HeldoutSet,
    size: ThroughputSize,
    cache_dir: Path,
    *,
    seed: int = 0,
    systems: Sequence[str] = SYSTEMS,
    progress: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """Queries/s and CPU ms per query of each system over a registry of `size.works` works."""
    started = time.perf_counter()
    registry_dir, cached = build_registry(heldout, size, cache_dir, seed=seed, progress=progress)
    build_s = time.perf_counter() - started
    warm_up, timed, copies = query_mix(heldout, size.queries, seed)
    copy_paths = {q.path for q in heldout.benchmark.queries if q.reference_id is not None}
    figures: dict[str, object] = {
        "registered_works": size.works,
        "workers": size.workers,
        "queries": len(timed),
        "copy_queries": copies,
        "never_registered_queries": len(timed) - copies,
        "registry_cached": cached,
        "registry_s": build_s,
    }
    for system in systems:
        if progress:
            progress(f"throughput: {len(timed)} queries, {system}, {size.workers} workers")
        job = _Job(system, cache_dir / "models", registry_dir, tuple(warm_up), tuple(timed))
        load_before = os.getloadavg()[0]
        answered = _run(job, size.workers)
        wall_s = max(a.ended for a in answered) - min(a.started for a in answered)
        cpu_s = sum(a.cpu_s for a in answered)
        figures[f"{system}_queries_per_s"] = len(timed) / max(wall_s, 1e-9)
        figures[f"{system}_cpu_ms_per_query"] = 1000 * cpu_s / max(1, len(timed))
        figures[f"{system}_load_average_1min"] = [load_before, os.getloadavg()[0]]
        figures[f"{system}_queries_per_worker"] = [len(outcome.taken) for outcome in answered]
        verdicts = {
            timed[position]: verdict
            for outcome in answered
            for position, verdict in zip(outcome.taken, outcome.verdicts, strict=True)
        }
        query_cpu = {
            timed[position]: cpu
            for outcome in answered
            for position, cpu in zip(outcome.taken, outcome.query_cpu_s, strict=True)
        }
        for kind, wanted in (("copies", True), ("never_registered", False)):
            spent = [cpu for path, cpu in query_cpu.items() if (path in copy_paths) == wanted]
            figures[f"{system}_cpu_ms_per_query_on_{kind}"] = (
                1000 * sum(spent) / len(spent) if spent else None
            )
        if any(verdict is not None for verdict in verdicts.values()):
            on_copies = [v for p, v in verdicts.items() if p in copy_paths]
            on_others = [v for p, v in verdicts.items() if p not in copy_paths]
            figures[f"{system}_copy_fraction_on_copies"] = on_copies.count("copy") / max(
                1, len(on_copies)
            )
            figures[f"{system}_false_copy_fraction"] = on_others.count("copy") / max(
                1, len(on_others)
            )
    return figures


def measure_fingerprinting(
    heldout: HeldoutSet,
    cache_dir: Path,
    *,
    process_counts: Sequence[int] = FINGERPRINTING_PROCESSES,
    progress: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """Images/s decoded, fingerprinted and indexed by 1 and 2 processes, and CPU ms per image."""
    images = [work.path for work in (*heldout.benchmark.references, *heldout.extras)]
    if len(images) <= WARM_UP_QUERIES:
        raise ThroughputError(f"{len(images)} real works are too few to time fingerprinting")
    warm_up, timed = tuple(images[:WARM_UP_QUERIES]), tuple(images[WARM_UP_QUERIES:])
    figures: dict[str, object] = {"fingerprinted_images": len(timed)}
    for count in process_counts:
        if progress:
            progress(f"fingerprinting: {len(timed)} images, {count} processes")
        scratch = Path(tempfile.mkdtemp(prefix="fingerprinting-", dir=cache_dir))
        try:
            job = _Job(FINGERPRINTING, cache_dir / "models", scratch, warm_up, timed)
            load_before = os.getloadavg()[0]
            answered = _run(job, count)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        wall_s = max(a.ended for a in answered) - min(a.started for a in answered)
        figures[f"images_per_s_{count}_processes"] = len(timed) / max(wall_s, 1e-9)
        figures[f"cpu_ms_per_image_{count}_processes"] = (
            1000 * sum(a.cpu_s for a in answered) / len(timed)
        )
        figures[f"load_average_1min_{count}_processes"] = [load_before, os.getloadavg()[0]]
        figures[f"images_per_process_{count}_processes"] = [len(a.taken) for a in answered]
    return figures
