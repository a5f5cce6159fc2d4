"""An index split by work id answers as the whole index would; the wire refuses what is not rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from similarity.index import BinaryHashIndex, EmbeddingIndex
from similarity.index.shards import (
    HASH_BYTES,
    MAX_QUERY_ROWS,
    ShardSelection,
    ShardSelectionError,
    ShardWireError,
    decode_answer,
    decode_queries,
    encode_answer,
    merge_hashes,
    merge_vectors,
)

DIM = 16


def _unit(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    works=st.integers(1, 60),
    shards=st.integers(1, 5),
    k=st.integers(1, 12),
)
def test_merged_shards_give_the_whole_index_answer(
    seed: int, works: int, shards: int, k: int
) -> None:
    rng = np.random.default_rng(seed)
    regions = {work: _unit(rng, int(rng.integers(1, 4))) for work in range(1, works + 1)}
    hashes = {
        work: rng.integers(0, 256, (len(rows), HASH_BYTES), np.uint8)
        for work, rows in regions.items()
    }
    whole_vectors, whole_hashes = EmbeddingIndex(DIM), BinaryHashIndex()
    whole_vectors.add_new(regions.items())
    whole_hashes.add_new(hashes.items())
    parts = [(EmbeddingIndex(DIM), BinaryHashIndex()) for _ in range(shards)]
    for shard, (vectors, hash_index) in enumerate(parts):
        selection = ShardSelection(shard, shards)
        vectors.add_new((w, rows) for w, rows in regions.items() if selection.holds(w))
        hash_index.add_new((w, rows) for w, rows in hashes.items() if selection.holds(w))
    queries = _unit(rng, 5)
    hash_queries = rng.integers(0, 256, (5, HASH_BYTES), np.uint8)

    _assert_same_answer(
        merge_vectors([v.search(queries, k) for v, _ in parts], k),
        whole_vectors.search(queries, k),
        largest=True,
    )
    _assert_same_answer(
        merge_hashes([h.search(hash_queries, k) for _, h in parts], k),
        whole_hashes.search(hash_queries, k),
        largest=False,
    )


def _assert_same_answer(
    merged: tuple[np.ndarray, np.ndarray], whole: tuple[np.ndarray, np.ndarray], *, largest: bool
) -> None:
    """As many results, the same scores in the same order, and the same rows at every score
    better than the last: rows tied with the k-th may be any of the tied ones. (A missing result's
    score is whatever its index fills in: only its id, -1, means anything.)"""
    (scores, ids), (expected_scores, expected_ids) = merged, whole
    found = expected_ids >= 0
    np.testing.assert_array_equal(ids >= 0, found)
    np.testing.assert_array_equal(scores[found], expected_scores[found])
    for row in range(len(scores)):
        row_scores = scores[row][found[row]]
        if not len(row_scores):
            continue
        better = row_scores > row_scores[-1] if largest else row_scores < row_scores[-1]
        assert set(ids[row][found[row]][better]) == set(expected_ids[row][found[row]][better])


@pytest.mark.parametrize("shards", [2, 3, 5])
def test_rows_tied_at_the_kth_are_the_ones_the_whole_index_keeps(shards: int) -> None:
    rng = np.random.default_rng(3)
    same_hash = rng.integers(0, 256, (1, HASH_BYTES), np.uint8)
    same_vector = _unit(rng, 1)
    whole_vectors, whole_hashes = EmbeddingIndex(DIM), BinaryHashIndex()
    whole_vectors.add_new((work, same_vector) for work in range(1, 41))
    whole_hashes.add_new((work, same_hash) for work in range(1, 41))
    parts = [(EmbeddingIndex(DIM), BinaryHashIndex()) for _ in range(shards)]
    for shard, (vectors, hash_index) in enumerate(parts):
        held = [work for work in range(1, 41) if ShardSelection(shard, shards).holds(work)]
        vectors.add_new((work, same_vector) for work in held)
        hash_index.add_new((work, same_hash) for work in held)

    _, merged_hash_ids = merge_hashes([h.search(same_hash, 7) for _, h in parts], 7)
    _, merged_vector_ids = merge_vectors([v.search(same_vector, 7) for v, _ in parts], 7)
    assert merged_hash_ids.tolist() == whole_hashes.search(same_hash, 7)[1].tolist()
    assert set(merged_vector_ids[0]) == set(whole_vectors.search(same_vector, 7)[1][0])


def test_missing_results_rank_after_every_found_one_whatever_their_filler() -> None:
    found = (np.array([[-0.5, -0.7]], np.float32), np.array([[16, 33]], np.int64))
    empty = (np.array([[0.9, 0.9]], np.float32), np.array([[-1, -1]], np.int64))
    similarities, ids = merge_vectors([empty, found], 2)
    assert ids.tolist() == [[16, 33]]
    assert similarities[0].tolist() == pytest.approx([-0.5, -0.7])
    distances, hash_ids = merge_hashes(
        [
            (np.array([[0]], np.int32), np.array([[-1]])),
            (np.array([[90]], np.int32), np.array([[7]])),
        ],
        1,
    )
    assert (distances.tolist(), hash_ids.tolist()) == ([[90]], [[7]])


@pytest.mark.parametrize(
    ("text", "expected"), [("0/1", ShardSelection(0, 1)), (" 3/4 ", ShardSelection(3, 4))]
)
def test_a_shard_is_written_shard_slash_count(text: str, expected: ShardSelection) -> None:
    assert ShardSelection.parse(text) == expected


@pytest.mark.parametrize("text", ["", "1", "2/2", "-1/2", "0/0", "a/b", "1/2/3", "0 / 2"])
def test_a_shard_outside_its_set_is_refused_in_words(text: str) -> None:
    with pytest.raises(ShardSelectionError, match="shard"):
        ShardSelection.parse(text)


def test_each_work_belongs_to_exactly_one_shard() -> None:
    selections = [ShardSelection(shard, 3) for shard in range(3)]
    for work_id in range(1, 50):
        assert sum(selection.holds(work_id) for selection in selections) == 1


def test_queries_and_answers_cross_the_wire_unchanged() -> None:
    rng = np.random.default_rng(7)
    queries = _unit(rng, 3)
    decoded = decode_queries(queries.astype("<f4").tobytes(), np.dtype(np.float32), DIM)
    np.testing.assert_array_equal(decoded, queries)
    scores, ids = rng.random((3, 4)).astype(np.float32), rng.integers(-1, 10**9, (3, 4))
    back_scores, back_ids = decode_answer(encode_answer(scores, ids), 3, 4, np.dtype(np.float32))
    np.testing.assert_array_equal(back_scores, scores)
    np.testing.assert_array_equal(back_ids, ids)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "whole query rows"),
        (b"\x00" * (DIM * 4 + 1), "whole query rows"),
        (np.full(DIM, np.nan, np.float32).tobytes(), "finite"),
        (np.full(DIM, np.inf, np.float32).tobytes(), "finite"),
        (b"\x00" * (DIM * 4 * (MAX_QUERY_ROWS + 1)), "at most"),
    ],
)
def test_a_body_that_is_not_query_rows_is_refused(body: bytes, problem: str) -> None:
    with pytest.raises(ShardWireError, match=problem):
        decode_queries(body, np.dtype(np.float32), DIM)


def test_an_answer_of_the_wrong_length_is_refused() -> None:
    answer = encode_answer(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.int64))
    with pytest.raises(ShardWireError, match="answered"):
        decode_answer(answer[:-1], 2, 3, np.dtype(np.float32))
    with pytest.raises(ShardWireError, match="answered"):
        decode_answer(answer, 3, 3, np.dtype(np.float32))
