"""FAISS indexes of work fingerprints: binary (perceptual hashes) and dense (embeddings).

Every vector's FAISS id packs the work id and the region it describes (see `ids.py`), so a
region hit maps back to its work with a shift and a withdrawn work is removed with one id range.
"""

from similarity.index.binary import BinaryHashIndex
from similarity.index.dense import EmbeddingIndex
from similarity.index.ids import MAX_REGIONS, region_ids, work_ids
from similarity.index.storage import IndexCorruptError

__all__ = [
    "MAX_REGIONS",
    "BinaryHashIndex",
    "EmbeddingIndex",
    "IndexCorruptError",
    "region_ids",
    "work_ids",
]
