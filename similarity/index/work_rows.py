"""FAISS rows keyed by work-region ids (`work_id << 4 | region`), guarded by one lock.

Invariant: a work's rows are replaced or removed as a whole under the lock, so a concurrent
search never sees half of a work's regions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from similarity.index.ids import region_ids, work_ids, work_range


class WorkRowIndex:
    """What the hash and the embedding index share: row ids, locking, replace and remove."""

    _index: Any

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def __len__(self) -> int:
        with self._lock:
            return int(self._index.ntotal)

    @property
    def needs_training(self) -> bool:
        """IVF layouts learn their lists from a sample before the first add."""
        return not bool(self._index.is_trained)

    def held_work_ids(self) -> set[int]:
        """Every work with at least one row here."""
        with self._lock:
            ids = stored_ids(self._index)
        return {int(work) for work in np.unique(work_ids(ids))}

    def remove(self, work_id: int) -> int:
        """Drop every region of a work; returns how many rows went."""
        with self._lock:
            return self._remove_locked(work_id)

    def _remove_locked(self, work_id: int) -> int:
        low, high = work_range(work_id)
        return int(self._index.remove_ids(faiss.IDSelectorRange(low, high)))

    def _replace_rows(self, work_id: int, rows: npt.NDArray[Any]) -> None:
        ids = region_ids(work_id, len(rows))
        with self._lock:
            self._remove_locked(work_id)
            self._index.add_with_ids(rows, ids)

    def _add_new_works(self, works: Iterable[tuple[int, npt.NDArray[Any]]], width: int) -> int:
        """Add the rows of works the index does not hold, in one FAISS call; returns the count.

        No per-work removal: removing scans every stored id, which made adding N works one by
        one cost O(N^2) (hours for a rebuild at a million works).
        """
        ids: list[npt.NDArray[np.int64]] = []
        rows: list[npt.NDArray[Any]] = []
        for work_id, work_rows in works:
            block = np.asarray(work_rows).reshape(-1, width)
            ids.append(region_ids(work_id, len(block)))
            rows.append(block)
        if not rows:
            return 0
        with self._lock:
            self._index.add_with_ids(
                np.ascontiguousarray(np.concatenate(rows)), np.concatenate(ids)
            )
        return len(rows)

    def _train_once(self, sample: npt.NDArray[Any]) -> None:
        with self._lock:
            if self.needs_training:
                self._index.train(np.ascontiguousarray(sample))


def stored_ids(index: Any) -> npt.NDArray[np.int64]:
    """Every FAISS id held by a flat (id-mapped) or IVF index, binary or dense."""
    if isinstance(index, faiss.IndexBinary):
        index = faiss.downcast_IndexBinary(index)
    else:
        index = faiss.downcast_index(index)
    if hasattr(index, "id_map"):
        return np.asarray(faiss.vector_to_array(index.id_map), dtype=np.int64)
    lists = index.invlists
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(number), lists.list_size(number)).copy()
        for number in range(lists.nlist)
        if lists.list_size(number)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)
