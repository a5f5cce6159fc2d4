"""The similarity index split across `copymark index shard` processes, against the whole index in
the searching process, on one database and the same queries in one run.

`works` works are stored as `bench.startup` stores them (a few real fingerprints of Tux Paint
training stamps, the rest derived from them, said so in the output), with the real works'
reference features as registration keeps them; their originals are not stored, and the synthetic
works have neither, so a synthetic work is never verified. The baseline is an engine holding the
whole index in this process, built from the database: its build time, how much it grew this
process's resident memory, its search latency. Then, for each shard count, that many shard
processes index their own works from the database: their time until all answer `/health`, each
one's works, peak memory and CPU, and the search latency of an engine in this process wired to
them as `COPYMARK_INDEX_SHARDS` wires one.

Each query is fingerprinted once beforehand, so the latencies are of what the index changes:
searching it (merging the shards' answers), verifying and deciding, timed on each engine's
second pass over the queries. While every index scans all its rows (flat, below the engine's
IVF threshold), each query's matches from the shards, (work id, decision) each, must be the
baseline's: `ShardedAnswersDiffer` is raised after the last shard count when any are not, with
the figures. Above it, the whole index and each shard file their rows into IVF lists trained on
their own rows, so their approximate answers may differ: the run counts how many do, and what a
user sees of it, the copies found of their originals and the never-registered images decided
copies, for the whole index and each shard count alike.
"""

# ruff: noqa: S603 - the benchmark runs our own CLI

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

import httpx
import numpy as np
from PIL import Image
from sqlmodel import Session, col, select

from bench.background import session_cpu_s
from bench.processes import cli, initialised_home, memory_mib, migrated_database
from bench.servers import free_port
from bench.startup import REAL_WORKS, register_owner, register_synthetic
from registry.db import make_engine, unit_of_work
from registry.index_shards import ShardClients
from registry.models import Work, WorkReference
from registry.references import stored_reference_loader
from registry.search import decode_query
from registry.snapshots import indexable_fingerprints
from similarity.augment import crop, jpeg, resize
from similarity.corpus import stamps as corpus_stamps
from similarity.embedding.embedders import OnnxEmbedder, load_default_embedder
from similarity.embedding.sscd import SscdEmbedder, load_student
from similarity.engine import Fingerprint, RGBArray, SimilarityEngine, background_images
from similarity.images import ImageLimits, LoadedImage
from similarity.index.shards import IndexSearch
from similarity.matcher import Decision
from similarity.references import ReferenceFeatures

SHARD_COUNTS: Final = (1, 2, 4)
QUERIES: Final = 100
# As `copymark match` and the search API ask by default.
TOP_K: Final = 10
COPY_TRANSFORMS: Final = (("crop", crop), ("rescale", resize), ("jpeg", jpeg))
READY_TIMEOUT_S: Final = 1800.0
STOP_TIMEOUT_S: Final = 30.0
POLL_S: Final = 0.1

Answer = list[tuple[int, Decision]]


class ShardedAnswersDiffer(RuntimeError):
    """Some query got other matches from the index shards than from the whole index."""


@dataclass(frozen=True)
class Query:
    name: str
    image: LoadedImage
    fingerprint: Fingerprint
    # The work it copies; None for an image never registered.
    source: int | None


@dataclass(frozen=True)
class Searched:
    """An engine's answers to the queries, in their order, and the seconds each search took."""

    answers: list[Answer]
    seconds: list[float]

    def figures(self, queries: Sequence[Query]) -> dict[str, float]:
        copies = [(q, a) for q, a in zip(queries, self.answers, strict=True) if q.source]
        never = [a for q, a in zip(queries, self.answers, strict=True) if q.source is None]
        return {
            "search_p50_ms": _milliseconds(np.percentile(self.seconds, 50)),
            "search_p99_ms": _milliseconds(np.percentile(self.seconds, 99)),
            "searches_per_s": round(len(self.seconds) / sum(self.seconds), 2),
            "copies_found_of_their_original": sum(
                (query.source, "copy") in answer for query, answer in copies
            ),
            "never_registered_decided_copy": sum(
                any(decision == "copy" for _, decision in answer) for answer in never
            ),
        }


