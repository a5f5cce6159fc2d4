"""Dense FAISS index of embeddings (inner product); a lock keeps adds and searches consistent.

Vectors are stored as 8-bit scalar-quantised components over [-1, 1] (unit vectors never leave
that range), so a 256-d region costs 256 bytes plus an 8-byte id instead of 1 KiB as float32;
the inner-product error this adds is about 0.002. Layout "flat" scans every vector (exact up to
quantisation, fine below ~100k works); "ivf" scans `nprobe` of `lists` clusters and must be
trained on a sample first; `as_ivf` re-files a flat index's vectors into a new IVF trained on
them, which is how an index switches layout as its collection grows.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import faiss
import numpy as np
import numpy.typing as npt

from similarity.index.storage import IndexCorruptError, read_bytes, write_atomically
from similarity.index.work_rows import WorkRowIndex

Layout = Literal["flat", "ivf"]


class EmbeddingIndex(WorkRowIndex):
    """Inner-product index over L2-normalised vectors, one row per work region."""

    def __init__(self, dim: int, layout: Layout = "flat", lists: int = 1024) -> None:
        self.dim = dim
        super().__init__()
        self._index: faiss.Index
        quantiser = faiss.ScalarQuantizer.QT_8bit
        if layout == "flat":
            storage = faiss.IndexScalarQuantizer(dim, quantiser, faiss.METRIC_INNER_PRODUCT)
            storage.train(np.stack([-np.ones(dim), np.ones(dim)]).astype(np.float32))
            self._index = faiss.IndexIDMap(storage)
            self._storage = storage
        else:
            self._quantizer = faiss.IndexFlatIP(dim)
            self._index = faiss.IndexIVFScalarQuantizer(
                self._quantizer, dim, lists, quantiser, faiss.METRIC_INNER_PRODUCT
            )
            self._index.nprobe = 16

    @property
    def layout(self) -> Layout:
        """ "flat" (exact scan) or "ivf" (clustered)."""
        return "ivf" if isinstance(self._index, faiss.IndexIVF) else "flat"

    def stored(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """(FAISS ids, vectors as stored, dequantised) of a flat index."""
        with self._lock:
            if not isinstance(self._index, faiss.IndexIDMap):
                raise TypeError("only a flat index can list its vectors")
            ids = np.asarray(faiss.vector_to_array(self._index.id_map), dtype=np.int64)
            storage = faiss.downcast_index(self._index.index)
            vectors = storage.reconstruct_n(0, int(storage.ntotal))
        return ids, np.asarray(vectors, dtype=np.float32)

    def as_ivf(self, training_sample: int = 50_000, seed: int = 0) -> EmbeddingIndex:
        """A new IVF index holding the same vectors, its clusters trained on them."""
        ids, vectors = self.stored()
        # FAISS wants about 40 training points per list.
        lists = max(1, min(int(4 * np.sqrt(len(vectors))), len(vectors) // 40))
        ivf = EmbeddingIndex(self.dim, layout="ivf", lists=lists)
        sample = np.random.default_rng(seed).permutation(len(vectors))[:training_sample]
        ivf.train(vectors[np.sort(sample)])
        if len(vectors):
            ivf._index.add_with_ids(vectors, ids)
        return ivf

    def train(self, sample: npt.NDArray[np.float32]) -> None:
        """Learn IVF clusters and quantiser ranges from a sample (no-op when trained)."""
        self._train_once(np.ascontiguousarray(sample, dtype=np.float32))

    def add(self, work_id: int, vectors: npt.NDArray[np.float32]) -> None:
        """Add one vector per region of a work, replacing what the work had before."""
        rows = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        self._replace_rows(work_id, rows)

    def add_new(self, works: Iterable[tuple[int, npt.NDArray[np.float32]]]) -> int:
        """Add works the index does not hold yet in one call (a rebuild); returns how many."""
        return self._add_new_works(
            ((work, np.asarray(rows, dtype=np.float32)) for work, rows in works), self.dim
        )

    def search(
        self, queries: npt.NDArray[np.float32], k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """(similarities, FAISS ids), each (len(queries), k); missing results have id -1."""
        rows = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            if self._index.ntotal == 0:
                shape = (len(rows), k)
                return np.full(shape, -1.0, np.float32), np.full(shape, -1, np.int64)
            similarities, ids = self._index.search(rows, k)
        return similarities, ids

    def save(self, path: Path) -> None:
        """Persist atomically."""
        with self._lock:
            payload = faiss.serialize_index(self._index)
        write_atomically(path, payload)

    @classmethod
    def load(cls, path: Path, dim: int) -> EmbeddingIndex:
        """Read a saved index; IndexCorruptError when missing, damaged or of another dimension."""
        if not path.exists():
            raise IndexCorruptError(f"index file {path} is missing")
        try:
            index = faiss.deserialize_index(read_bytes(path))
        except RuntimeError as error:
            raise IndexCorruptError(f"index file {path} is damaged: {error}") from error
        if index.d != dim:
            raise IndexCorruptError(f"index file {path} holds {index.d}-d vectors, not {dim}")
        loaded = cls(dim)
        loaded._index = index
        return loaded
