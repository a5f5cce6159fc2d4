"""Open-world false copies: how often the engine decides `copy` for an image nobody registered.

The engine's decision, not a ranking, is what drafts a legal notice, and a larger registry gives
every unrelated image more works to be mistaken for. So the never-registered queries of the
held-out set (its distractors, plain and transformed like the copies) are searched against
registries of several sizes, and the fraction given each verdict is counted. Verdicts are read
generically from `SimilarityEngine.decide` (a string, or an object with a `verdict`/`decision`
string), so a third verdict such as `possible` is counted as soon as the engine has it. Copies of
works registered at every size are searched alike: the fraction still decided `copy` says what
the false-copy rate costs. Never-registered images as they would be uploaded (the distractors'
sources, plain) go through registration's prior-art check at every size
(`SimilarityEngine.earlier_copies`): each one it finds a copy in would be a false prior-art
conflict between distinct works of different owners. Each false copy and conflict is listed as
[query, work], a synthetic work named by its origin. The sets' sources are kept apart by
automatic checks that miss some shared artwork (an icon theme's common drawing, a recoloured
texture), so `with_shared_artwork_reviewed` also gives both rates without the pairs a person has
reviewed as sharing artwork (`shared_artwork.json`).

Registries: the first sizes take real held-out works (the references, then the extras, each
fingerprinted by the engine). Beyond the real works, synthetic works fill the registry. There are
not 100,000 held-out images, and fingerprinting 100,000 augmented images would take half an hour,
so each synthetic work is a real work's fingerprint moved as far as real works sit from their
nearest real neighbour: its embedding rows are shifted, in a direction drawn from the covariance
of real region embeddings, until the whole-frame cosine to the origin equals a nearest-neighbour
cosine drawn from the real works, and its PDQ rows have as many bits flipped as a real
nearest-neighbour distance. Random unit vectors or random hashes would sit far from every image
and flatter the engine; these are as crowded as the real collection. A synthetic work's pixels,
for the engine's geometric check, are its origin's.

Below `BULK_MIN_WORKS` every work enters through `SimilarityEngine.add`. Above it, adding works
one at a time costs a full index scan each (about 8 ms per work at 600,000 rows: most of an hour
for 100,000), so the same rows (`Fingerprint.indexed_hashes()` and the first `reference_count`
embeddings, which is what `add` indexes) are written in bulk into the index files the engine
opens, laid out as IVF as the engine lays out an index of that size; the engine opened on them
must report every work.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, cast

import numpy as np
import numpy.typing as npt

from bench.similarity.verdicts import engine_verdicts, p_copy_of, verdict_of
from similarity.engine import IVF_MIN_ROWS, Fingerprint
from similarity.hashes import PDQ_MIN_QUALITY, PdqHash
from similarity.images import LoadedImage
from similarity.index import BinaryHashIndex, EmbeddingIndex, region_ids
from similarity.references import ReferenceFeatures

RGBArray = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]

OPEN_WORLD_SIZES: Final = (12, 1_000, 100_000)
OPEN_WORLD_QUICK_SIZES: Final = (12, 1_000)
BULK_MIN_WORKS: Final = 10_000
SYNTHETIC_FIRST_ID: Final = 10_000_000
COPIES_PER_FAMILY: Final = 2
TOP_K: Final = 10
_CHUNK: Final = 20_000
SHARED_ARTWORK_FILE: Final = Path(__file__).with_name("shared_artwork.json")
# The index file names `SimilarityEngine` opens in its index directory.
_HASH_FILE: Final = "pdq.index"
_VECTOR_FILE: Final = "embedding-{dim}.index"


class OpenWorldError(RuntimeError):
    """The registry could not be built as asked (no real works, or the engine missed some)."""


class Engine(Protocol):
    """What the measurement uses of `similarity.engine.SimilarityEngine`."""

    def fingerprint(self, image: LoadedImage) -> Fingerprint: ...
    def reference_features(self, image: LoadedImage) -> ReferenceFeatures: ...
    def add(self, work_id: int, fingerprint: Fingerprint) -> None: ...
    def search(
        self, query: Fingerprint, top_k: int = ..., *, image: LoadedImage | None = ...
    ) -> Sequence[Any]: ...
    def decide(self, matches: Sequence[Any]) -> object: ...
    def earlier_copies(self, fingerprint: Fingerprint, image: LoadedImage) -> Sequence[Any]: ...
    def save(self) -> None: ...
    def __len__(self) -> int: ...


EngineFactory = Callable[[Path, Callable[[int], RGBArray | None]], Engine]


@dataclass(frozen=True, slots=True)
class RealWork:
    """A real image registered in the open world, with the engine's fingerprint of it."""

    work_id: int
    pixels: RGBArray
    fingerprint: Fingerprint