@dataclass(frozen=True)
class QueryModels:
    """The searching process's models, loaded once and shared by each engine of the run."""

    embedder: OnnxEmbedder
    copy_descriptor: SscdEmbedder | None

    def engine(
        self, folder: Path, sessions: Callable[[], Session], shards: IndexSearch | None = None
    ) -> SimilarityEngine:
        """An engine wired as a serving process's, its references' features read from the
        database."""
        return SimilarityEngine(
            folder,
            embedder=self.embedder,
            reference_image=_no_original,
            copy_descriptor=self.copy_descriptor,
            stored_reference=stored_reference_loader(sessions),
            shards=shards,
        )


@dataclass(frozen=True)
class ShardProcess:
    """One `copymark index shard` process, answering on `url`, its output in `log`."""

    selection: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def figures(self, health: dict[str, Any], cpu_s_at_ready: float) -> dict[str, Any]:
        """Its works (as it says), its peak memory, and its CPU before and after it was ready."""
        cpu_s = session_cpu_s(self.process.pid)
        return {
            "shard": self.selection,
            "works": health["works"],
            "peak_rss_mb": round(memory_mib(self.process.pid, "VmHWM"), 1),
            "cpu_s_to_ready": round(cpu_s_at_ready, 2),
            "cpu_s_serving_queries": round(cpu_s - cpu_s_at_ready, 2),
        }


def index_shard_figures(
    admin_url: str,
    work: Path,
    works: int,
    *,
    shard_counts: Collection[int] = SHARD_COUNTS,
    queries: int = QUERIES,
    seed: int = 7,
) -> dict[str, Any]:
    """The whole index in this process, then in each count of shard processes (module doc)."""
    url = migrated_database(admin_url, "copymark_bench_shards")
    model_dir = work / "models"
    environment = initialised_home(work / "shards-home", url, COPYMARK_MODELS_DIR=str(model_dir))
    models = QueryModels(load_default_embedder(model_dir), load_student())
    database = make_engine(url)
    sessions = partial(Session, database)
    unsharded = models.engine(work / "shards-unsharded-index", sessions)
    training = background_images(len(corpus_stamps("training")))
    registered = training[:REAL_WORKS]
    real = [unsharded.fingerprint(rgb) for rgb in registered]
    owner = register_owner(sessions, "shards@bench.example")
    register_synthetic(sessions, owner, real, range(works), np.random.default_rng(seed))
    real_ids = _store_references(
        sessions, [unsharded.reference_features(rgb) for rgb in registered]
    )
    copies = queries * 3 // 4
    images = _copies(registered, real_ids, copies, seed)
    images += _never_registered(training, queries - copies)
    fingerprinted, fingerprint_seconds = _fingerprinted(unsharded, images)
    baseline_figures, baseline = _unsharded(unsharded, sessions, fingerprinted)
    exact = unsharded.searches_exactly
    del unsharded  # its index is the size of the whole registry's: not kept while shards run
    runs = []
    differences: list[str] = []
    for count in shard_counts:
        run, searched = _sharded_run(
            environment, count, models=models, sessions=sessions, queries=fingerprinted, work=work
        )
        differing = _differing(searched.answers, baseline.answers)
        decided_differing = _differing(_decided(searched.answers), _decided(baseline.answers))
        runs.append(
            run
            | {
                "queries_differing_from_unsharded": len(differing),
                "queries_differing_in_copies_or_possibles": len(decided_differing),
            }
        )
        if not exact:
            continue
        differences += [
            f"{fingerprinted[number].name} with {count} shards: {searched.answers[number]} where "
            f"the whole index gave {baseline.answers[number]}"
            for number in differing
        ]
    database.dispose()
    figures = {
        "works": works,
        "works_real": min(works, REAL_WORKS),
        "works_synthetic": max(0, works - REAL_WORKS),
        "queries": len(fingerprinted),
        "queries_copies_of_real_works": copies,
        "queries_never_registered": queries - copies,
        "query_fingerprint_p50_ms": _milliseconds(np.percentile(fingerprint_seconds, 50)),
        "unsharded": baseline_figures,
        "sharded": runs,
        "unsharded_searches_exactly": exact,
        "note": "search latencies leave out fingerprinting the query (query_fingerprint_p50_ms, "
        "the same whichever index answers); a shard process's peak memory includes the embedding "
        "model it loads",
    }
    if differences:
        # The figures go with the failure: they are what the run was for.
        raise ShardedAnswersDiffer(
            f"{len(differences)} answers from the index shards differ from the whole index's; "
            f"the first: {differences[0]}\nfigures: {json.dumps(figures)}"
        )
    return figures


