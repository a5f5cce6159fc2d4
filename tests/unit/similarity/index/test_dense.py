from pathlib import Path

import numpy as np
import pytest

from similarity.index import EmbeddingIndex, IndexCorruptError, work_ids
from similarity.index.ids import WorkIdError, region_ids


def _unit(count: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


VECTORS = _unit(60, 64, 3)


def _filled() -> EmbeddingIndex:
    index = EmbeddingIndex(64)
    for work_id in range(20):
        index.add(work_id, VECTORS[work_id * 3 : work_id * 3 + 3])
    return index


def test_region_vector_finds_its_work_with_near_unit_similarity() -> None:
    similarities, ids = _filled().search(VECTORS[31:32], 1)
    assert work_ids(ids)[0, 0] == 10
    assert similarities[0, 0] == pytest.approx(1.0, abs=0.02)


def test_removed_work_stops_matching() -> None:
    index = _filled()
    assert index.remove(10) == 3
    _, ids = index.search(VECTORS[30:33], 3)
    assert 10 not in work_ids(ids)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    _filled().save(tmp_path / "vectors.index")
    _, ids = EmbeddingIndex.load(tmp_path / "vectors.index", 64).search(VECTORS[:1], 1)
    assert work_ids(ids)[0, 0] == 0


def test_dimension_mismatch_is_reported(tmp_path: Path) -> None:
    _filled().save(tmp_path / "vectors.index")
    with pytest.raises(IndexCorruptError, match="64-d"):
        EmbeddingIndex.load(tmp_path / "vectors.index", 128)


def test_ivf_layout_trains_then_finds() -> None:
    sample = _unit(2000, 64, 4)
    index = EmbeddingIndex(64, layout="ivf", lists=16)
    assert index.needs_training
    index.train(sample)
    for work_id in range(100):
        index.add(work_id, sample[work_id : work_id + 1])
    _, ids = index.search(sample[57:58], 1)
    assert work_ids(ids)[0, 0] == 57


def test_work_id_out_of_range_is_refused() -> None:
    with pytest.raises(WorkIdError):
        region_ids(-1, 1)
    with pytest.raises(WorkIdError):
        region_ids(1, 17)


def test_flat_index_refiled_as_ivf_finds_every_work() -> None:
    ivf = _filled().as_ivf()
    assert ivf.layout == "ivf"
    assert len(ivf) == len(VECTORS)
    _, ids = ivf.search(VECTORS, 1)
    assert (work_ids(ids)[:, 0] == np.arange(len(VECTORS)) // 3).mean() > 0.9
