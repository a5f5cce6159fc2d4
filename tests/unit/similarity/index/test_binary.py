import threading
from pathlib import Path

import numpy as np
import pytest

from similarity.index import BinaryHashIndex, IndexCorruptError, work_ids

RNG = np.random.default_rng(7)
CODES = RNG.integers(0, 256, (50, 32), dtype=np.uint8)


def _filled() -> BinaryHashIndex:
    index = BinaryHashIndex()
    for work_id, code in enumerate(CODES, start=1):
        index.add(work_id, code[None, :])
    return index


def test_exact_hash_finds_its_work() -> None:
    distances, ids = _filled().search(CODES[10:11], 1)
    assert work_ids(ids)[0, 0] == 11
    assert distances[0, 0] == 0


def test_regions_map_back_to_their_work() -> None:
    index = BinaryHashIndex()
    index.add(42, CODES[:3])
    _, ids = index.search(CODES[2:3], 1)
    assert work_ids(ids)[0, 0] == 42


def test_removed_work_stops_matching() -> None:
    index = _filled()
    assert index.remove(11) == 1
    _, ids = index.search(CODES[10:11], 5)
    assert 11 not in work_ids(ids)


def test_adding_again_replaces_the_work() -> None:
    index = _filled()
    index.add(11, CODES[0:1])
    assert len(index) == 50


def test_empty_index_answers_nothing() -> None:
    _, ids = BinaryHashIndex().search(CODES[:2], 3)
    assert (ids == -1).all()


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    _filled().save(tmp_path / "pdq.index")
    loaded = BinaryHashIndex.load(tmp_path / "pdq.index")
    _, ids = loaded.search(CODES[5:6], 1)
    assert work_ids(ids)[0, 0] == 6
    assert [path.name for path in tmp_path.iterdir()] == ["pdq.index"]


def test_corrupt_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "pdq.index"
    path.write_bytes(b"not an index")
    with pytest.raises(IndexCorruptError, match="damaged"):
        BinaryHashIndex.load(path)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(IndexCorruptError, match="missing"):
        BinaryHashIndex.load(tmp_path / "absent.index")


def test_concurrent_adds_and_searches_stay_consistent() -> None:
    index = BinaryHashIndex()
    codes = np.random.default_rng(1).integers(0, 256, (400, 32), dtype=np.uint8)
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        for work_id in range(offset, 400, 4):
            index.add(work_id, codes[work_id][None, :])

    def reader() -> None:
        try:
            for _ in range(200):
                _, ids = index.search(codes[:4], 2)
                assert ((ids == -1) | (ids >= 0)).all()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(index) == 400
    _, ids = index.search(codes, 1)
    assert (work_ids(ids)[:, 0] == np.arange(400)).all()


def test_work_count_counts_works_not_regions() -> None:
    index = BinaryHashIndex()
    codes = np.random.default_rng(5).integers(0, 256, (9, 32), dtype=np.uint8)
    for work_id in range(3):
        index.add(work_id, codes[work_id * 3 : work_id * 3 + 3])
    assert len(index) == 9
    assert index.work_count() == 3
    assert index.as_ivf().work_count() == 3


def test_hashes_refiled_as_ivf_are_found_exactly() -> None:
    codes = np.random.default_rng(6).integers(0, 256, (300, 32), dtype=np.uint8)
    index = BinaryHashIndex()
    for work_id in range(100):
        index.add(work_id, codes[work_id * 3 : work_id * 3 + 3])
    ivf = index.as_ivf()
    assert ivf.layout == "ivf"
    distances, ids = ivf.search(codes[::3], 1)
    assert (work_ids(ids)[:, 0] == np.arange(100)).mean() > 0.9
    assert (distances[:, 0] == 0).mean() > 0.9
