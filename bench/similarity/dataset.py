"""Benchmark set: references and distractors share no source; no CNN training stamp is ever used.

A DISC21-style set built from images that ship in packages. Only the evaluation half of the Tux
Paint stamps (`similarity.corpus`: path hash 0-7) is read here; the training half (8-f) is the
embedding network's training corpus. Sources are grouped (a stamp
folder is one group, as its stamps are often variants of one drawing; a scikit-image photo is its
own group) and whole groups go either to the references or to the distractors, and near-duplicate
sources (pHash within a few bits of one already kept) are dropped, so a distractor is never a
hidden copy of a reference. Queries are copies of references made by every family in
`similarity.augment.FAMILIES`; distractor queries are unregistered images, plain or transformed.
"""

from __future__ import annotations

import functools
import json
import os
import random
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import imagehash
import numpy as np
from PIL import Image

from similarity.augment import FAMILIES, Augmentation, RGBImage
from similarity.corpus import STAMPS_DIR, STAMPS_PACKAGE
from similarity.corpus import stamps as corpus_stamps

# Letters, hand signs and operators are near-duplicates of one another, not distinct works.
_EXCLUDED_STAMP_FOLDERS: Final = ("symbols/alphabets", "symbols/math", "symbols/music")
_MIN_SOURCE_SIDE_PX: Final = 64
_MAX_SOURCE_SIDE_PX: Final = 512
_NEAR_DUPLICATE_BITS: Final = 6
# scikit-image photos read from its data folder (never fetched); motorcycle_right is left out
# because it is a near copy of motorcycle_left.
PHOTO_FILES: Final = (
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
    "coffee.png", "coins.png", "color.png", "grass.png", "gravel.png", "horse.png",
    "hubble_deep_field.jpg", "ihc.png", "logo.png", "microaneurysms.png", "moon.png",
    "motorcycle_left.png", "page.png", "retina.jpg", "rocket.jpg", "text.png",
)  # fmt: skip
_FORMAT_VERSION: Final = 1
DISTRACTOR_FAMILY: Final = "plain"


class BenchmarkSourceError(RuntimeError):
    """The packaged source images are missing or too few for the requested benchmark size."""


@dataclass(frozen=True, slots=True)
class BenchmarkSize:
    """How many registered works, copies per family and unregistered distractor queries."""

    references: int
    queries_per_family: int
    distractors: int


FULL_SIZE: Final = BenchmarkSize(references=150, queries_per_family=60, distractors=300)
QUICK_SIZE: Final = BenchmarkSize(references=10, queries_per_family=2, distractors=12)


@dataclass(frozen=True, slots=True)
class SourceImage:
    """One packaged image that can become a reference or a distractor."""

    name: str
    group: str
    path: Path


@dataclass(frozen=True, slots=True)
class Reference:
    """A registered work of the benchmark."""

    work_id: int
    source: str
    path: Path


@dataclass(frozen=True, slots=True)
class Query:
    """An image searched for; `reference_id` is the work it copies, None for a distractor."""

    query_id: str
    family: str
    source: str
    path: Path
    reference_id: int | None


@dataclass(frozen=True, slots=True)
class BenchmarkSet:
    """References to register and queries to search, stored as PNG files under `root`."""

    root: Path
    references: tuple[Reference, ...]
    queries: tuple[Query, ...]

    def ground_truth(self) -> dict[str, int]:
        """Each positive query's reference work id."""
        return {q.query_id: q.reference_id for q in self.queries if q.reference_id is not None}

    def families(self) -> tuple[str, ...]:
        """The copy families present among the positive queries, in build order."""
        seen = dict.fromkeys(q.family for q in self.queries if q.reference_id is not None)
        return tuple(seen)


def _stamp_sources(stamps_dir: Path) -> Iterator[SourceImage]:
    for relative, path in corpus_stamps("evaluation", stamps_dir):
        if "mirror" in path.stem:
            continue
        if relative.startswith(_EXCLUDED_STAMP_FOLDERS):
            continue
        yield SourceImage(f"stamp:{relative}", f"stamp:{path.parent.relative_to(stamps_dir)}", path)