def _differing(answers: Sequence[Answer], expected: Sequence[Answer]) -> list[int]:
    """The queries, by number, whose answer is not the one expected."""
    return [
        number
        for number, (answer, wanted) in enumerate(zip(answers, expected, strict=True))
        if answer != wanted
    ]


def _decided(answers: Sequence[Answer]) -> list[Answer]:
    """Each answer cut to its matches decided a copy or possible, which a search's verdict reads."""
    return [[match for match in answer if match[1] != "no_match"] for answer in answers]


def _no_original(_work_id: int) -> None:
    """No original is stored: the real works are verified from their stored features."""


def _store_references(
    sessions: Callable[[], Session], features: Sequence[ReferenceFeatures]
) -> list[int]:
    """The real works' features (the first works stored), as registration keeps them; their ids."""
    with unit_of_work(sessions) as session:
        ids = [
            work_id
            for work_id in session.exec(select(Work.id).order_by(col(Work.id)).limit(len(features)))
            if work_id is not None
        ]
        session.add_all(
            WorkReference(work_id=work_id, features=made.to_bytes())
            for work_id, made in zip(ids, features[: len(ids)], strict=True)
        )
    return ids


def _copies(
    registered: Sequence[RGBArray], work_ids: Sequence[int], count: int, seed: int
) -> list[tuple[str, RGBArray, int | None]]:
    """Copies of the registered stamps, with the work each copies: each stamp cropped, then each
    rescaled, then each re-encoded as JPEG, and so on until `count`."""
    rng = random.Random(seed)  # noqa: S311 - reproducible queries, not secrets
    copies: list[tuple[str, RGBArray, int | None]] = []
    for number in range(count):
        stamp = number % len(registered)
        name, transform = COPY_TRANSFORMS[number // len(registered) % len(COPY_TRANSFORMS)]
        copies.append((f"stamp-{stamp}-{name}", transform(registered[stamp], rng), work_ids[stamp]))
    return copies


def _never_registered(
    training: Sequence[RGBArray], count: int
) -> list[tuple[str, RGBArray, int | None]]:
    """The last training stamps, far from the registered first ones and outside the
    score-normalisation background, which the first training stamps make."""
    first = len(training) - count
    return [
        (f"unregistered-stamp-{first + n}", rgb, None) for n, rgb in enumerate(training[first:])
    ]


def _fingerprinted(
    engine: SimilarityEngine, images: Sequence[tuple[str, RGBArray, int | None]]
) -> tuple[list[Query], list[float]]:
    """Each image uploaded as a PNG and decoded as a search decodes it, then fingerprinted; the
    seconds each fingerprint took."""
    queries = []
    seconds = []
    for name, rgb, source in images:
        upload = io.BytesIO()
        Image.fromarray(rgb).save(upload, format="PNG")
        image = decode_query(upload.getvalue(), ImageLimits())
        started = time.perf_counter()
        fingerprint = engine.fingerprint(image)
        seconds.append(time.perf_counter() - started)
        queries.append(Query(name, image, fingerprint, source))
    return queries, seconds


def _searched(engine: SimilarityEngine, queries: Sequence[Query]) -> Searched:
    # Timed on a second pass, as a serving process that has run a while answers: the first
    # embeds the copy descriptor's background (seconds, once), fills the references' caches and
    # connects to each shard.
    for query in queries:
        engine.search(query.fingerprint, TOP_K, image=query.image)
    answers = []
    seconds = []
    for query in queries:
        started = time.perf_counter()
        matches = engine.search(query.fingerprint, TOP_K, image=query.image)
        seconds.append(time.perf_counter() - started)
        answers.append([(match.work_id, match.decision) for match in matches])
    return Searched(answers, seconds)


def _unsharded(
    engine: SimilarityEngine, sessions: Callable[[], Session], queries: Sequence[Query]
) -> tuple[dict[str, Any], Searched]:
    """The whole index built from the database into this process, then searched."""
    resident_before = memory_mib(os.getpid(), "VmRSS")
    started = time.monotonic()
    with sessions() as session:
        engine.rebuild(indexable_fingerprints(session))
    build_s = time.monotonic() - started
    resident_after = memory_mib(os.getpid(), "VmRSS")
    searched = _searched(engine, queries)
    return {
        "works_held": len(engine.work_ids()),
        "build_s": round(build_s, 2),
        "rss_growth_mb": round(resident_after - resident_before, 1),
        **searched.figures(queries),
    }, searched


def _sharded_run(
    environment: dict[str, str],
    count: int,
    *,
    models: QueryModels,
    sessions: Callable[[], Session],
    queries: Sequence[Query],
    work: Path,
) -> tuple[dict[str, Any], Searched]:
    """`count` shard processes started, waited for, searched through, stopped."""
    with shard_processes(environment, count, work / f"shards-{count}") as shards:
        started = time.monotonic()
        health = _healthy(shards, READY_TIMEOUT_S)
        ready_s = time.monotonic() - started
        cpu_s_at_ready = [session_cpu_s(shard.process.pid) for shard in shards]
        clients = ShardClients([shard.url for shard in shards])
        try:
            engine = models.engine(work / f"shards-{count}-query-index", sessions, clients)
            searched = _searched(engine, queries)
        finally:
            clients.close()
        processes = [
            shard.figures(answer, cpu_s)
            for shard, answer, cpu_s in zip(shards, health, cpu_s_at_ready, strict=True)
        ]
    return {
        "shards": count,
        "ready_s": round(ready_s, 2),
        "works_held": sum(process["works"] for process in processes),
        "shard_processes": processes,
        **searched.figures(queries),
    }, searched


@contextmanager
def shard_processes(
    environment: dict[str, str], count: int, logs: Path
) -> Iterator[list[ShardProcess]]:
    """`copymark index shard I/count` for each I, on free loopback ports, started at once;
    terminated at the end (killed if one outlives `STOP_TIMEOUT_S`)."""
    logs.mkdir(parents=True, exist_ok=True)
    running: list[ShardProcess] = []
    try:
        for number in range(count):
            selection = f"{number}/{count}"
            port = free_port()
            log = logs / f"shard-{number}-of-{count}.log"
            with log.open("wb") as output:
                # A session of its own, so that its CPU is counted apart from this process's.
                process = subprocess.Popen(
                    cli("index", "shard", selection, "--port", str(port)),
                    env=environment,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            running.append(ShardProcess(selection, f"http://127.0.0.1:{port}", process, log))
        yield running
    finally:
        for shard in running:
            shard.process.terminate()
        for shard in running:
            try:
                shard.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                shard.process.kill()
                shard.process.wait()


def _healthy(shards: Sequence[ShardProcess], timeout_s: float) -> list[dict[str, Any]]:
    """Each shard's `/health`, once every one answers it; raises if one exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    health: dict[str, dict[str, Any]] = {}
    with httpx.Client(timeout=5.0) as client:
        while len(health) < len(shards):
            for shard in shards:
                if shard.url in health:
                    continue
                if shard.process.poll() is not None:
                    raise RuntimeError(
                        f"index shard {shard.selection} exited with status "
                        f"{shard.process.returncode}:\n{_tail(shard.log)}"
                    )
                with suppress(httpx.HTTPError):
                    response = client.get(f"{shard.url}/health")
                    if response.status_code == 200:
                        health[shard.url] = response.json()
            if len(health) < len(shards):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"index shards not all answering in {timeout_s:g} s")
                time.sleep(POLL_S)
    return [health[shard.url] for shard in shards]


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


def _milliseconds(seconds: float) -> float:
    return round(float(seconds) * 1000, 2)
