"""`copymark bench AREA`: the figures the targets are judged by; one JSON object with --json."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from frontend.cli.output import fail, stderr

AREAS = ("registry", "similarity", "crawl", "licensing", "settlement", "web", "scale")

# Each area imports its benchmark (and with it torch, FAISS or the app's wiring) only when run,
# so that `copymark --help` and the other commands start fast.


def _cache_dir() -> Path:
    """Benchmark sets and exported models, kept between runs under COPYMARK_HOME."""
    from frontend.settings import Settings

    return Settings().home / "benchmark"


def _registry(quick: bool) -> dict[str, Any]:
    from bench.log import append_leaves_per_s, inclusion_proofs_per_s, verify_seconds
    from bench.registration import registration_hash_only, registration_through_cli
    from frontend.cli.scratch import scratch_app

    works = 100 if quick else 1000
    figures: dict[str, Any] = {}
    figures |= append_leaves_per_s(10_000 if quick else 100_000)
    figures |= inclusion_proofs_per_s(10_000 if quick else 100_000, 500 if quick else 5000)
    figures |= verify_seconds(10_000 if quick else 1_000_000)
    figures |= registration_hash_only(scratch_app(_cache_dir() / "models"), works)
    figures |= registration_through_cli(
        [sys.executable, "-m", "frontend.cli"], works, processes=(1, 2, 4)
    )
    return figures


def _similarity(quick: bool, scale: int | None) -> dict[str, Any]:
    from bench.index import bytes_per_work, search_latency
    from bench.similarity.dataset import FULL_SIZE, QUICK_SIZE
    from bench.similarity.runner import run_benchmark

    figures = run_benchmark(_cache_dir(), QUICK_SIZE if quick else FULL_SIZE, progress=stderr.log)
    works = scale or (10_000 if quick else 100_000)
    layout: Literal["flat", "ivf"] = "ivf" if works >= 100_000 else "flat"
    figures["index_at_scale"] = search_latency(works, layout=layout) | bytes_per_work(
        min(works, 100_000), layout=layout
    )
    return figures


def _crawl(quick: bool) -> dict[str, Any]:
    from bench.monitoring import run_crawl_benchmark
    from frontend.cli.scratch import scratch_app

    cache = _cache_dir()
    return run_crawl_benchmark(
        cache, scratch_app(cache / "models"), crawler_pages=200 if quick else 1000
    )


def _licensing(quick: bool) -> dict[str, Any]:
    from bench.licensing import run_licensing_benchmark

    return run_licensing_benchmark(executions=5_000 if quick else 50_000)


def _web(quick: bool, seconds: float | None, lists_only: bool) -> dict[str, Any]:
    from bench.lists import run_list_benchmark
    from bench.web import run_web_benchmark

    copymark = [sys.executable, "-m", "frontend.cli"]
    lists = run_list_benchmark(
        copymark,
        _cache_dir() / "models",
        works=2_000 if quick else 10_000,
        seconds=seconds or (10.0 if quick else 30.0),
    )
    if lists_only:
        return {"list_pages": lists}
    figures = run_web_benchmark(
        copymark, _cache_dir() / "models", seconds=seconds or (15.0 if quick else 60.0)
    )
    return figures | {"list_pages": lists}


def _settlement(quick: bool) -> dict[str, Any]:
    """SQLite always; PostgreSQL too on the server `COPYMARK_BENCH_POSTGRES_URL` names (a fresh
    database is made there and dropped afterwards), e.g. postgresql+psycopg://postgres@host/postgres."""
    import os
    from contextlib import ExitStack

    from bench.settlement import run_settlement_benchmark
    from frontend.cli.scratch import scratch_app, scratch_postgres_database

    models = _cache_dir() / "models"
    server = os.environ.get("COPYMARK_BENCH_POSTGRES_URL", "")
    with ExitStack() as stack:
        postgres = None
        if server:
            database = stack.enter_context(scratch_postgres_database(server))
            postgres = scratch_app(models, database)
        figures = run_settlement_benchmark(
            scratch_app(models),
            sales=2_000 if quick else 20_000,
            open_postgres_app=postgres,
            checkouts=20 if quick else 200,
            simulated_payments=500 if quick else 10_000,
            progress=lambda phase: stderr.log(json.dumps(phase)),
        )
    figures["load_average_1m"] = round(os.getloadavg()[0], 2)
    return figures