def _photo_sources(photos_dir: Path) -> Iterator[SourceImage]:
    for name in PHOTO_FILES:
        path = photos_dir / name
        if path.is_file():
            yield SourceImage(f"photo:{name}", f"photo:{name}", path)


def default_photos_dir() -> Path:
    """scikit-image's bundled data folder."""
    import skimage.data

    return Path(skimage.data.data_dir)


def load_source(path: Path) -> RGBImage:
    """Decode a packaged image to RGB with transparency on white, longest side at most 512 px."""
    with Image.open(path) as opened:
        image = opened.convert("RGBA")
    canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
    canvas.alpha_composite(image)
    rgb = canvas.convert("RGB")
    rgb.thumbnail((_MAX_SOURCE_SIDE_PX, _MAX_SOURCE_SIDE_PX), Image.Resampling.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8)


# Cached per process: the packaged images do not change while it runs.
@functools.cache
def candidate_sources(
    stamps_dir: Path = STAMPS_DIR, photos_dir: Path | None = None
) -> tuple[SourceImage, ...]:
    """Every usable benchmark source, near-duplicates and tiny images removed, in a stable order."""
    photos = photos_dir if photos_dir is not None else default_photos_dir()
    kept: list[SourceImage] = []
    kept_hashes: list[imagehash.ImageHash] = []
    for source in [*_stamp_sources(stamps_dir), *_photo_sources(photos)]:
        pixels = load_source(source.path)
        if min(pixels.shape[:2]) < _MIN_SOURCE_SIDE_PX:
            continue
        digest = imagehash.phash(Image.fromarray(pixels))
        if any(digest - other <= _NEAR_DUPLICATE_BITS for other in kept_hashes):
            continue
        kept.append(source)
        kept_hashes.append(digest)
    return tuple(kept)


def split_sources(
    sources: Sequence[SourceImage], references: int, rng: random.Random
) -> tuple[list[SourceImage], list[SourceImage]]:
    """Whole groups to the references until `references` are reached; the rest are distractors."""
    groups: dict[str, list[SourceImage]] = {}
    for source in sources:
        groups.setdefault(source.group, []).append(source)
    order = sorted(groups)
    rng.shuffle(order)
    chosen: list[SourceImage] = []
    distractors: list[SourceImage] = []
    for group in order:
        if len(chosen) < references:
            # A group cut short leaves its remainder unused, never as distractors.
            chosen.extend(groups[group][: references - len(chosen)])
        else:
            distractors.extend(groups[group])
    if len(chosen) < references:
        raise BenchmarkSourceError(
            f"only {len(chosen)} benchmark sources found, {references} references requested"
        )
    return chosen, distractors


def query_rng(seed: int, label: str) -> random.Random:
    # Seeding with a string is stable across runs and Python versions (SHA-512 of the text).
    return random.Random(f"{seed}:{label}")  # noqa: S311 - reproducible sampling, not secrets


def save_png(pixels: RGBImage, path: Path) -> None:
    Image.fromarray(pixels).save(path, format="PNG", compress_level=1)


def _cache_root(cache_dir: Path, size: BenchmarkSize, seed: int) -> Path:
    key = f"v{_FORMAT_VERSION}-seed{seed}-r{size.references}-q{size.queries_per_family}"
    return cache_dir / f"disc-{key}-d{size.distractors}"


