import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bench.similarity.dataset import (
    QUICK_SIZE,
    BenchmarkSet,
    BenchmarkSourceError,
    SourceImage,
    build_benchmark,
    save_png,
    split_sources,
)
from similarity.corpus import is_evaluation_stamp
from similarity.images import load_image


@pytest.fixture(scope="module")
def quick_set(tmp_path_factory: pytest.TempPathFactory) -> BenchmarkSet:
    return build_benchmark(tmp_path_factory.mktemp("bench"), QUICK_SIZE, seed=3)


def _sources(benchmark: BenchmarkSet) -> list[str]:
    return [r.source for r in benchmark.references] + [q.source for q in benchmark.queries]


def test_no_stamp_of_the_cnn_training_half_is_used(quick_set: BenchmarkSet) -> None:
    stamps = [s.removeprefix("stamp:") for s in _sources(quick_set) if s.startswith("stamp:")]
    assert stamps
    assert all(is_evaluation_stamp(s) for s in stamps)


def test_distractors_share_no_source_folder_with_references(quick_set: BenchmarkSet) -> None:
    def folder(source: str) -> str:
        return source.rsplit("/", 1)[0] if source.startswith("stamp:") else source

    registered = {folder(r.source) for r in quick_set.references}
    distractors = {folder(q.source) for q in quick_set.queries if q.reference_id is None}
    assert distractors
    assert not registered & distractors


def test_every_family_has_the_requested_number_of_copies(quick_set: BenchmarkSet) -> None:
    positives = [q for q in quick_set.queries if q.reference_id is not None]
    for family in quick_set.families():
        copies = [q for q in positives if q.family == family]
        assert len(copies) == QUICK_SIZE.queries_per_family


def test_sizes_follow_the_request(quick_set: BenchmarkSet) -> None:
    distractors = [q for q in quick_set.queries if q.reference_id is None]
    assert len(quick_set.references) == QUICK_SIZE.references
    assert len(distractors) == QUICK_SIZE.distractors


def test_positive_queries_point_at_registered_works(quick_set: BenchmarkSet) -> None:
    work_ids = {r.work_id for r in quick_set.references}
    assert set(quick_set.ground_truth().values()) <= work_ids


def test_build_replays_exactly_from_its_seed(quick_set: BenchmarkSet, tmp_path: Path) -> None:
    again = build_benchmark(tmp_path, QUICK_SIZE, seed=3)
    assert [q.query_id for q in again.queries] == [q.query_id for q in quick_set.queries]
    for first, second in zip(quick_set.queries, again.queries, strict=True):
        assert first.path.read_bytes() == second.path.read_bytes()


def test_a_built_set_is_reused_from_the_cache(quick_set: BenchmarkSet) -> None:
    manifest = quick_set.root / "manifest.json"
    before = manifest.stat().st_mtime_ns
    reused = build_benchmark(quick_set.root.parent, QUICK_SIZE, seed=3)
    assert reused == quick_set
    assert manifest.stat().st_mtime_ns == before


def test_a_set_with_a_missing_file_is_rebuilt(tmp_path: Path) -> None:
    first = build_benchmark(tmp_path, QUICK_SIZE, seed=4)
    first.queries[0].path.unlink()
    rebuilt = build_benchmark(tmp_path, QUICK_SIZE, seed=4)
    assert rebuilt.queries[0].path.is_file()


def test_missing_stamps_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkSourceError, match="tuxpaint-stamps-default"):
        build_benchmark(tmp_path, QUICK_SIZE, stamps_dir=tmp_path / "absent")


def _pool(group_sizes: list[int]) -> list[SourceImage]:
    return [
        SourceImage(f"g{g}-{i}", f"g{g}", Path(f"g{g}-{i}.png"))
        for g, size in enumerate(group_sizes)
        for i in range(size)
    ]


@given(
    group_sizes=st.lists(st.integers(1, 6), min_size=2, max_size=30),
    wanted=st.integers(1, 20),
    seed=st.integers(0, 1000),
)
def test_split_keeps_every_group_on_one_side(
    group_sizes: list[int], wanted: int, seed: int
) -> None:
    pool = _pool(group_sizes)
    assume(wanted <= len(pool))
    references, distractors = split_sources(pool, wanted, random.Random(seed))
    assert len(references) == wanted
    assert not {s.group for s in references} & {s.group for s in distractors}


def test_split_refuses_more_references_than_sources() -> None:
    with pytest.raises(BenchmarkSourceError, match="3 references requested"):
        split_sources(_pool([1, 1]), 3, random.Random(0))


def test_saved_noise_loads_even_where_its_compressed_bytes_spell_markup(tmp_path: Path) -> None:
    pixels = np.random.default_rng(14).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    path = tmp_path / "noise.png"
    save_png(pixels, path)
    data = path.read_bytes()
    assert b"<svg" in data.lower()
    assert np.array_equal(load_image(data, max_side=None).rgb, pixels)
