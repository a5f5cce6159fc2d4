from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from bench.similarity.detectors import _hamming
from bench.similarity.heldout import HELDOUT_QUICK_SIZE, HeldoutSet, build_heldout
from bench.similarity.open_world import _hamming_nearest
from bench.similarity.throughput import (
    WARM_UP_QUERIES,
    ThroughputError,
    ThroughputSize,
    _synthetic_phash,
    build_registry,
    measure_fingerprinting,
    measure_throughput,
    query_mix,
)
from similarity.references import ReferenceFeatures


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("throughput-cache")


@pytest.fixture(scope="module")
def heldout_set(cache_dir: Path) -> HeldoutSet:
    return build_heldout(cache_dir, HELDOUT_QUICK_SIZE, seed=1)


def test_the_mix_holds_copies_and_never_registered_images_none_twice(
    heldout_set: HeldoutSet,
) -> None:
    warm_up, timed, copies = query_mix(heldout_set, 20, seed=4)
    assert len(warm_up) == WARM_UP_QUERIES
    assert len(timed) == 20
    assert not set(warm_up) & set(timed)
    assert len(set(timed)) == 20
    copy_paths = {q.path for q in heldout_set.benchmark.queries if q.reference_id is not None}
    assert copies == sum(1 for path in timed if path in copy_paths)
    assert 0 < copies < 20
    assert query_mix(heldout_set, 20, seed=4) == (warm_up, timed, copies)


def test_more_queries_than_the_set_holds_is_refused(heldout_set: HeldoutSet) -> None:
    with pytest.raises(ThroughputError, match="held-out set has"):
        query_mix(heldout_set, len(heldout_set.benchmark.queries), seed=0)


def test_synthetic_phash_pairs_sit_as_far_from_their_origins_as_real_works_do() -> None:
    rng = np.random.default_rng(3)
    real = rng.integers(0, 256, (12, 2, 8), dtype=np.uint8)
    synthetic = _synthetic_phash(real, 200, seed=9)
    assert synthetic.shape == (200, 2, 8)
    allowed = set(_hamming_nearest(real[:, 0]).tolist())
    for pair in synthetic:
        own = _hamming(real[:, 0], pair[0])
        mirrored = _hamming(real[:, 1], pair[1])
        # Some real pair is its origin: both hashes moved by one mask, as far as real works differ.
        assert any(
            own[row] == mirrored[row] and int(own[row]) in allowed for row in range(len(real))
        )


@pytest.mark.slow
def test_two_workers_answer_over_a_registry_that_is_built_once(
    heldout_set: HeldoutSet, cache_dir: Path
) -> None:
    size = ThroughputSize(works=60, queries=6)
    figures = measure_throughput(heldout_set, size, cache_dir, seed=2)
    assert figures["registry_cached"] is False
    assert figures["registered_works"] == 60
    assert figures["queries"] == 6
    for system in ("full", "phash"):
        assert cast(float, figures[f"{system}_queries_per_s"]) > 0
        assert cast(float, figures[f"{system}_cpu_ms_per_query"]) > 0
        assert len(cast(list[Any], figures[f"{system}_load_average_1min"])) == 2
        # Every query answered once, by whichever worker was free.
        assert sum(cast(list[int], figures[f"{system}_queries_per_worker"])) == 6
        for kind in ("copies", "never_registered"):
            assert cast(float, figures[f"{system}_cpu_ms_per_query_on_{kind}"]) > 0
    assert 0.0 <= cast(float, figures["full_false_copy_fraction"]) <= 1.0
    assert "phash_false_copy_fraction" not in figures
    folder, cached = build_registry(heldout_set, size, cache_dir, seed=2)
    assert cached
    stored = np.load(folder / "phash.npz")
    assert len(stored["work_ids"]) == len(set(stored["work_ids"].tolist())) == 60
    # Each real work's features, as registration stores them: what the workers check against.
    features = sorted((folder / "references").glob("*.npz"))
    real = [*heldout_set.benchmark.references, *heldout_set.extras]
    assert [path.stem for path in features] == sorted(str(work.work_id) for work in real)
    assert ReferenceFeatures.from_bytes(features[0].read_bytes()).copy_vector is not None


@pytest.mark.slow
def test_one_and_two_processes_fingerprint_every_real_work_once(
    heldout_set: HeldoutSet, cache_dir: Path
) -> None:
    figures = measure_fingerprinting(heldout_set, cache_dir)
    real = len(heldout_set.benchmark.references) + len(heldout_set.extras)
    assert figures["fingerprinted_images"] == real - WARM_UP_QUERIES
    for count in (1, 2):
        assert cast(float, figures[f"images_per_s_{count}_processes"]) > 0
        assert cast(float, figures[f"cpu_ms_per_image_{count}_processes"]) > 0
        taken = cast(list[int], figures[f"images_per_process_{count}_processes"])
        assert len(taken) == count
        assert sum(taken) == real - WARM_UP_QUERIES
    # The scratch engines' folders are gone with their processes.
    assert not list(cache_dir.glob("fingerprinting-*"))
