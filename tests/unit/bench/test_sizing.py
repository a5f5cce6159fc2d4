"""The 50M-works sizing takes registration's CPU from the run when it measured it."""

from __future__ import annotations

from typing import Any

import pytest

from bench.scale import README_REGISTRATION_CPU_S_PER_WORK, sizing

CRAWL = {"runs": [{"pages_per_s": 5.0, "cpu_s_per_page": 0.1}]}
LOG = {"leaves_per_s": 76.0}
VECTORS = {"vectors": 20_000, "works": 5_000, "bytes_per_vector": 1_000, "p99_ms": 0.4, "shards": 4}


def registration_runs(*cpu_s_per_work: float, log: str = "in_place") -> dict[str, Any]:
    return {"runs": [{"log": log, "worker_cpu_s_per_work": cpu} for cpu in cpu_s_per_work]}


def test_registration_cores_come_from_the_least_cpu_a_work_of_this_run() -> None:
    sized = sizing(CRAWL, LOG, VECTORS, registration_runs(0.174, 0.173, 0.198))
    assert sized["registration_cpu_s_per_work"] == 0.173
    assert sized["registration_cores_average"] == pytest.approx(10_000_000 / 86_400 * 0.173, 0.01)
    assert "this run's Celery workers" in sized["note"]


def test_sequenced_runs_which_leave_the_sequencers_cpu_out_do_not_size_the_cores() -> None:
    runs = registration_runs(0.174)["runs"] + registration_runs(0.150, log="sequenced")["runs"]
    sized = sizing(CRAWL, LOG, VECTORS, {"runs": runs})
    assert sized["registration_cpu_s_per_work"] == 0.174
    only_sequenced = sizing(CRAWL, LOG, VECTORS, registration_runs(0.150, log="sequenced"))
    assert only_sequenced["registration_cpu_s_per_work"] == README_REGISTRATION_CPU_S_PER_WORK


@pytest.mark.parametrize("registration", [None, {"skipped": "no Redis server"}])
def test_without_a_registration_run_the_readme_figure_is_used_and_named(
    registration: dict[str, Any] | None,
) -> None:
    sized = sizing(CRAWL, LOG, VECTORS, registration)
    assert sized["registration_cpu_s_per_work"] == README_REGISTRATION_CPU_S_PER_WORK
    assert "README" in sized["note"]
    assert sized["index_gb_at_measured_bytes_per_vector"] == 200.0