def write_manifest(
    root: Path, version: int, benchmark: BenchmarkSet, extra: Mapping[str, object] | None = None
) -> None:
    """Record a built set under `root`; `extra` adds keys a set kind needs beyond the queries."""
    manifest: dict[str, object] = {
        "version": version,
        "references": _reference_rows(benchmark.references),
        "queries": [
            {
                "query_id": q.query_id,
                "family": q.family,
                "source": q.source,
                "file": q.path.name,
                "reference_id": q.reference_id,
            }
            for q in benchmark.queries
        ],
        **(extra or {}),
    }
    # Written last and renamed into place: a build cut short leaves no manifest and is redone.
    handle, temporary = tempfile.mkstemp(dir=root, suffix=".json.tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(manifest, file)
    Path(temporary).replace(root / "manifest.json")


def _reference_rows(references: Sequence[Reference]) -> list[dict[str, object]]:
    return [{"work_id": r.work_id, "source": r.source, "file": r.path.name} for r in references]


def read_references(folder: Path, rows: Sequence[Mapping[str, object]]) -> tuple[Reference, ...]:
    """References listed in a manifest, their files under `folder`."""
    return tuple(
        Reference(int(str(r["work_id"])), str(r["source"]), folder / str(r["file"])) for r in rows
    )


def read_manifest(root: Path, version: int) -> tuple[BenchmarkSet, dict[str, Any]] | None:
    """The set recorded under `root` and its whole manifest; None if absent, stale or partial."""
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("version") != version:
        return None
    references = read_references(root / "references", manifest["references"])
    queries = tuple(
        Query(
            str(q["query_id"]),
            str(q["family"]),
            str(q["source"]),
            root / "queries" / str(q["file"]),
            None if q["reference_id"] is None else int(q["reference_id"]),
        )
        for q in manifest["queries"]
    )
    paths = [r.path for r in references] + [q.path for q in queries]
    if not all(p.is_file() for p in paths):
        return None
    return BenchmarkSet(root, references, queries), manifest


def build_benchmark(
    cache_dir: Path,
    size: BenchmarkSize = FULL_SIZE,
    *,
    seed: int = 0,
    families: Mapping[str, Augmentation] = FAMILIES,
    stamps_dir: Path = STAMPS_DIR,
    photos_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> BenchmarkSet:
    """Build the set under `cache_dir`, or reuse the one built there with the same seed and size."""
    root = _cache_root(cache_dir, size, seed)
    cached = read_manifest(root, _FORMAT_VERSION)
    if cached is not None:
        return cached[0]
    if not stamps_dir.is_dir():
        raise BenchmarkSourceError(
            f"Tux Paint stamps not found at {stamps_dir}: install {STAMPS_PACKAGE}"
        )
    rng = random.Random(seed)  # noqa: S311 - reproducible sampling, not secrets
    chosen, distractor_sources = split_sources(
        candidate_sources(stamps_dir, photos_dir), size.references, rng
    )
    if not distractor_sources and size.distractors:
        raise BenchmarkSourceError("no sources left over for distractors")
    (root / "references").mkdir(parents=True, exist_ok=True)
    (root / "queries").mkdir(parents=True, exist_ok=True)
    if progress:
        progress(f"writing {len(chosen)} references")
    references: list[Reference] = []
    pixels_by_work: dict[int, RGBImage] = {}
    for work_id, source in enumerate(chosen, start=1):
        pixels_by_work[work_id] = load_source(source.path)
        path = root / "references" / f"{work_id:05d}.png"
        save_png(pixels_by_work[work_id], path)
        references.append(Reference(work_id, source.name, path))
    queries: list[Query] = []
    for family, augmentation in families.items():
        if progress:
            progress(f"writing {size.queries_per_family} {family} copies")
        picks = query_rng(seed, f"pick:{family}").sample(
            references, min(size.queries_per_family, len(references))
        )
        for index, reference in enumerate(picks):
            query_id = f"{family}-{index:04d}"
            copy = augmentation(pixels_by_work[reference.work_id], query_rng(seed, query_id))
            path = root / "queries" / f"{query_id}.png"
            save_png(copy, path)
            queries.append(Query(query_id, family, reference.source, path, reference.work_id))
    if progress:
        progress(f"writing {size.distractors} distractors")
    family_names = sorted(families)
    for index in range(size.distractors):
        source = distractor_sources[index % len(distractor_sources)]
        query_id = f"distractor-{index:04d}"
        pixels = load_source(source.path)
        family = DISTRACTOR_FAMILY
        # The first pass shows every distractor plain; later passes show transformed versions.
        if index >= len(distractor_sources):
            distractor_rng = query_rng(seed, query_id)
            family = distractor_rng.choice(family_names)
            pixels = families[family](pixels, distractor_rng)
        path = root / "queries" / f"{query_id}.png"
        save_png(pixels, path)
        queries.append(Query(query_id, family, source.name, path, None))
    benchmark = BenchmarkSet(root, tuple(references), tuple(queries))
    write_manifest(root, _FORMAT_VERSION, benchmark)
    return benchmark
