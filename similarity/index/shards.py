"""An index split by work id across processes: which works a shard holds, and one answer from many.

Each shard holds the works whose id leaves its number as the remainder (`work_id % of`), so a
work's regions all live in one shard and a withdrawal touches one. A search asks every shard for
its best `k` rows per query and keeps the best `k` of their union: the global best `k` are each
among their own shard's best `k`, so the merged answer is the one a single index would give
while the indexes scan every row (flat). Of rows tied at the `k`-th, a flat index keeps those it
holds first, which are the lower work ids (indexes are filled in id order), and so does the
merge. An index large enough to be filed into IVF lists (the engine's `IVF_MIN_ROWS`) searches
the lists nearest the query: a shard trains its lists on its own rows, so its approximate answer
is not the whole index's, any more than one IVF index's is an exact scan's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

HASH_BYTES: Final = 32
_SELECTION = re.compile(r"(\d+)/(\d+)")

HashAnswer = tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]
VectorAnswer = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]


class ShardSelectionError(ValueError):
    """A shard named outside its set (`2/2`) or not written `shard/of`."""


@dataclass(frozen=True, slots=True)
class ShardSelection:
    """Shard `shard` of `of`: the works whose id modulo `of` is `shard`."""

    shard: int
    of: int

    def __post_init__(self) -> None:
        if self.of < 1 or not 0 <= self.shard < self.of:
            raise ShardSelectionError(
                f"shard {self.shard} of {self.of}: a shard is numbered 0 to one less than the count"
            )

    @classmethod
    def parse(cls, text: str) -> ShardSelection:
        """From `shard/of`, e.g. `0/4`."""
        found = _SELECTION.fullmatch(text.strip())
        if found is None:
            raise ShardSelectionError(f"{text!r} is not a shard: write it as shard/of, e.g. 0/4")
        return cls(int(found[1]), int(found[2]))

    def holds(self, work_id: int) -> bool:
        return work_id % self.of == self.shard

    def __str__(self) -> str:
        return f"{self.shard}/{self.of}"


class IndexSearch(Protocol):
    """The two index searches a query needs, wherever the indexes are."""

    def search_hashes(self, queries: npt.NDArray[np.uint8], k: int) -> HashAnswer:
        """(Hamming distances, FAISS ids), each (len(queries), k); missing results have id -1."""
        ...

    def search_vectors(self, queries: npt.NDArray[np.float32], k: int) -> VectorAnswer:
        """(inner products, FAISS ids), each (len(queries), k); missing results have id -1."""
        ...


def merge_hashes(answers: Sequence[HashAnswer], k: int) -> HashAnswer:
    """The `k` nearest rows per query among the shards' answers (ties: lower ids first)."""
    distances, ids = _merge(answers, k, largest=False)
    return distances.astype(np.int32), ids


def merge_vectors(answers: Sequence[VectorAnswer], k: int) -> VectorAnswer:
    """The `k` most similar rows per query among the shards' answers (ties: lower ids first)."""
    similarities, ids = _merge(answers, k, largest=True)
    return similarities.astype(np.float32), ids


def _merge(
    answers: Sequence[tuple[npt.NDArray[np.generic], npt.NDArray[np.int64]]],
    k: int,
    *,
    largest: bool,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    # Each shard answers `k` columns, so the union has at least `k`.
    if not answers:
        raise ValueError("no shard answered")
    scores = np.concatenate([np.asarray(s, dtype=np.float64) for s, _ in answers], axis=1)
    ids = np.concatenate([np.asarray(i, dtype=np.int64) for _, i in answers], axis=1)
    # Missing results sort last whatever score the shard filled them with.
    worst = -np.inf if largest else np.inf
    ranked_scores = np.where(ids < 0, worst, scores)
    order = np.lexsort((ids, -ranked_scores if largest else ranked_scores))[:, :k]
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)


# The wire between a query process and a shard: queries as raw little-endian rows, the answer as
# the scores' bytes followed by the ids' (both (rows, k)). Plain bytes, so a hostile body can be
# nothing worse than the wrong length.
SHARD_HEADER: Final = "X-Copymark-Shard"
MAX_QUERY_ROWS: Final = 4096
MAX_K: Final = 1024


class ShardWireError(ValueError):
    """A shard request or answer that is not what the wire carries."""


def decode_queries(body: bytes, row_dtype: np.dtype[np.generic], width: int) -> npt.NDArray[Any]:
    """Query rows of `width` values each; ShardWireError for a body that is not whole rows."""
    row_bytes = row_dtype.itemsize * width
    if not body or len(body) % row_bytes:
        raise ShardWireError(f"the body must be whole query rows of {row_bytes} bytes")
    rows = len(body) // row_bytes
    if rows > MAX_QUERY_ROWS:
        raise ShardWireError(f"at most {MAX_QUERY_ROWS} query rows a request, not {rows}")
    queries = np.frombuffer(body, dtype=row_dtype.newbyteorder("<")).reshape(rows, width)
    if queries.dtype.kind == "f" and not np.isfinite(queries).all():
        raise ShardWireError("query vectors must be finite numbers")
    return queries.astype(row_dtype)


def encode_answer(scores: npt.NDArray[np.generic], ids: npt.NDArray[np.int64]) -> bytes:
    return scores.astype(scores.dtype.newbyteorder("<")).tobytes() + ids.astype("<i8").tobytes()


def decode_answer(
    data: bytes, rows: int, k: int, score_dtype: np.dtype[np.generic]
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """(scores, ids) of `rows` queries; ShardWireError when the length disagrees."""
    score_bytes = rows * k * score_dtype.itemsize
    if len(data) != score_bytes + rows * k * 8:
        raise ShardWireError(f"a shard answered {len(data)} bytes for {rows} x {k} results")
    scores = np.frombuffer(data[:score_bytes], dtype=score_dtype.newbyteorder("<"))
    ids = np.frombuffer(data[score_bytes:], dtype="<i8")
    return scores.astype(score_dtype).reshape(rows, k), ids.astype(np.int64).reshape(rows, k)
