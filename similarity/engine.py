"""The similarity facade: fingerprint images, index works, search, verify and decide.

Invariant: a work id is in the indexes exactly when `add` was called for it after its last
`remove`; every search sees either all of a work's regions or none of them (one lock covers
both indexes). Works without an embedder (hashes and regions only), which misses heavy crops,
and without a copy descriptor (no second opinion on inconclusive queries' rankings). With
`shards`, the indexes live in shard processes (`similarity.index.shards`), each holding a work's
regions whole; this engine fingerprints, verifies and decides as it does over its own.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import threading
import zipfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from similarity.calibration import Calibration
from similarity.corpus import stamps as corpus_stamps
from similarity.embedding.embedders import OnnxEmbedder
from similarity.hashes import (
    HASH_SIDE,
    PDQ_MIN_QUALITY,
    DHash,
    PdqHash,
    PHash,
    compute_hashes,
    fit,
    pdq,
    shrink,
)
from similarity.images import LoadedImage
from similarity.index import (
    MAX_REGIONS,
    BinaryHashIndex,
    EmbeddingIndex,
    IndexCorruptError,
    work_ids,
)
from similarity.index.shards import HashAnswer, IndexSearch, VectorAnswer
from similarity.matcher import (
    COPY_PROBABILITY,
    VERIFY_FLOOR,
    Candidate,
    Decision,
    Match,
    gather,
    verified_score,
)
from similarity.matcher import copies as copies_among
from similarity.matcher import decide as decide_matches
from similarity.references import ReferenceFeatures, ReferenceFormatError
from similarity.regions import (
    Box,
    FeatureMapEmbedder,
    content_box,
    detail_boxes,
    map_window,
    reference_regions,
    sliding_windows,
)
from similarity.threads import one_openmp_thread_here, one_thread_per_process
from similarity.verify import (
    NOT_VERIFIED,
    VERIFY_SIDE,
    Keypoints,
    QueryFeatures,
    Verification,
    extract,
    verify_features,
)

RGBArray = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]

logger = logging.getLogger(__name__)

VERIFY_TOP: Final = 3
# Registration's prior-art check looks at this many of the nearest works.
PRIOR_ART_TOP_K: Final = 5
# A query whose best evidence already clears this is a plain copy: the costly fine-grained pass
# that looks for a work pasted into something larger is skipped.
CONFIDENT_SCORE: Final = 0.25
# The fine-grained pass runs the network on the query at this side (a 14 x 14 map) and pools
# square windows of these sizes, in cells, stepping by half a window.
FINE_INPUT_SIDE: Final = 448
FINE_WINDOW_CELLS: Final = (4, 6, 8, 10)
# Many windows give an unrelated query many chances: a window's evidence counts this much less,
# and only against whole registered works (window-to-region pairs are mostly shared texture).
FINE_WINDOW_PENALTY: Final = 0.05
# Where the fine pass found a work inside a larger picture, ORB gets a second try on that window
# alone (widened by this share of its side on each edge), enlarged to the verification size:
# a tile of a page is too few pixels of the whole query for ORB to find its keypoints there.
WINDOW_VERIFY_MARGIN: Final = 0.25
KEYPOINT_CACHE_SIZE: Final = 2048
# A query none of whose top candidates is confirmed (verified, or p_copy >= 0.99) asks SSCD's
# student for a second opinion on those candidates: each keeps the smaller of its fused score and
# its SSCD margin less this offset. Image-level embeddings rate unrelated photos of one style, or
# icons of one theme, as close as copies (margins of 0.8), SSCD almost never (unrelated pairs
# reached 0.41, copies a median of 0.61). Candidates nothing confirmed or re-scored lose
# UNCONFIRMED_PENALTY, so they rank below every checked one.
SECOND_OPINION_OFFSET: Final = 0.1
UNCONFIRMED_PENALTY: Final = 0.5
# Below this many rows an exact scan is fast enough; above it an index is re-filed into IVF
# lists trained on its own rows (one-off, seconds at this size).
IVF_MIN_ROWS: Final = 100_000
BACKGROUND_K: Final = 5
_REGION_HASH_SIDE: Final = 256
_FORMAT_VERSION: Final = 1
_BACKGROUND_SIZE: Final = 256


_Cached = TypeVar("_Cached", Keypoints, FloatArray)


class Embedder(Protocol):
    """Maps RGB uint8 images of any size to (n, dim) float32 L2-normalised vectors."""

    dim: int

    def embed(self, images: Sequence[RGBArray]) -> FloatArray:
        """Embed a batch of images."""
        ...


class FingerprintFormatError(ValueError):
    """Stored fingerprint bytes cannot be read back."""


@dataclass(frozen=True, slots=True, eq=False)
class Fingerprint:
    """Everything the engine knows of one image.

    `boxes[:reference_count]` are the regions indexed for a registered work (whole frame first);
    the rest only serve queries. `region_pdq`, `region_pdq_quality` and `embeddings` have one
    row per box; `mirrored_embedding` is the whole frame flipped left-right.
    """

    phash: PHash
    dhash: DHash
    pdq: PdqHash
    pdq_dihedral: tuple[PdqHash, ...]
    boxes: tuple[Box, ...]
    reference_count: int
    region_pdq: npt.NDArray[np.uint8]
    embeddings: FloatArray | None
    mirrored_embedding: FloatArray | None
    region_pdq_quality: npt.NDArray[np.uint8] | None = None

    def indexed_hashes(self) -> list[npt.NDArray[np.uint8]]:
        """PDQ rows indexed for a registered work: each reference region's that is reliable.

        Fingerprints stored before region qualities were kept index the whole frame only.
        """
        if self.region_pdq_quality is None:
            return [self.pdq.as_array()] if self.pdq.is_reliable else []
        return [
            self.region_pdq[row]
            for row in range(self.reference_count)
            if self.region_pdq_quality[row] >= PDQ_MIN_QUALITY
        ]

    def digests(self) -> dict[str, str]:
        """Hex hashes for the attestation log leaf."""
        return {"phash": self.phash.hex(), "dhash": self.dhash.hex(), "pdq": self.pdq.hex()}

    def to_bytes(self) -> bytes:
        """Compact, pickle-free serialisation (NumPy .npz)."""
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "header": np.frombuffer(
                json.dumps(
                    {
                        "version": _FORMAT_VERSION,
                        "phash": self.phash.hex(),
                        "dhash": self.dhash.hex(),
                        "pdq_quality": self.pdq.quality,
                        "reference_count": self.reference_count,
                    }
                ).encode(),
                dtype=np.uint8,
            ),
            "pdq_dihedral": np.stack([variant.as_array() for variant in self.pdq_dihedral]),
            "boxes": np.array(
                [(box.left, box.top, box.right, box.bottom) for box in self.boxes], dtype=np.int32
            ),
            "region_pdq": self.region_pdq,
        }
        if self.region_pdq_quality is not None:
            arrays["region_pdq_quality"] = self.region_pdq_quality
        if self.embeddings is not None and self.mirrored_embedding is not None:
            arrays["embeddings"] = self.embeddings.astype(np.float16)
            arrays["mirrored_embedding"] = self.mirrored_embedding.astype(np.float16)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, allow_pickle=False, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        """Read the output of `to_bytes`."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                header = json.loads(bytes(archive["header"]).decode())
                if header.get("version") != _FORMAT_VERSION:
                    raise FingerprintFormatError(f"unknown fingerprint version {header!r}")
                dihedral = archive["pdq_dihedral"].astype(np.uint8)
                quality = int(header["pdq_quality"])
                variants = tuple(PdqHash(bytes(row), quality) for row in dihedral)
                embeddings = mirrored = None
                if "embeddings" in archive:
                    embeddings = archive["embeddings"].astype(np.float32)
                    mirrored = archive["mirrored_embedding"].astype(np.float32)
                return cls(
                    phash=PHash.from_hex(header["phash"]),
                    dhash=DHash.from_hex(header["dhash"]),
                    pdq=variants[0],
                    pdq_dihedral=variants,
                    boxes=tuple(Box(*map(int, row)) for row in archive["boxes"]),
                    reference_count=int(header["reference_count"]),
                    region_pdq=archive["region_pdq"].astype(np.uint8),
                    embeddings=embeddings,
                    mirrored_embedding=mirrored,
                    region_pdq_quality=(
                        archive["region_pdq_quality"].astype(np.uint8)
                        if "region_pdq_quality" in archive
                        else None
                    ),
                )
        except FingerprintFormatError:
            raise
        except (
            OSError,
            ValueError,
            KeyError,
            IndexError,
            TypeError,
            EOFError,
            zipfile.BadZipFile,
        ) as error:
            raise FingerprintFormatError(f"unreadable fingerprint: {error}") from error


