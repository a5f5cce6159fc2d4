"""`copymark bench scale`: the scale-out engines measured on one machine standing in for many.

Eight figures, each from real processes on loopback: a crawl of a generated multi-host site by
1, 2 and 4 `copymark crawl` processes sharing a frontier in PostgreSQL; the frontier's seen-URL
de-duplication (batched inserts and Bloom-filtered look-ups at a million URLs, against one
insert per URL in the same run); log appends from 8 writer processes through one sequencer;
vector search over synthetic shards; the faults (`bench.faults`, `bench.background_faults`): the
sequencer and a crawler killed mid-run, and background registration with Redis restarted and
with the S3 blob store stopped a minute; and a new machine's first search, its index from a
snapshot or from the database (`bench.startup`); and background registration's throughput
through Celery on Redis with 1, 2 and 4 workers, the log appended in place and through its
sequencer (`bench.background_registration`); and the similarity index split across 1, 2 and 4
`copymark index shard` processes against the whole index in one process, which must answer the
same queries alike (`bench.index_shards`). A sizing table for 50M works and 10M registrations a
day is derived from the measured per-item costs.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select, text

from bench.background_faults import redis_restart_figures, s3_outage_figures
from bench.background_registration import registration_throughput_figures
from bench.faults import crawler_kill_figures, sequencer_kill_figures
from bench.grid_site import GridShape, GridSite, politeness_violations
from bench.index_shards import index_shard_figures
from bench.processes import (
    cli,
    index_problems,
    initialised_home,
    log_verifies,
    migrated_database,
    run_writers,
    sequencer_process,
    tree_size,
)
from bench.registration import children_cpu_s
from bench.startup import startup_figures
from registry.db import make_engine, unit_of_work
from registry.models import persisted_id
from registry.monitoring.frontier import (
    SEEN_FILTER_CAPACITY,
    SEEN_FILTER_FALSE_POSITIVE_RATE,
    URLS,
    SharedFrontier,
    url_hash,
)
from registry.monitoring.service import create_job
from similarity.crawl.bloom import BloomFilter
from similarity.crawl.frontier import FrontierEntry

Log = Callable[[str], None]
# CPU-s a work of `copymark register` with the CNN, measured earlier (README); sizing uses it
# when this run did not measure registration itself.
README_REGISTRATION_CPU_S_PER_WORK = 0.12
# How many crawler processes, Celery workers and index shards the crawl, registration and shards
# parts run.
PROCESS_COUNTS = (1, 2, 4)


def crawl_with(
    environment: dict[str, str], processes: int, shape: GridShape, delay_s: float, work: Path
) -> dict[str, Any]:
    """Crawl a fresh grid site with `processes` crawler processes; pages/s, CPU-s, politeness."""
    with GridSite(shape, work / f"requests-{processes}.log") as site:
        allow = [flag for host in site.hosts() for flag in ("--allow-host", host)]
        cpu_before = children_cpu_s()
        started = time.monotonic()
        result = subprocess.run(  # noqa: S603 - our own CLI
            cli(
                "crawl",
                *site.seeds(),
                *allow,
                "--max-pages",
                str(shape.page_count() * 3),
                "--processes",
                str(processes),
            ),
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        cpu = children_cpu_s() - cpu_before
        if result.returncode != 0:
            raise RuntimeError(f"crawl with {processes} processes failed: {result.stderr[-2000:]}")
        pages = len(site.pages_served())
        violations, least_gap = politeness_violations(site.requests(), delay_s, 0.05)
    return {
        "processes": processes,
        "pages": pages,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 2),
        "cpu_s_per_page": round(cpu / max(pages, 1), 4),
        "politeness_violations": violations,
        "least_gap_s": round(least_gap, 3),
    }


def crawl_figures(
    admin_url: str,
    work: Path,
    pages: int,
    delay_s: float,
    process_counts: Collection[int] = PROCESS_COUNTS,
) -> dict[str, Any]:
    """Pages/s, CPU-s per page and politeness violations with each count of crawler processes."""
    hosts = 8
    shape = GridShape.reachable(hosts, pages)
    runs = []
    for processes in process_counts:
        url = migrated_database(admin_url, f"copymark_bench_crawl_{processes}")
        home = work / f"crawl-{processes}"
        env = initialised_home(
            home,
            url,
            COPYMARK_CRAWL_DELAY_S=str(delay_s),
            COPYMARK_CRAWL_HOSTS_PER_CRAWLER=str(max(1, hosts // processes)),
        )
        runs.append(crawl_with(env, processes, shape, delay_s, work))
    return {
        "site": f"synthetic: {shape.page_count()} pages on {hosts} loopback hosts, no images",
        "delay_s": delay_s,
        "runs": runs,
    }


def _links(start: int, count: int, hosts: int = 10_000) -> list[FrontierEntry]:
    """`count` distinct page URLs, numbered from `start`, spread over `hosts` hosts."""
    return [
        FrontierEntry(f"http://h{n % hosts}.bench.test/page/{n}", 2)
        for n in range(start, start + count)
    ]


def seen_url_figures(admin_url: str, urls: int, sample: int = 20_000) -> dict[str, Any]:
    """De-duplicating `urls` page URLs in the frontier: inserts/s and look-ups/s.

    Batched: one crawler's `add` of 500 links at a time (one multi-row INSERT ... ON CONFLICT,
    the crawler's Bloom filter in front). Baseline, in the same run at the same table size: one
    INSERT ... ON CONFLICT DO NOTHING and one SELECT per URL, each its own transaction.
    """
    url = migrated_database(admin_url, "copymark_bench_seen")
    engine = make_engine(url)
    with unit_of_work(engine) as session:
        job = persisted_id(create_job(session, None, ["http://h0.bench.test/"], 1))
    queued = BloomFilter(SEEN_FILTER_CAPACITY, SEEN_FILTER_FALSE_POSITIVE_RATE)
    frontier = SharedFrontier(engine, job, max_pages=1, delay_for=lambda _host: 1.0, queued=queued)
    batch = 500
    started = time.monotonic()
    for first in range(0, urls, batch):
        frontier.add(_links(first, min(batch, urls - first)))
    batched_s = time.monotonic() - started
    # Links met again: every one a Bloom hit confirmed against the table, none inserted.
    again = _links(0, sample)
    started = time.monotonic()
    confirmed_new = sum(frontier.add(again[n : n + batch]) for n in range(0, sample, batch))
    lookup_s = time.monotonic() - started
    probes = [url_hash(entry.url) for entry in _links(urls, sample)]
    started = time.monotonic()
    bloom_hits = sum(key in queued for key in probes)
    bloom_s = time.monotonic() - started

    baseline = _links(urls, sample)
    insert = text(
        "INSERT INTO crawl_frontier_urls (job_id, url_hash, url, host, depth, state) "
        "VALUES (:job, :hash, :url, :host, 2, 'pending') ON CONFLICT DO NOTHING"
    )
    lookup = select(URLS.c.depth).where(URLS.c.job_id == job, URLS.c.url_hash == bindparam("hash"))
    started = time.monotonic()
    for entry in baseline:
        with engine.begin() as connection:
            connection.execute(
                insert,
                {
                    "job": job,
                    "hash": url_hash(entry.url),
                    "url": entry.url,
                    "host": entry.url.split("/")[2],
                },
            )
    single_insert_s = time.monotonic() - started
    started = time.monotonic()
    for entry in baseline:
        with engine.connect() as connection:
            connection.execute(lookup, {"hash": url_hash(entry.url)}).first()
    single_lookup_s = time.monotonic() - started
    # Batched again at the baseline's table size, for a like-for-like ratio.
    started = time.monotonic()
    for first in range(urls + sample, urls + 2 * sample, batch):
        frontier.add(_links(first, min(batch, urls + 2 * sample - first)))
    batched_at_size_s = time.monotonic() - started
    with engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(URLS)).scalar_one()
        size = (
            connection.execute(
                text(
                    "SELECT pg_total_relation_size(inhrelid) FROM pg_inherits "
                    "WHERE inhparent = 'crawl_frontier_urls'::regclass"
                )
            )
            .scalars()
            .all()
        )
    engine.dispose()
    return {
        "urls": urls,
        "rows_in_table": int(rows),
        "partitions": len(size),
        "table_mb": round(sum(size) / 2**20, 1),
        "batch": batch,
        "batched_inserts_per_s": round(urls / batched_s),
        "batched_inserts_per_s_at_size": round(sample / batched_at_size_s),
        "single_row_inserts_per_s_at_size": round(sample / single_insert_s),
        "batched_over_single_row_x": round(single_insert_s / batched_at_size_s, 1),
        "confirmed_lookups_per_s": round(sample / lookup_s),
        "confirmed_lookups_wrongly_new": confirmed_new,
        "single_row_lookups_per_s": round(sample / single_lookup_s),
        "bloom_lookups_per_s": round(sample / bloom_s),
        "bloom_false_positive_rate_measured": round(bloom_hits / sample, 4),
        "bloom_false_positive_rate_design": queued.false_positive_rate,
        "bloom_mb": round(queued.byte_size / 2**20, 1),
        "sample": sample,
    }


def log_figures(admin_url: str, work: Path, leaves: int, writers: int = 8) -> dict[str, Any]:
    """Leaves/s through one sequencer from `writers` writer processes; gaps and duplicates."""
    url = migrated_database(admin_url, "copymark_bench_log")
    env = initialised_home(work / "log", url)
    per_writer = max(1, leaves // writers)
    with sequencer_process(env):
        started = time.monotonic()
        given = run_writers(url, writers, per_writer, group=8)
        seconds = time.monotonic() - started
    size = tree_size(url)
    return {
        "writers": writers,
        "leaves": size,
        "seconds": round(seconds, 2),
        "leaves_per_s": round(size / seconds, 1),
        **index_problems(given, size),
        "log_verify_ok": log_verifies(env),
        "leaves_synthetic": True,
    }


VECTOR_DIM = 256
VECTOR_CHUNK = 250_000
# A query is a near copy of a vector: noise of norm 0.3 on the unit vector, cosine about 0.96.
QUERY_NOISE = 0.3


def _vector_chunk(number: int, vectors: int, centres: Any) -> Any:
    """Chunk `number` of the synthetic set, made from its own seed, so it can be made again."""
    import faiss
    import numpy as np

    rng = np.random.default_rng([7, number])
    size = min(VECTOR_CHUNK, vectors - number * VECTOR_CHUNK)
    chunk = centres[rng.integers(0, len(centres), size)] + 0.6 * rng.standard_normal(
        (size, VECTOR_DIM), dtype=np.float32
    )
    faiss.normalize_L2(chunk)
    return chunk


def _merge_top(best: tuple[Any, Any], scores: Any, ids: Any, k: int) -> tuple[Any, Any]:
    """The k highest scores per row of the two candidate sets, with their ids."""
    import numpy as np

    all_scores = np.concatenate([best[0], scores], axis=1)
    all_ids = np.concatenate([best[1], ids], axis=1)
    keep = np.argpartition(-all_scores, k - 1, axis=1)[:, :k]
    return np.take_along_axis(all_scores, keep, 1), np.take_along_axis(all_ids, keep, 1)


def vector_figures(
    works: int, vectors: int, shards: int, queries: int = 200, nprobe: int | None = None
) -> dict[str, Any]:
    """Search over synthetic vectors sharded by work id, merged top-10, against exact search.

    The vectors are made chunk by chunk and never held all at once (10 million 256-d float
    vectors are 10 GB): a first pass trains each shard and picks the queries (near copies of
    vectors it made), a second makes every chunk again, adds it to its shards and keeps each
    query's exact top 10 so far.
    """
    import faiss
    import numpy as np

    rng = np.random.default_rng(7)
    centres = rng.standard_normal((1024, VECTOR_DIM)).astype(np.float32)
    chunks = -(-vectors // VECTOR_CHUNK)
    per_shard = vectors // shards
    nlist = max(16, min(4096, int(4 * per_shard**0.5)))
    probes = nprobe or max(16, nlist // 64)
    layout = f"IVF{nlist},Flat" if per_shard <= 1_000_000 else f"IVF{nlist},PQ32x4fs"
    training = min(per_shard, 50 * nlist)
    built = time.monotonic()
    # Building may use every core; searching is measured on one thread, as a query runs.
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    samples: list[list[Any]] = [[] for _ in range(shards)]
    made: list[Any] = []
    for number in range(chunks):
        chunk = _vector_chunk(number, vectors, centres)
        made.append(chunk)
        shard_of = _work_of(number, len(chunk), works, vectors) % shards
        for shard in range(shards):
            samples[shard].append(chunk[shard_of == shard])
        if all(sum(len(part) for part in sample) >= training for sample in samples):
            break
    seen = np.concatenate(made)
    picked = rng.integers(0, len(seen), queries)
    noise = rng.standard_normal((queries, VECTOR_DIM)).astype(np.float32)
    query = seen[picked] + QUERY_NOISE / VECTOR_DIM**0.5 * noise
    faiss.normalize_L2(query)
    del made, seen
    indexes = []
    for sample in samples:
        index = faiss.index_factory(VECTOR_DIM, layout, faiss.METRIC_INNER_PRODUCT)
        index.train(np.concatenate(sample)[:training])
        faiss.extract_index_ivf(index).nprobe = min(probes, nlist)
        indexes.append(index)
    del samples
    truth = (np.full((queries, 10), -np.inf, np.float32), np.full((queries, 10), -1, np.int64))
    for number in range(chunks):
        chunk = _vector_chunk(number, vectors, centres)
        ids = np.arange(number * VECTOR_CHUNK, number * VECTOR_CHUNK + len(chunk), dtype=np.int64)
        shard_of = _work_of(number, len(chunk), works, vectors) % shards
        for shard, index in enumerate(indexes):
            rows = shard_of == shard
            index.add_with_ids(chunk[rows], ids[rows])
        scores = query @ chunk.T
        kept = min(10, len(chunk))
        top = np.argpartition(-scores, kept - 1, axis=1)[:, :kept]
        truth = _merge_top(truth, np.take_along_axis(scores, top, 1), ids[top], 10)
    build_s = time.monotonic() - built
    faiss.omp_set_num_threads(1)
    latencies = []
    recalls = []
    found_nearest = 0
    for number in range(queries):
        started = time.perf_counter()
        hits: list[tuple[float, int]] = []
        for index in indexes:
            scores, found = index.search(query[number : number + 1], 10)
            hits += [(float(s), int(i)) for s, i in zip(scores[0], found[0], strict=True) if i >= 0]
        merged = [vector for _score, vector in sorted(hits, reverse=True)[:10]]
        latencies.append((time.perf_counter() - started) * 1000)
        recalls.append(len(set(merged) & set(truth[1][number].tolist())) / 10)
        found_nearest += int(truth[1][number][np.argmax(truth[0][number])]) in merged
    latencies.sort()
    return {
        "vectors": vectors,
        "works": works,
        "shards": shards,
        "layout_per_shard": layout,
        "nprobe": min(probes, nlist),
        "dim": VECTOR_DIM,
        "build_s": round(build_s, 1),
        "p50_ms": round(latencies[len(latencies) // 2], 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 3),
        "recall_at_10": round(sum(recalls) / len(recalls), 4),
        "nearest_in_top_10": round(found_nearest / queries, 4),
        "bytes_per_vector": round(sum(_index_bytes(index) for index in indexes) / vectors, 1),
        "vectors_synthetic": "clustered Gaussian 256-d vectors, not image embeddings",
    }


def _work_of(number: int, size: int, works: int, vectors: int) -> Any:
    """The work id of each vector of chunk `number`: works own equal runs of vectors."""
    import numpy as np

    first = number * VECTOR_CHUNK
    return np.arange(first, first + size, dtype=np.int64) * works // vectors


def _index_bytes(index: Any) -> int:
    import faiss

    return int(faiss.serialize_index(index).size)


def sizing(
    crawl: dict[str, Any],
    log: dict[str, Any],
    vectors: dict[str, Any],
    registration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What 50M works and 10M registrations a day need, from the figures measured above.

    Registration's CPU a work is this run's least among its Celery worker counts when the
    registration part ran; otherwise the README's measured `copymark register` figure, named so.
    """
    works = 50_000_000
    registrations_per_s = 10_000_000 / 86_400
    vectors_per_work = vectors["vectors"] / vectors["works"]
    index_gb = works * vectors_per_work * vectors["bytes_per_vector"] / 1e9
    best_crawl = max(crawl["runs"], key=lambda run: run["pages_per_s"])
    # The sequenced runs leave the sequencer's CPU out, so only in-place runs size the cores.
    in_place = [
        run["worker_cpu_s_per_work"]
        for run in (registration or {}).get("runs", ())
        if run["log"] == "in_place"
    ]
    if in_place:
        registration_cpu_s = min(in_place)
        source = "this run's Celery workers"
    else:
        registration_cpu_s = README_REGISTRATION_CPU_S_PER_WORK
        source = "the README's `copymark register` run"
    return {
        "works": works,
        "registrations_per_s_average": round(registrations_per_s, 1),
        "index_gb_at_measured_bytes_per_vector": round(index_gb, 1),
        "shards_of_32_gb": int(-(-index_gb // 32)),
        "search_p99_ms_per_shard_measured": vectors["p99_ms"] / max(1, vectors["shards"]),
        "log_sequencer_headroom_x": round(log["leaves_per_s"] / registrations_per_s, 2),
        "registration_cpu_s_per_work": registration_cpu_s,
        "registration_cores_average": round(registrations_per_s * registration_cpu_s, 1),
        "crawl_cores_per_100_pages_per_s": round(100 * best_crawl["cpu_s_per_page"], 2),
        "note": f"registration CPU from {source}; the rest from this run's figures, scaled "
        "linearly",
    }


# Works registered in the background in each of the Redis and S3 fault phases.
FAULT_WORKS = 240

SCALE_PARTS = (
    "seen-urls",
    "crawl",
    "log",
    "vectors",
    "faults",
    "startup",
    "registration",
    "shards",
)


def run_scale_benchmark(
    admin_url: str,
    work: Path,
    *,
    works: int,
    vectors: int,
    pages: int,
    leaves: int,
    seen_urls: int,
    registration_works: int,
    log: Log,
    parts: Collection[str] = SCALE_PARTS,
    process_counts: Collection[int] = PROCESS_COUNTS,
) -> dict[str, Any]:
    """The figures of `copymark bench scale` (those of `parts`), with the load average when each
    began; the sizing table when crawl, log and vectors all ran."""
    figures: dict[str, Any] = {}
    if "seen-urls" in parts:
        log(f"scale: de-duplicating {seen_urls:,} URLs in the frontier")
        figures["load_average_before_seen_urls"] = os.getloadavg()[0]
        figures["seen_urls"] = seen_url_figures(admin_url, seen_urls)
    if "crawl" in parts:
        log(f"scale: crawl with {', '.join(map(str, process_counts))} crawler processes")
        figures["load_average_at_start"] = os.getloadavg()[0]
        figures["crawl"] = crawl_figures(admin_url, work, pages, 0.1, process_counts)
    if "log" in parts:
        log("scale: log appends from 8 writer processes through one sequencer")
        figures["load_average_before_log"] = os.getloadavg()[0]
        figures["log"] = log_figures(admin_url, work, leaves)
    if "vectors" in parts:
        log(f"scale: search over {vectors:,} synthetic vectors in 4 shards")
        figures["load_average_before_vectors"] = os.getloadavg()[0]
        figures["vectors"] = vector_figures(works, vectors, shards=4)
        figures["load_average_after_vectors"] = os.getloadavg()[0]
    if "faults" in parts:
        log("scale: the sequencer killed mid-run, then one of 4 crawlers")
        figures["load_average_before_faults"] = os.getloadavg()[0]
        faults = {
            "sequencer_killed": sequencer_kill_figures(admin_url, work, leaves),
            "crawler_killed": crawler_kill_figures(admin_url, work, pages),
        }
        models = work / "models"
        log(f"scale: background registration of {FAULT_WORKS} works, Redis restarted mid-run")
        figures["load_average_before_redis_restart"] = os.getloadavg()[0]
        faults["redis_restarted"] = redis_restart_figures(admin_url, work, FAULT_WORKS, models)
        log(f"scale: background registration of {FAULT_WORKS} works, S3 stopped for a minute")
        figures["load_average_before_s3_outage"] = os.getloadavg()[0]
        faults["s3_stopped"] = s3_outage_figures(admin_url, work, FAULT_WORKS, models)
        figures["faults"] = faults
    if "startup" in parts:
        log(f"scale: a new machine's first search at {works:,} works, from a snapshot and without")
        figures["load_average_before_startup"] = os.getloadavg()[0]
        figures["startup"] = startup_figures(admin_url, work, works)
    if "registration" in parts:
        counts = ", ".join(map(str, process_counts))
        log(f"scale: background registration of {registration_works} works by {counts} workers")
        figures["load_average_before_registration"] = os.getloadavg()[0]
        figures["registration"] = registration_throughput_figures(
            admin_url, work, registration_works, work / "models", process_counts
        )
    if "shards" in parts:
        counts = ", ".join(map(str, process_counts))
        log(f"scale: the similarity index at {works:,} works, whole and in {counts} shards")
        figures["load_average_before_shards"] = os.getloadavg()[0]
        figures["shards"] = index_shard_figures(admin_url, work, works, shard_counts=process_counts)
    if {"crawl", "log", "vectors"} <= set(parts):
        figures["sizing_50m_works"] = sizing(
            figures["crawl"], figures["log"], figures["vectors"], figures.get("registration")
        )
    return figures