def _indexed_embeddings(fingerprint: Fingerprint) -> FloatArray | None:
    if fingerprint.embeddings is None:
        return None
    return fingerprint.embeddings[: fingerprint.reference_count]


def _hamming_nearest(codes: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Each packed code's Hamming distance to its nearest other code."""
    distances = np.unpackbits(codes[:, None, :] ^ codes[None, :, :], axis=-1).sum(
        axis=-1, dtype=np.int64
    )
    np.fill_diagonal(distances, np.iinfo(np.int64).max)
    return np.asarray(distances.min(axis=1), dtype=np.int64)


class SyntheticWorks:
    """Fingerprints of unregistered-looking works, each derived from one real work."""

    def __init__(self, real: Sequence[RealWork]) -> None:
        usable = [w for w in real if _indexed_embeddings(w.fingerprint) is not None]
        if len(usable) < 2:
            raise OpenWorldError("synthetic works need at least two real works with embeddings")
        self.origins = tuple(usable)
        whole = np.stack([w.fingerprint.embeddings[0] for w in usable])  # type: ignore[index]
        cosines = whole @ whole.T
        np.fill_diagonal(cosines, -np.inf)
        self.nearest_cosines = np.clip(cosines.max(axis=1), 0.05, 0.999).astype(np.float64)
        codes = np.stack([w.fingerprint.pdq.as_array() for w in usable])
        self.nearest_bits = _hamming_nearest(codes)
        rows = np.concatenate([_indexed_embeddings(w.fingerprint) for w in usable])  # type: ignore[misc]
        centred = rows - rows.mean(axis=0)
        covariance = centred.T @ centred / max(1, len(rows) - 1)
        values, vectors = np.linalg.eigh(covariance.astype(np.float64))
        self._basis = vectors * np.sqrt(np.clip(values, 0.0, None))[None, :]

    def _shift(self, origin: RealWork, rng: np.random.Generator) -> tuple[FloatArray, int]:
        """A displacement of the origin's embeddings and how many PDQ bits to flip."""
        whole = origin.fingerprint.embeddings[0].astype(np.float64)  # type: ignore[index]
        direction = self._basis @ rng.standard_normal(self._basis.shape[1])
        direction -= (direction @ whole) * whole
        cosine = float(rng.choice(self.nearest_cosines))
        length = np.sqrt(1.0 / cosine**2 - 1.0)
        shift = direction * (length / max(float(np.linalg.norm(direction)), 1e-12))
        return shift.astype(np.float32), int(rng.choice(self.nearest_bits))

    def rows(
        self, index: int, rng: np.random.Generator
    ) -> tuple[RealWork, npt.NDArray[np.uint8], FloatArray]:
        """(origin, PDQ rows, embedding rows) of synthetic work number `index`."""
        origin = self.origins[index % len(self.origins)]
        shift, bits = self._shift(origin, rng)
        vectors = _indexed_embeddings(origin.fingerprint) + shift  # type: ignore[operator]
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        mask = np.zeros(256, dtype=np.uint8)
        mask[rng.choice(256, size=min(bits, 256), replace=False)] = 1
        hashes = origin.fingerprint.indexed_hashes()
        flipped = (
            np.stack(hashes) ^ np.packbits(mask)[None, :] if hashes else np.zeros((0, 32), np.uint8)
        )
        return origin, flipped, vectors.astype(np.float32)

    def fingerprint(self, index: int, rng: np.random.Generator) -> tuple[RealWork, Fingerprint]:
        """Synthetic work number `index` as a Fingerprint `SimilarityEngine.add` indexes as such."""
        origin, hash_rows, vector_rows = self.rows(index, rng)
        real = origin.fingerprint
        region_pdq = real.region_pdq.copy()
        if real.region_pdq_quality is None:
            if len(hash_rows):
                region_pdq[0] = hash_rows[0]
        else:
            qualities = real.region_pdq_quality[: real.reference_count]
            reliable = np.flatnonzero(qualities >= PDQ_MIN_QUALITY)
            region_pdq[reliable] = hash_rows
        embeddings = real.embeddings.copy()  # type: ignore[union-attr]
        embeddings[: real.reference_count] = vector_rows
        pdq = PdqHash(bytes(region_pdq[0]), real.pdq.quality)
        return origin, dataclasses.replace(
            real, pdq=pdq, region_pdq=region_pdq, embeddings=embeddings
        )


def synthetic_origins(real: Sequence[RealWork], count: int, seed: int) -> list[int]:
    """Which real work each of `count` synthetic works derives from, cycling in a seeded order."""
    order = np.random.default_rng(seed).permutation(len(real))
    return [int(order[i % len(real)]) for i in range(count)]


def _bulk_indexes(
    index_dir: Path,
    real: Sequence[RealWork],
    synthetic: SyntheticWorks,
    *,
    count: int,
    rng: np.random.Generator,
    origin_of: dict[int, int],
) -> int:
    """Write the engine's index files holding `real` and `count` synthetic works; works indexed."""
    dim = next(v.shape[1] for w in real if (v := _indexed_embeddings(w.fingerprint)) is not None)
    hashes = BinaryHashIndex()
    vectors = EmbeddingIndex(dim)
    hashed: set[int] = set()

    def add_rows(rows: Iterable[tuple[int, npt.NDArray[np.uint8], FloatArray | None]]) -> None:
        hash_rows: list[npt.NDArray[np.uint8]] = []
        hash_ids: list[npt.NDArray[np.int64]] = []
        vector_rows: list[FloatArray] = []
        vector_ids: list[npt.NDArray[np.int64]] = []
        for work_id, codes, embedded in rows:
            if len(codes):
                hash_rows.append(codes)
                hash_ids.append(region_ids(work_id, len(codes)))
                hashed.add(work_id)
            if embedded is not None:
                vector_rows.append(embedded)
                vector_ids.append(region_ids(work_id, len(embedded)))
        # Bulk inserts: SimilarityEngine.add would first scan the index for rows to replace.
        if hash_rows:
            hashes._index.add_with_ids(np.concatenate(hash_rows), np.concatenate(hash_ids))
        if vector_rows:
            vectors._index.add_with_ids(np.concatenate(vector_rows), np.concatenate(vector_ids))

    add_rows(
        (
            w.work_id,
            np.stack(w.fingerprint.indexed_hashes())
            if w.fingerprint.indexed_hashes()
            else np.zeros((0, 32), np.uint8),
            _indexed_embeddings(w.fingerprint),
        )
        for w in real
    )
    origins = synthetic_origins(synthetic.origins, count, int(rng.integers(1 << 31)))
    for start in range(0, count, _CHUNK):
        chunk: list[tuple[int, npt.NDArray[np.uint8], FloatArray | None]] = []
        for offset in range(start, min(count, start + _CHUNK)):
            origin, codes, embedded = synthetic.rows(origins[offset], rng)
            work_id = SYNTHETIC_FIRST_ID + offset
            origin_of[work_id] = origin.work_id
            chunk.append((work_id, codes, embedded))
        add_rows(chunk)
    if len(hashes) >= IVF_MIN_ROWS:
        hashes = hashes.as_ivf()
    if len(vectors) >= IVF_MIN_ROWS:
        vectors = vectors.as_ivf()
    index_dir.mkdir(parents=True, exist_ok=True)
    hashes.save(index_dir / _HASH_FILE)
    vectors.save(index_dir / _VECTOR_FILE.format(dim=dim))
    return len(hashed)


@dataclass(frozen=True, slots=True)
class OpenWorldQuery:
    """A query of the open world: its id, decoded image and fingerprint (computed once)."""

    query_id: str
    image: LoadedImage
    fingerprint: Fingerprint


def _fractions(verdicts: Sequence[str], vocabulary: Sequence[str]) -> dict[str, float]:
    counts = dict.fromkeys(vocabulary, 0)
    for verdict in verdicts:
        counts[verdict] = counts.get(verdict, 0) + 1
    return {verdict: count / max(1, len(verdicts)) for verdict, count in counts.items()}


@dataclass(frozen=True, slots=True)
class _Verdicts:
    """The engine's verdict on each query, its p_copy where it gives one, and for each query
    decided `copy` the work it copies: [query id, work id]."""

    verdicts: list[str]
    probabilities: list[float]
    copies: list[list[object]]


def _decide_all(engine: Engine, queries: Sequence[OpenWorldQuery]) -> _Verdicts:
    decided = _Verdicts([], [], [])
    for query in queries:
        matches = engine.search(query.fingerprint, TOP_K, image=query.image)
        decision = engine.decide(matches)
        verdict = verdict_of(decision)
        decided.verdicts.append(verdict)
        probability = p_copy_of(decision)
        if probability is not None:
            decided.probabilities.append(probability)
        if verdict == "copy":
            copied = next(m for m in matches if verdict_of(engine.decide([m])) == "copy")
            decided.copies.append([query.query_id, int(copied.work_id)])
    return decided


def _prior_art_conflicts(engine: Engine, uploads: Sequence[OpenWorldQuery]) -> list[list[object]]:
    """[upload, registered work id] for each upload registration would call a conflict."""
    conflicts: list[list[object]] = []
    for upload in uploads:
        earlier = engine.earlier_copies(upload.fingerprint, upload.image)
        if earlier:
            conflicts.append([upload.query_id, int(earlier[0].work_id)])
    return conflicts


def _registry(
    size: int,
    real: Sequence[RealWork],
    synthetic: SyntheticWorks | None,
    *,
    engine_factory: EngineFactory,
    index_dir: Path,
    seed: int,
    origin_of: dict[int, int] | None = None,
) -> tuple[Engine, int, int]:
    """An engine holding `size` works; (engine, real works, synthetic works).

    `origin_of`, when given, receives each synthetic work's real origin (whose pixels it has).
    """
    pixels = {w.work_id: w.pixels for w in real}
    origin_of = {} if origin_of is None else origin_of

    def reference_image(work_id: int) -> RGBArray | None:
        return pixels.get(origin_of.get(work_id, work_id))

    chosen = list(real[:size])
    extra = size - len(chosen)
    rng = np.random.default_rng([seed, size])
    if extra and synthetic is None:
        raise OpenWorldError(f"{size} works asked, {len(real)} real and no synthetic generator")
    if extra and synthetic is not None and size >= BULK_MIN_WORKS:
        expected = _bulk_indexes(
            index_dir, chosen, synthetic, count=extra, rng=rng, origin_of=origin_of
        )
        engine = engine_factory(index_dir, reference_image)
        if len(engine) != expected:
            raise OpenWorldError(
                f"the engine opened {len(engine)} works from the bulk-written index, "
                f"{expected} were written: its index files changed name or format"
            )
        return engine, len(chosen), extra
    engine = engine_factory(index_dir, reference_image)
    for work in chosen:
        engine.add(work.work_id, work.fingerprint)
    if extra and synthetic is not None:
        origins = synthetic_origins(synthetic.origins, extra, int(rng.integers(1 << 31)))
        for offset, origin_index in enumerate(origins):
            origin, fingerprint = synthetic.fingerprint(origin_index, rng)
            work_id = SYNTHETIC_FIRST_ID + offset
            origin_of[work_id] = origin.work_id
            engine.add(work_id, fingerprint)
    return engine, len(chosen), extra


def measure_open_world(
    engine_factory: EngineFactory,
    real: Sequence[tuple[int, LoadedImage]],
    distractors: Sequence[tuple[str, LoadedImage]],
    copies: Sequence[tuple[str, LoadedImage]],
    *,
    uploads: Sequence[tuple[str, LoadedImage]] = (),
    sizes: Sequence[int],
    work_dir: Path,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """Verdict fractions for `distractors` and `copies` at each registry size in `sizes`.

    `real` lists the real works in registration order: the registry of size n holds the first n
    (all of them plus synthetic works beyond that). `copies` must copy works registered at the
    smallest size. `uploads` are distinct never-registered images, each put through
    registration's prior-art check at every size.
    """
    if not real:
        raise OpenWorldError("the open world needs at least one real work")
    work_dir.mkdir(parents=True, exist_ok=True)
    scratch = engine_factory(work_dir / "scratch", lambda _work_id: None)
    started = time.perf_counter()
    real_works = [
        RealWork(work_id, image.rgb, scratch.fingerprint(image)) for work_id, image in real
    ]
    distractor_queries = [
        OpenWorldQuery(q, image, scratch.fingerprint(image)) for q, image in distractors
    ]
    copy_queries = [OpenWorldQuery(q, image, scratch.fingerprint(image)) for q, image in copies]
    upload_checks = [OpenWorldQuery(q, image, scratch.fingerprint(image)) for q, image in uploads]
    fingerprint_s = time.perf_counter() - started
    synthetic = SyntheticWorks(real_works) if max(sizes) > len(real_works) else None
    declared = engine_verdicts()
    by_size: dict[str, dict[str, object]] = {}
    for size in sizes:
        if progress:
            progress(f"open world: registering {size:,} works")
        started = time.perf_counter()
        origin_of: dict[int, int] = {}
        engine, real_count, synthetic_count = _registry(
            size,
            real_works,
            synthetic,
            engine_factory=engine_factory,
            index_dir=work_dir / f"index-{size}",
            seed=seed,
            origin_of=origin_of,
        )
        fill_s = time.perf_counter() - started
        if progress:
            progress(f"open world: {len(distractor_queries)} unregistered queries at {size:,}")
        started, cpu_started = time.perf_counter(), time.process_time()
        on_distractor_queries = _decide_all(engine, distractor_queries)
        on_copy_queries = _decide_all(engine, copy_queries)
        searched_s = time.perf_counter() - started
        searched_cpu_s = time.process_time() - cpu_started
        conflicts = _prior_art_conflicts(engine, upload_checks)
        vocabulary = list(
            dict.fromkeys([*declared, *on_distractor_queries.verdicts, *on_copy_queries.verdicts])
        )
        on_distractors = _fractions(on_distractor_queries.verdicts, vocabulary)
        on_copies = _fractions(on_copy_queries.verdicts, vocabulary)
        by_size[str(size)] = {
            "registered_works": real_count + synthetic_count,
            "real_works": real_count,
            "synthetic_works": synthetic_count,
            "false_copy_fraction": on_distractors.get("copy", 0.0),
            "possible_fraction": on_distractors["possible"] if "possible" in vocabulary else None,
            "distractor_verdict_fractions": on_distractors,
            "copy_fraction_on_copies": on_copies.get("copy", 0.0),
            "copy_verdict_fractions": on_copies,
            "prior_art_conflict_fraction": (
                len(conflicts) / len(upload_checks) if upload_checks else None
            ),
            "prior_art_conflicts": _to_origins(conflicts, origin_of),
            "false_copies": _to_origins(on_distractor_queries.copies, origin_of),
            "mean_p_copy_on_distractors": _mean(on_distractor_queries.probabilities),
            "mean_p_copy_on_copies": _mean(on_copy_queries.probabilities),
            "fill_s": fill_s,
            "queries_per_s": (len(distractor_queries) + len(copy_queries)) / max(searched_s, 1e-9),
            "cpu_ms_per_query": 1000
            * searched_cpu_s
            / max(1, len(distractor_queries) + len(copy_queries)),
        }
    return {
        "registry_sizes": list(sizes),
        "real_works_available": len(real_works),
        "distractor_queries": len(distractor_queries),
        "copy_queries": len(copy_queries),
        "prior_art_uploads": len(upload_checks),
        "declared_verdicts": list(declared),
        "fingerprint_s": fingerprint_s,
        "by_size": by_size,
    }


def shared_artwork_pairs(path: Path = SHARED_ARTWORK_FILE) -> set[frozenset[str]]:
    """The source pairs a person reviewed as sharing artwork."""
    reviewed = json.loads(path.read_text())["pairs"]
    return {frozenset(pair["sources"]) for pair in reviewed}


def with_shared_artwork_reviewed(
    by_size: dict[str, dict[str, Any]],
    source_of: Callable[[object], str],
    *,
    queries: int,
    uploads: int,
    shared: set[frozenset[str]],
) -> None:
    """Add to each size's row its false copies and conflicts that a reviewed pair explains, and
    both rates without them: such an image is no distinct never-registered work."""
    for row in by_size.values():
        for listed, rate, count in (
            ("false_copies", "false_copy_fraction", queries),
            ("prior_art_conflicts", "prior_art_conflict_fraction", uploads),
        ):
            pairs = cast(list[list[object]], row[listed])
            explained = sum(
                frozenset((source_of(query), source_of(work))) in shared for query, work in pairs
            )
            row[f"{listed}_sharing_artwork"] = explained
            row[f"{rate}_reviewed"] = (
                (len(pairs) - explained) / (count - explained) if count > explained else None
            )


def _to_origins(pairs: list[list[object]], origin_of: dict[int, int]) -> list[list[object]]:
    """[query, work] pairs with each synthetic work named by the real work whose pixels it has."""
    return [[query, origin_of.get(cast(int, work), cast(int, work))] for query, work in pairs]


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def planted_copies(
    positives: Iterable[tuple[str, str, int]], registered: set[int], per_family: int
) -> list[str]:
    """Ids of copies (query id, family, reference id) of `registered` works, `per_family` each."""
    taken: dict[str, int] = {}
    chosen: list[str] = []
    for query_id, family, reference_id in positives:
        if reference_id in registered and taken.get(family, 0) < per_family:
            taken[family] = taken.get(family, 0) + 1
            chosen.append(query_id)
    return chosen