class SimilarityEngine:
    """Registered works' fingerprints in FAISS, searched with hashes, embeddings and ORB."""

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder | None,
        reference_image: Callable[[int], RGBArray | None],
        *,
        feature_maps: FeatureMapEmbedder | None = None,
        calibration: Calibration | None = None,
        copy_descriptor: Embedder | None = None,
        stored_reference: Callable[[int], bytes | None] | None = None,
        shards: IndexSearch | None = None,
    ) -> None:
        """`reference_image` gives a registered work's pixels; `stored_reference` the bytes of
        the `ReferenceFeatures` made at its registration, read instead where there are some.

        With `shards`, searches go to the shard processes that hold the indexes (each following
        the change feed for its own works) and this engine holds none: opening, adding,
        removing, rebuilding and saving here do nothing to the index folder.
        """
        one_thread_per_process()
        self._dir = index_dir
        # The same parameters whatever this engine holds: p_copy never depends on the registry.
        self.calibration = calibration or Calibration.shipped()
        self._embedder = embedder
        self._feature_maps = feature_maps or _feature_maps_of(embedder)
        self._network = ThreadPoolExecutor(max_workers=2, thread_name_prefix="similarity-network")
        self._reference_image = reference_image
        self._stored_reference = stored_reference
        self._shards = shards
        self._lock = threading.RLock()
        # ORB features of recently verified references, oldest first (about 16 KB each).
        self._keypoints: dict[int, Keypoints] = {}
        # The second opinion on inconclusive queries (SSCD's student), its descriptors of recently
        # checked references (2 KB each), and its own normalisation background.
        self._copy_descriptor = copy_descriptor
        self._copy_vectors: dict[int, FloatArray] = {}
        self._copy_background: FloatArray | None = None
        self.needs_rebuild = False
        # Counts rebuilds: whoever keeps the index in step re-checks it after one, since a
        # rebuild replaces the indexes with what the database held when it began.
        self.rebuilds = 0
        # The works with rows in either index, kept as they change once first asked for:
        # reading them from the indexes scans every stored id (about 0.8 s at 100,000 works).
        self._held: set[int] | None = None
        self._hashes = BinaryHashIndex() if shards is not None else self._open_hashes()
        self._vectors = None if shards is not None else self._open_vectors()
        self._background = self._load_background()

    def _open_hashes(self) -> BinaryHashIndex:
        try:
            return BinaryHashIndex.load(self._dir / "pdq.index")
        except IndexCorruptError:
            self.needs_rebuild = (self._dir / "pdq.index").exists()
            return BinaryHashIndex()

    def _open_vectors(self) -> EmbeddingIndex | None:
        if self._embedder is None:
            return None
        path = self._dir / f"embedding-{self._embedder.dim}.index"
        try:
            return EmbeddingIndex.load(path, self._embedder.dim)
        except IndexCorruptError:
            self.needs_rebuild = self.needs_rebuild or path.exists() or len(self._hashes) > 0
            return EmbeddingIndex(self._embedder.dim)

    def _load_background(self) -> FloatArray | None:
        if self._embedder is None:
            return None
        path = self._background_path(self._embedder)
        if path.exists():
            vectors = np.load(path, allow_pickle=False)
            if vectors.shape[1:] == (self._embedder.dim,):
                return np.asarray(vectors, dtype=np.float32)
        images = background_images()
        if not images:
            return None
        vectors = self._embedder.embed(images).astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp.npy")
        np.save(temporary, vectors, allow_pickle=False)
        temporary.replace(path)
        return vectors

    def _background_path(self, embedder: Embedder) -> Path:
        # The background vectors depend only on the model: keep them beside its file, so every
        # index built with that model (one per data folder, one per test) shares them.
        if isinstance(embedder, OnnxEmbedder):
            return embedder.model_path.with_name(f"{embedder.model_path.stem}-background.npy")
        return self._dir / f"background-{embedder.dim}.npy"

    def fingerprint(self, image: LoadedImage | RGBArray) -> Fingerprint:
        """Hashes of the whole image, PDQ and embedding of every region (one network pass)."""
        rgb = image.rgb if isinstance(image, LoadedImage) else image
        # The network pass runs beside the hashing (onnxruntime releases the GIL): the two
        # together cost little more than the network alone.
        powered = (
            None
            if self._feature_maps is None
            else self._network.submit(self._feature_maps.feature_map, rgb)
        )
        hashes = compute_hashes(rgb)
        references = reference_regions(rgb)
        extras = [content_box(rgb), *detail_boxes(rgb)]
        boxes = list(references)
        for box in extras:
            if box.width >= 32 and box.height >= 32 and all(box.iou(b) < 0.9 for b in boxes):
                boxes.append(box)
        region_hashes = [hashes.pdq] + [pdq(box.crop(rgb), _REGION_HASH_SIDE) for box in boxes[1:]]
        if powered is None or self._feature_maps is None:
            embeddings, mirrored = self._embed_crops(rgb, boxes)
        else:
            embeddings, mirrored = self._pool_regions(
                self._feature_maps, powered.result(), rgb, boxes
            )
        return Fingerprint(
            phash=hashes.phash,
            dhash=hashes.dhash,
            pdq=hashes.pdq,
            pdq_dihedral=hashes.pdq_dihedral,
            boxes=tuple(boxes),
            reference_count=len(references),
            region_pdq=np.stack([region.as_array() for region in region_hashes]),
            embeddings=embeddings,
            mirrored_embedding=mirrored,
            region_pdq_quality=np.array([r.quality for r in region_hashes], dtype=np.uint8),
        )

    @staticmethod
    def _pool_regions(
        maps: FeatureMapEmbedder, powered: FloatArray, rgb: RGBArray, boxes: Sequence[Box]
    ) -> tuple[FloatArray, FloatArray]:
        """(one vector per box, the mirrored whole frame) pooled from one feature map."""
        cells = powered.shape[1]
        height, width = rgb.shape[:2]
        vectors = maps.pool(powered, [map_window(box, width, height, cells) for box in boxes])
        # Pooling the whole map ignores where features sit, so the whole-frame vector already
        # stands for the mirrored image too.
        return vectors, vectors[:1].copy()

    def _embed_crops(
        self, rgb: RGBArray, boxes: Sequence[Box]
    ) -> tuple[FloatArray | None, FloatArray | None]:
        """(one vector per box, the mirrored whole frame), one embedder call per crop."""
        if self._embedder is None:
            return None, None
        small = shrink(rgb, HASH_SIDE)
        vectors = self._embedder.embed(
            [shrink(box.crop(rgb), HASH_SIDE) for box in boxes]
            + [np.ascontiguousarray(small[:, ::-1])]
        )
        return vectors[:-1], vectors[-1:]

    def reference_features(self, image: LoadedImage | RGBArray) -> ReferenceFeatures:
        """What a query's checks against this image, once registered, read (`stored_reference`):
        its ORB keypoints and, where the engine has a copy descriptor, its descriptor.

        `image` must be the pixels `reference_image` will give for the work, or stored features
        and computed ones would disagree.
        """
        rgb = image.rgb if isinstance(image, LoadedImage) else image
        descriptor = self._copy_descriptor
        copy_vector = None if descriptor is None else descriptor.embed([rgb])[0]
        return ReferenceFeatures(extract(rgb), copy_vector)

    @property
    def vector_dim(self) -> int | None:
        """The embeddings' dimension, or None for an engine without an embedder."""
        return None if self._embedder is None else self._embedder.dim

    @property
    def searches_exactly(self) -> bool:
        """Whether this engine's own indexes scan every row (flat), not the nearest IVF lists."""
        with self._lock:
            vectors_flat = self._vectors is None or self._vectors.layout == "flat"
            return self._hashes.layout == "flat" and vectors_flat

    @property
    def sharded(self) -> bool:
        """Whether the indexes are in shard processes rather than this engine."""
        return self._shards is not None

    def add(self, work_id: int, fingerprint: Fingerprint) -> None:
        """Index a work (replacing any earlier entry for the same id)."""
        if self.sharded:
            return
        hash_rows = fingerprint.indexed_hashes()
        with self._lock:
            self._keypoints.pop(work_id, None)
            self._copy_vectors.pop(work_id, None)
            if hash_rows:
                self._hashes.add(work_id, np.stack(hash_rows))
            else:
                self._hashes.remove(work_id)
            if self._vectors is not None and fingerprint.embeddings is not None:
                self._vectors.add(work_id, fingerprint.embeddings[: fingerprint.reference_count])
                self._note_held([work_id])
            elif hash_rows:
                self._note_held([work_id])
            else:
                # Rows it had in the embedding index may remain: read them again when asked.
                self._held = None
            self._hashes, self._vectors = _sized_layouts(self._hashes, self._vectors)

    def add_new(self, items: Iterable[tuple[int, Fingerprint]]) -> None:
        """Index works this engine does not hold yet, in one pass per index.

        `add` first removes what a work had, which scans every stored id; works known to be
        new skip that, so adding many costs one pass instead of one scan each.
        """
        if self.sharded:
            return
        hash_rows, vector_rows, _count = _index_rows(items)
        with self._lock:
            self._hashes.add_new(hash_rows.items())
            if self._vectors is not None:
                self._vectors.add_new(vector_rows.items())
                self._note_held(vector_rows)
            self._note_held(hash_rows)
            self._hashes, self._vectors = _sized_layouts(self._hashes, self._vectors)

    def remove(self, work_id: int) -> None:
        """Withdraw a work: it stops matching immediately."""
        if self.sharded:
            return
        with self._lock:
            self._hashes.remove(work_id)
            self._keypoints.pop(work_id, None)
            self._copy_vectors.pop(work_id, None)
            if self._vectors is not None:
                self._vectors.remove(work_id)
            if self._held is not None:
                self._held.discard(work_id)

    def __len__(self) -> int:
        """Works whose hashes are indexed (a work with only flat regions has none)."""
        return self._hashes.work_count()

    def work_ids(self) -> set[int]:
        """Every work indexed, by its hashes or its embeddings."""
        with self._lock:
            if self._held is None:
                self._held = self._hashes.held_work_ids()
                if self._vectors is not None:
                    self._held |= self._vectors.held_work_ids()
            return set(self._held)

    def _note_held(self, work_ids: Iterable[int]) -> None:
        if self._held is not None:
            self._held.update(work_ids)

    def search(
        self,
        query: Fingerprint | LoadedImage | RGBArray,
        top_k: int = 10,
        *,
        image: LoadedImage | None = None,
        look_inside: bool = True,
    ) -> list[Match]:
        """Best-scoring works first; the top few are checked geometrically against originals.

        A bare fingerprint is not verified; pass the decoded `image` it came from to verify
        without fingerprinting twice. `look_inside=False` skips the fine windows that find a
        work pasted into a larger picture (registration's prior-art check wants near-copies).
        """
        fingerprint = query if isinstance(query, Fingerprint) else self.fingerprint(query)
        if image is not None:
            query = image
        query_rgb = (
            None
            if isinstance(query, Fingerprint)
            else (query.rgb if isinstance(query, LoadedImage) else query)
        )
        with self._searching():
            candidates = gather(
                self._hash_hits(fingerprint, top_k), self._vector_hits(fingerprint, top_k)
            )
        best = max((candidate.score for candidate in candidates.values()), default=-2.0)
        windows: dict[int, Box] = {}
        if look_inside and query_rgb is not None and best < CONFIDENT_SCORE:
            with self._searching():
                fine, windows = self._fine_hits(query_rgb, top_k)
            candidates = gather([], fine, candidates)
        ranked = sorted(candidates.values(), key=lambda candidate: -candidate.score)
        matches = self._verified(self._contenders(ranked, top_k), query_rgb, windows)
        if query_rgb is not None and self._copy_descriptor is not None:
            matches = self._second_opinion(matches, query_rgb, self._copy_descriptor)
        return matches[:top_k]

    def earlier_copies(self, fingerprint: Fingerprint, image: LoadedImage) -> list[Match]:
        """The indexed works a new upload copies, as registration's prior-art check asks: near
        copies of the whole upload (no fine windows), only the matches decided `copy`."""
        return copies_among(
            self.search(fingerprint, PRIOR_ART_TOP_K, image=image, look_inside=False)
        )

    def _second_opinion(
        self, matches: list[Match], query_rgb: RGBArray, descriptor: Embedder
    ) -> list[Match]:
        """Scores re-ranked by SSCD's student when no top candidate is confirmed.

        Only scores move (a `possible` may fall to `no_match`): p_copy, verification and so every
        `copy` verdict stay what the pair's own evidence says.
        """
        confirmed = any(match.decision == "copy" for match in matches)
        checked: dict[int, float] = {}
        if not confirmed:
            top = [m.work_id for m in matches[:VERIFY_TOP] if m.score > VERIFY_FLOOR]
            checked = self._copy_margins(query_rgb, top, descriptor)
        rescored: list[Match] = []
        for match in matches:
            if match.decision == "copy":
                rescored.append(match)
            elif match.work_id in checked:
                score = min(match.score, checked[match.work_id] - SECOND_OPINION_OFFSET)
                rescored.append(dataclasses.replace(match, score=score))
            else:
                rescored.append(dataclasses.replace(match, score=match.score - UNCONFIRMED_PENALTY))
        rescored.sort(key=lambda match: -match.score)
        return rescored

    def _copy_margins(
        self, query_rgb: RGBArray, work_ids: Sequence[int], descriptor: Embedder
    ) -> dict[int, float]:
        """Each work's SSCD cosine to the query less the query's background.

        The query alone, not its mirror too: a mirrored copy is verified by ORB (which tries the
        mirrored query), and on the development set the mirror's pass moved µAP by nothing and
        recall at precision 0.99 by one query of 276, for 17 ms of CPU a query.
        """
        references = {w: v for w in work_ids if (v := self._copy_vector(w, descriptor)) is not None}
        if not references:
            return {}
        query = descriptor.embed([query_rgb])[0]
        background = self._copy_background_vectors(descriptor)
        level = 0.0
        if len(background) >= BACKGROUND_K:
            level = float(np.partition(background @ query, -BACKGROUND_K)[-BACKGROUND_K])
        return {work_id: float(query @ vector) - level for work_id, vector in references.items()}

    def _copy_background_vectors(self, descriptor: Embedder) -> FloatArray:
        # About two seconds of SSCD passes, on the first inconclusive query only.
        if self._copy_background is None:
            images = background_images()
            self._copy_background = (
                descriptor.embed(images).astype(np.float32)
                if images
                else np.zeros((0, descriptor.dim), dtype=np.float32)
            )
        return self._copy_background

    def _copy_vector(self, work_id: int, descriptor: Embedder) -> FloatArray | None:
        with self._lock:
            cached = self._copy_vectors.get(work_id)
        if cached is not None:
            return cached
        stored = self._stored_features(work_id)
        vector = None if stored is None else self._stored_copy_vector(stored)
        if vector is None:
            image = self._reference_image(work_id)
            if image is None:
                return None
            vector = descriptor.embed([image])[0]
        self._remember(self._copy_vectors, work_id, vector)
        return vector

    def _stored_copy_vector(self, stored: ReferenceFeatures) -> FloatArray | None:
        """The stored descriptor, if the engine has a descriptor of its size (a work registered
        without one, or with one of another size, is embedded from its image)."""
        descriptor = self._copy_descriptor
        vector = stored.copy_vector
        if descriptor is None or vector is None or vector.shape != (descriptor.dim,):
            return None
        return vector

    def _stored_features(self, work_id: int) -> ReferenceFeatures | None:
        """The work's features stored at registration; None for a work registered before they
        were kept, or whose stored bytes are damaged (its image is read instead)."""
        if self._stored_reference is None:
            return None
        data = self._stored_reference(work_id)
        if data is None:
            return None
        try:
            return ReferenceFeatures.from_bytes(data)
        except ReferenceFormatError as error:
            logger.warning("work %s: stored reference features ignored: %s", work_id, error)
            return None

    def _remember(self, cache: dict[int, _Cached], work_id: int, value: _Cached) -> None:
        """Keep `value` in one of the per-reference caches, dropping the oldest past its size."""
        with self._lock:
            cache[work_id] = value
            while len(cache) > KEYPOINT_CACHE_SIZE:
                cache.pop(next(iter(cache)))

    def _fine_hits(
        self, rgb: RGBArray, top_k: int
    ) -> tuple[list[tuple[int, float]], dict[int, Box]]:
        """Windows of a finer map of the query against every indexed region: pasted-in copies.

        Also gives, per work, the query's pixel box of the window that matched it best.
        """
        if self._feature_maps is None or not self._searches_vectors():
            return [], {}
        powered = self._feature_maps.feature_map(rgb, FINE_INPUT_SIDE)
        cells = powered.shape[1]
        windows = sliding_windows(cells, FINE_WINDOW_CELLS)
        queries = self._feature_maps.pool(powered, windows)
        hits: list[tuple[int, float]] = []
        best: dict[int, tuple[float, int]] = {}
        for row, work, margin in self._normalised_rows(queries, top_k, whole_only=True):
            hits.append((work, margin - FINE_WINDOW_PENALTY))
            if work not in best or margin > best[work][0]:
                best[work] = (margin, row)
        height, width = rgb.shape[:2]
        boxes = {
            work: _window_box(windows[row], cells, width, height)
            for work, (_margin, row) in best.items()
        }
        return hits, boxes

    def search_hashes(self, queries: npt.NDArray[np.uint8], k: int) -> HashAnswer:
        """This engine's own hash index: (Hamming distances, FAISS ids), (len(queries), k)."""
        one_openmp_thread_here()
        with self._lock:
            return self._hashes.search(queries, k)

    def search_vectors(self, queries: FloatArray, k: int) -> VectorAnswer:
        """This engine's own embedding index: (inner products, FAISS ids), (len(queries), k)."""
        one_openmp_thread_here()
        with self._lock:
            if self._vectors is None:
                shape = (len(queries), k)
                return np.full(shape, -1.0, np.float32), np.full(shape, -1, np.int64)
            return self._vectors.search(queries, k)

    def _searching(self) -> AbstractContextManager[object]:
        """Held across a query's index searches: the lock that keeps both local indexes in step,
        or nothing when shards answer (each holds a work's rows whole)."""
        return self._lock if self._shards is None else nullcontext()

    def _index(self) -> IndexSearch:
        return self if self._shards is None else self._shards

    def _searches_vectors(self) -> bool:
        if self._shards is not None:
            return self._embedder is not None
        return self._vectors is not None and len(self._vectors) > 0

    def _hash_hits(self, fingerprint: Fingerprint, top_k: int) -> list[tuple[int, int]]:
        if not fingerprint.pdq.is_reliable or (self._shards is None and len(self._hashes) == 0):
            return []
        regions = fingerprint.region_pdq[1:]
        if fingerprint.region_pdq_quality is not None:
            regions = regions[fingerprint.region_pdq_quality[1:] >= PDQ_MIN_QUALITY]
        queries = np.concatenate(
            [np.stack([variant.as_array() for variant in fingerprint.pdq_dihedral]), regions]
        )
        distances, ids = self._index().search_hashes(queries, top_k)
        works = work_ids(ids)
        return [
            (int(work), int(distance))
            for work, distance in zip(works.ravel(), distances.ravel(), strict=True)
            if work >= 0
        ]

    def _vector_hits(self, fingerprint: Fingerprint, top_k: int) -> list[tuple[int, float]]:
        if (
            fingerprint.embeddings is None
            or fingerprint.mirrored_embedding is None
            or not self._searches_vectors()
        ):
            return []
        queries = np.concatenate([fingerprint.embeddings, fingerprint.mirrored_embedding])
        return self._normalised_hits(queries, top_k)

    def _normalised_hits(
        self, queries: FloatArray, top_k: int, *, whole_only: bool = False
    ) -> list[tuple[int, float]]:
        """(work, similarity less the query's k-th similarity to unrelated background images)."""
        return [
            (work, margin)
            for _row, work, margin in self._normalised_rows(queries, top_k, whole_only=whole_only)
        ]

    def _normalised_rows(
        self, queries: FloatArray, top_k: int, *, whole_only: bool = False
    ) -> list[tuple[int, int, float]]:
        """Like `_normalised_hits`, each hit with the row of `queries` that found it first."""
        similarities, ids = self._index().search_vectors(queries, top_k * 4)
        baseline = self._background_similarity(queries)
        margins = similarities - baseline[:, None]
        if whole_only:
            ids = np.where(ids % MAX_REGIONS == 0, ids, -1)
        works = work_ids(ids)
        rows = np.repeat(np.arange(len(queries)), works.shape[1])
        return [
            (int(row), int(work), float(margin))
            for row, work, margin in zip(rows, works.ravel(), margins.ravel(), strict=True)
            if work >= 0
        ]

    def _background_similarity(self, queries: FloatArray) -> FloatArray:
        if self._background is None or len(self._background) < BACKGROUND_K:
            return np.zeros(len(queries), dtype=np.float32)
        similarities = queries @ self._background.T
        kth = np.partition(similarities, -BACKGROUND_K, axis=1)[:, -BACKGROUND_K]
        return np.asarray(kth, dtype=np.float32)

    def _contenders(self, ranked: list[Candidate], top_k: int) -> list[Candidate]:
        """The ranked candidates that can still be among the best `top_k` once checked.

        Checks move a candidate up only by making it a copy (verified, among the first
        VERIFY_TOP, or by calibration alone) and move down at most the VERIFY_TOP they re-score,
        so past the first `top_k + VERIFY_TOP` only a copy by calibration can rise into the top
        `top_k`. The rest (hundreds, on a query the fine pass ran for) are never matched.
        """
        head = top_k + VERIFY_TOP
        return ranked[:head] + [
            candidate
            for candidate in ranked[head:]
            if self.calibration.p_copy(candidate.evidence(False)) >= COPY_PROBABILITY
        ]

    def _verified(
        self,
        ranked: list[Candidate],
        query_rgb: RGBArray | None,
        windows: dict[int, Box] | None = None,
    ) -> list[Match]:
        """Matches of the candidates; the top few checked with ORB against their originals.

        A candidate the whole query does not verify gets a second try on the window where the
        fine pass found it (`windows`), which only an inconclusive query has.
        """
        matches: list[Match] = []
        features: QueryFeatures | None = None
        # Several look-alikes are often found in one window: its keypoints are extracted once.
        window_features: dict[Box, QueryFeatures | None] = {}
        for position, candidate in enumerate(ranked):
            score = candidate.score
            reference = None
            if query_rgb is not None and position < VERIFY_TOP and score > VERIFY_FLOOR:
                reference = self._reference_keypoints(candidate.work_id)
            if query_rgb is not None and reference is not None:
                features = features or QueryFeatures(query_rgb)
                outcome = verify_features(features, reference)
                window = (windows or {}).get(candidate.work_id)
                if not outcome.verified and window is not None:
                    if window not in window_features:
                        window_features[window] = _window_features(query_rgb, window)
                    outcome = _verify_window(window_features[window], window, reference)
                if outcome.verified:
                    matches.append(self._match(candidate, outcome))
                    continue
            matches.append(self._match(candidate, None))
        matches.sort(key=lambda match: -match.score)
        return matches

    def _match(self, candidate: Candidate, verification: Verification | None) -> Match:
        """The candidate as a match: verified when `verification` is given, else unverified."""
        verified = verification is not None
        p_copy = self.calibration.p_copy(candidate.evidence(verified))
        score = candidate.score
        if verification is not None:
            score = verified_score(score, verification.inliers)
        elif p_copy >= COPY_PROBABILITY:
            # A copy by calibrated probability (close hash agreement) ranks with the verified.
            score = verified_score(score, 0)
        return Match(
            candidate.work_id,
            score,
            verified,
            None if verification is None else verification.region,
            p_copy=p_copy,
            hash_distance=candidate.hash_distance,
            embedding_margin=candidate.embedding_margin,
            inliers=0 if verification is None else verification.inliers,
        )

    def _reference_keypoints(self, work_id: int) -> Keypoints | None:
        with self._lock:
            cached = self._keypoints.get(work_id)
        if cached is not None:
            return cached
        stored = self._stored_features(work_id)
        if stored is None:
            image = self._reference_image(work_id)
            if image is None:
                return None
            keypoints = extract(image)
        else:
            keypoints = stored.keypoints
            # One read serves both checks: an inconclusive query asks for the descriptor next.
            vector = self._stored_copy_vector(stored)
            if vector is not None:
                self._remember(self._copy_vectors, work_id, vector)
        self._remember(self._keypoints, work_id, keypoints)
        return keypoints

    def decide(self, matches: Sequence[Match]) -> Decision:
        """`copy` (verified, or p_copy >= 0.99), `possible` (some evidence) or `no_match`."""
        return decide_matches(matches)

    def save(self) -> None:
        """Persist both indexes atomically under the index directory."""
        if self.sharded:
            return
        with self._lock:
            self._hashes.save(self._dir / "pdq.index")
            if self._vectors is not None and self._embedder is not None:
                self._vectors.save(self._dir / f"embedding-{self._embedder.dim}.index")

    def rebuild(self, items: Iterable[tuple[int, Fingerprint]]) -> int:
        """Replace the indexes with the given works (after files went missing or corrupt)."""
        if self.sharded:
            return 0
        hashes = BinaryHashIndex()
        vectors = EmbeddingIndex(self._embedder.dim) if self._embedder is not None else None
        # Gathered first and added in one call each: adding work by work costs O(N^2).
        hash_rows, vector_rows, count = _index_rows(items)
        hashes.add_new(hash_rows.items())
        if vectors is not None:
            vectors.add_new(vector_rows.items())
        with self._lock:
            self._hashes, self._vectors = _sized_layouts(hashes, vectors)
            self._held = set(hash_rows) | (set(vector_rows) if vectors is not None else set())
            self.needs_rebuild = False
            self.rebuilds += 1
            self.save()
        return count


