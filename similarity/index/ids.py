"""FAISS ids are `work_id << 4 | region`: at most 16 regions per work, work ids below 2**59."""

from typing import Final

import numpy as np
import numpy.typing as npt

REGION_BITS: Final = 4
MAX_REGIONS: Final = 1 << REGION_BITS
MAX_WORK_ID: Final = (1 << (63 - REGION_BITS)) - 1


class WorkIdError(ValueError):
    """A work id outside what the index can store."""


def region_ids(work_id: int, count: int) -> npt.NDArray[np.int64]:
    """FAISS ids for the first `count` regions of a work."""
    if not 0 <= work_id <= MAX_WORK_ID:
        raise WorkIdError(f"work id {work_id} outside 0..{MAX_WORK_ID}")
    if not 0 < count <= MAX_REGIONS:
        raise WorkIdError(f"a work has 1..{MAX_REGIONS} regions, got {count}")
    return (np.int64(work_id) << REGION_BITS) + np.arange(count, dtype=np.int64)


def work_range(work_id: int) -> tuple[int, int]:
    """Half-open FAISS id range holding every region of a work."""
    return work_id << REGION_BITS, (work_id + 1) << REGION_BITS


def work_ids(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Work id of each FAISS id (-1, FAISS's "no result", stays -1)."""
    return np.where(ids < 0, -1, ids >> REGION_BITS)
