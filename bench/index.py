"""Index figures at synthetic scale: search latency percentiles and bytes per registered work."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Final

import faiss
import numpy as np
import numpy.typing as npt

from similarity.index.binary import BinaryHashIndex
from similarity.index.dense import EmbeddingIndex
from similarity.index.dense import Layout as DenseLayout
from similarity.index.ids import MAX_REGIONS

_BATCH: Final = 50_000


def _unit_vectors(rng: np.random.Generator, count: int, dim: int) -> npt.NDArray[np.float32]:
    vectors = rng.standard_normal((count, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def _fill_dense(index: EmbeddingIndex, works: int, regions: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    if index.needs_training:
        index.train(_unit_vectors(rng, min(works * regions, 100_000), index.dim))
    for start in range(0, works, _BATCH):
        count = min(_BATCH, works - start)
        vectors = _unit_vectors(rng, count * regions, index.dim)
        ids = (
            np.arange(start, start + count, dtype=np.int64)[:, None] * MAX_REGIONS
            + np.arange(regions, dtype=np.int64)[None, :]
        ).ravel()
        index._index.add_with_ids(vectors, ids)


def _fill_binary(index: BinaryHashIndex, works: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    if index.needs_training:
        index.train(rng.integers(0, 256, (min(works, 100_000), index.bits // 8), dtype=np.uint8))
    for start in range(0, works, _BATCH):
        count = min(_BATCH, works - start)
        codes = rng.integers(0, 256, (count, index.bits // 8), dtype=np.uint8)
        ids = np.arange(start, start + count, dtype=np.int64) * MAX_REGIONS
        index._index.add_with_ids(codes, ids)


def _percentiles(samples: list[float]) -> dict[str, float]:
    values = np.array(samples) * 1000
    return {"p50_ms": float(np.percentile(values, 50)), "p95_ms": float(np.percentile(values, 95))}


def search_latency(
    works: int,
    *,
    dim: int = 256,
    regions: int = 6,
    query_regions: int = 7,
    layout: DenseLayout = "flat",
    queries: int = 50,
    seed: int = 0,
) -> dict[str, float]:
    """Top-10 latency of one query (all its regions batched) on each index, one FAISS thread."""
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(seed + 1)
    dense = EmbeddingIndex(dim, layout=layout, lists=max(64, int(4 * np.sqrt(works))))
    _fill_dense(dense, works, regions, seed)
    binary = BinaryHashIndex(layout=layout, lists=max(64, int(np.sqrt(works))))
    _fill_binary(binary, works, seed)
    dense_times: list[float] = []
    binary_times: list[float] = []
    for _ in range(queries):
        vectors = _unit_vectors(rng, query_regions, dim)
        started = time.perf_counter()
        dense.search(vectors, 40)
        dense_times.append(time.perf_counter() - started)
        codes = rng.integers(0, 256, (8 + query_regions - 1, 32), dtype=np.uint8)
        started = time.perf_counter()
        binary.search(codes, 10)
        binary_times.append(time.perf_counter() - started)
    dense_figures = _percentiles(dense_times)
    binary_figures = _percentiles(binary_times)
    return {
        "works": float(works),
        "dense_p50_ms": dense_figures["p50_ms"],
        "dense_p95_ms": dense_figures["p95_ms"],
        "hash_p50_ms": binary_figures["p50_ms"],
        "hash_p95_ms": binary_figures["p95_ms"],
    }


def bytes_per_work(
    works: int, *, dim: int = 256, regions: int = 6, layout: DenseLayout = "flat", seed: int = 0
) -> dict[str, float]:
    """Serialised size of both indexes divided by the number of works."""
    dense = EmbeddingIndex(dim, layout=layout, lists=max(64, int(4 * np.sqrt(works))))
    _fill_dense(dense, works, regions, seed)
    binary = BinaryHashIndex()
    _fill_binary(binary, works, seed)
    with tempfile.TemporaryDirectory() as directory:
        dense_path, binary_path = Path(directory, "dense"), Path(directory, "binary")
        dense.save(dense_path)
        binary.save(binary_path)
        dense_bytes, binary_bytes = dense_path.stat().st_size, binary_path.stat().st_size
    return {
        "works": float(works),
        "dense_bytes_per_work": dense_bytes / works,
        "hash_bytes_per_work": binary_bytes / works,
        "bytes_per_work": (dense_bytes + binary_bytes) / works,
    }