def _window_box(window: tuple[int, int, int, int], cells: int, width: int, height: int) -> Box:
    """The query's pixel box under a cell window of its square feature map, widened a little."""
    left, top, right, bottom = window
    margin_x = (right - left) / cells * width * WINDOW_VERIFY_MARGIN
    margin_y = (bottom - top) / cells * height * WINDOW_VERIFY_MARGIN
    return Box(
        max(0, round(left / cells * width - margin_x)),
        max(0, round(top / cells * height - margin_y)),
        min(width, round(right / cells * width + margin_x)),
        min(height, round(bottom / cells * height + margin_y)),
    )


def _window_features(query_rgb: RGBArray, window: Box) -> QueryFeatures | None:
    """ORB features of one window of the query, enlarged to the verification size; None for a
    window too thin to have any."""
    crop = np.ascontiguousarray(window.crop(query_rgb))
    if min(crop.shape[:2]) < 2:
        return None
    return QueryFeatures(fit(crop, VERIFY_SIDE))


def _verify_window(
    features: QueryFeatures | None, window: Box, reference: Keypoints
) -> Verification:
    """The window's features (`_window_features`) against a reference; region in query pixels."""
    if features is None:
        return NOT_VERIFIED
    outcome = verify_features(features, reference)
    if outcome.region is None:
        return outcome
    scale = window.width / features.rgb.shape[1]
    (a, b, c, d) = ((window.left + x * scale, window.top + y * scale) for x, y in outcome.region)
    return dataclasses.replace(outcome, region=(a, b, c, d))