def _scale(
    works: int | None,
    vectors: int | None,
    pages: int | None,
    seen_urls: int | None,
    *,
    registration_works: int | None,
    processes: str | None,
    only: str | None,
) -> dict[str, Any]:
    import os
    import tempfile

    from bench.background_registration import fewest_works
    from bench.scale import PROCESS_COUNTS, SCALE_PARTS, run_scale_benchmark

    parts = SCALE_PARTS if only is None else [part.strip() for part in only.split(",")]
    unknown = sorted(set(parts) - set(SCALE_PARTS))
    if unknown:
        fail(f"unknown part {', '.join(unknown)}: choose from {', '.join(SCALE_PARTS)}", 2)
    process_counts = PROCESS_COUNTS if processes is None else _counts(processes)
    registration_works = registration_works or 240
    if "registration" in parts and registration_works < fewest_works(process_counts):
        fail(
            f"--registration-works must be at least {fewest_works(process_counts)} for "
            f"{max(process_counts)} workers, so that each has a timed task",
            2,
        )
    admin_url = os.environ.get("COPYMARK_BENCH_POSTGRES_URL", "")
    if not admin_url.startswith("postgresql") and set(parts) != {"vectors"}:
        fail(
            "bench scale needs a PostgreSQL server it may create databases on: set "
            "COPYMARK_BENCH_POSTGRES_URL=postgresql+psycopg://user@host:port/postgres",
            2,
        )
    with tempfile.TemporaryDirectory(prefix="copymark-bench-scale-") as work:
        return run_scale_benchmark(
            admin_url,
            Path(work),
            works=works or 20_000,
            vectors=vectors or 100_000,
            pages=pages or 400,
            leaves=2_000,
            seen_urls=seen_urls or 1_000_000,
            registration_works=registration_works,
            log=stderr.log,
            parts=parts,
            process_counts=process_counts,
        )


def _counts(listed: str) -> tuple[int, ...]:
    """Comma-separated process counts, each a whole number from 1 to 64."""
    try:
        counts = tuple(int(part) for part in listed.split(","))
    except ValueError:
        counts = ()
    if not counts or not all(1 <= count <= 64 for count in counts):
        fail(
            f"--processes wants counts from 1 to 64, comma-separated, such as 1,2,4: {listed!r}", 2
        )
    return counts


def bench(
    area: Annotated[
        str | None, typer.Argument(help=f"one of {', '.join(AREAS)}; all if omitted")
    ] = None,
    *,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="smaller sizes, for a smoke run")] = False,
    scale: Annotated[
        int | None, typer.Option("--scale", help="synthetic index size for similarity")
    ] = None,
    seconds: Annotated[
        float | None, typer.Option("--seconds", help="how long web drives its load (60 s)")
    ] = None,
    lists_only: Annotated[
        bool, typer.Option("--lists-only", help="web: only the list pages over 10,000 works")
    ] = False,
    works: Annotated[
        int | None, typer.Option("--works", min=1, help="scale: synthetic works (20,000)")
    ] = None,
    vectors: Annotated[
        int | None, typer.Option("--vectors", min=1000, help="scale: synthetic vectors (100,000)")
    ] = None,
    pages: Annotated[
        int | None, typer.Option("--pages", min=8, help="scale: pages of the crawled site (400)")
    ] = None,
    seen_urls: Annotated[
        int | None,
        typer.Option("--seen-urls", min=1000, help="scale: URLs the frontier de-duplicates (1M)"),
    ] = None,
    registration_works: Annotated[
        int | None,
        typer.Option(
            "--registration-works",
            min=32,
            help="scale: works registered by each count of Celery workers (240)",
        ),
    ] = None,
    processes: Annotated[
        str | None,
        typer.Option(
            "--processes",
            help=(
                "scale: the counts of crawler processes, of Celery workers and of index shards "
                "to run (1,2,4)"
            ),
        ),
    ] = None,
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            help=(
                "scale: these parts alone, comma-separated "
                "(seen-urls,crawl,log,vectors,faults,startup,registration,shards)"
            ),
        ),
    ] = None,
) -> None:
    """Measure and print the benchmark figures (units are in the names)."""
    if area is not None and area not in AREAS:
        fail(f"unknown area {area!r}: choose from {', '.join(AREAS)}", 2)
    runners = {
        "registry": lambda: _registry(quick),
        "similarity": lambda: _similarity(quick, scale),
        "crawl": lambda: _crawl(quick),
        "licensing": lambda: _licensing(quick),
        "web": lambda: _web(quick, seconds, lists_only),
        "settlement": lambda: _settlement(quick),
        "scale": lambda: _scale(
            works,
            vectors,
            pages,
            seen_urls,
            registration_works=registration_works,
            processes=processes,
            only=only,
        ),
    }
    results: dict[str, Any] = {}
    # `scale` needs a PostgreSQL server; it runs only when asked for by name.
    for name in [area] if area else [name for name in AREAS if name != "scale"]:
        stderr.log(f"benchmark {name}…")
        results[name] = runners[name]()
    if as_json:
        sys.stdout.write(json.dumps(results if area is None else results[area], default=str) + "\n")
        return
    for name, figures in results.items():
        Console().print(_table(name, figures))


def _table(name: str, figures: dict[str, Any]) -> Table:
    table = Table(title=f"copymark bench {name}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        (f"{key}.{inner}" if isinstance(value, dict) else key, item)
        for key, value in figures.items()
        for inner, item in (value.items() if isinstance(value, dict) else [(key, value)])
    ]
    for key, value in rows:
        if isinstance(value, float):
            table.add_row(key, f"{value:,.3f}")
        elif isinstance(value, int | str):
            table.add_row(key, str(value))
        else:
            table.add_row(key, json.dumps(value, default=str)[:120])
    return table