def _index_rows(
    items: Iterable[tuple[int, Fingerprint]],
) -> tuple[dict[int, npt.NDArray[np.uint8]], dict[int, FloatArray], int]:
    """Each work's rows for the hash index and for the embedding index (when it has any), and
    how many works there were."""
    hash_rows: dict[int, npt.NDArray[np.uint8]] = {}
    vector_rows: dict[int, FloatArray] = {}
    count = 0
    for work_id, fingerprint in items:
        count += 1
        indexed = fingerprint.indexed_hashes()
        if indexed:
            hash_rows[work_id] = np.stack(indexed)
        if fingerprint.embeddings is not None:
            # A copy: a view would keep the query-only rows of every work alive too.
            vector_rows[work_id] = fingerprint.embeddings[: fingerprint.reference_count].copy()
    return hash_rows, vector_rows, count


def _sized_layouts(
    hashes: BinaryHashIndex, vectors: EmbeddingIndex | None
) -> tuple[BinaryHashIndex, EmbeddingIndex | None]:
    """The indexes, each re-filed into IVF lists once it has outgrown an exact scan."""
    if hashes.layout == "flat" and len(hashes) >= IVF_MIN_ROWS:
        hashes = hashes.as_ivf()
    if vectors is not None and vectors.layout == "flat" and len(vectors) >= IVF_MIN_ROWS:
        vectors = vectors.as_ivf()
    return hashes, vectors


def _feature_maps_of(embedder: Embedder | None) -> FeatureMapEmbedder | None:
    """A one-pass region embedder built from the ONNX embedder's own model file, if it has one."""
    if not isinstance(embedder, OnnxEmbedder):
        return None
    return _feature_maps_for_model(embedder.model_path)


@lru_cache(maxsize=4)
def _feature_maps_for_model(model_path: Path) -> FeatureMapEmbedder | None:
    # Splitting the graph and opening a session costs about a second: once per model per process.
    return FeatureMapEmbedder.from_model_file(model_path)


def background_images(limit: int = 192) -> list[RGBArray]:
    """Unrelated images for score normalisation: the training half of the Tux Paint stamps.

    Training stamps (`similarity.corpus`) are never benchmark references, so a real copy is never
    normalised against itself.
    """
    from PIL import Image

    images: list[RGBArray] = []
    for _relative, path in corpus_stamps("training"):
        with Image.open(path) as opened:
            rgba = opened.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        canvas.thumbnail((_BACKGROUND_SIZE, _BACKGROUND_SIZE))
        images.append(np.asarray(canvas.convert("RGB"), dtype=np.uint8))
        if len(images) == limit:
            break
    return images
