"""Held-out copy-detection set: image sources the engine never trains, normalises, calibrates or
tunes on.

The DISC21-style set (`bench.similarity.dataset`) is built from the same kinds of images the
engine was developed against, so a figure measured there can flatter it. This set is built the
same way from four Debian packages nothing in the product reads: `gnome-icon-theme` (icons),
`pingus-data` (game sprites and clip-art-like pieces), `lomiri-wallpapers` (photos; its pictures
ship in the `lomiri-wallpapers-16.04` and `-20.04` packages it depends on) and
`frozen-bubble-data` (illustrations). Files are listed from dpkg's record of each package, never
by scanning a folder that other packages share (`/usr/share/backgrounds` also holds the
reserved wallpaper sets), and symbolic links are skipped, so every file read is owned by one of
those packages. The packages reserved for an independent evaluation and those used for
calibration (`RESERVED_PACKAGES`, `CALIBRATION_PACKAGES`) are never read.

Near-duplicates are dropped first: flips and quarter turns of a kept source (pHash) and
sources sharing artwork with one (an icon with a badge added, a sprite on another background:
SSCD cosine or SIFT inliers), so that no two works share artwork and no distractor hides a copy
of a registered work. SSCD is also a baseline here; the pairs removed would be ambiguous ground
truth for every system, the engine included (it verified several of them geometrically).
Sources are then grouped by package and the first word of the file name (an icon's variants, a
sprite's frames and re-exports share it), at most `_MAX_PER_GROUP` per group. Within each
package whole groups go to one of three sides: references (the works registered), distractors
(never registered, queried plain or transformed like the copies) and extras (real works that are
registered only in the open-world measurement, to grow the registry). Each package gives the
references a share proportional to the square root of its size, so the 20 wallpapers are not
drowned by 400 sprites. Copies are made by every family of `similarity.augment.FAMILIES` plus
three hard ones the field's evaluations name: the work pasted into a larger unrelated picture,
a heavy crop and a plain downscale.
"""

from __future__ import annotations

import functools
import math
import random
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

import cv2
import imagehash
import numpy as np
from PIL import Image

from bench.similarity.dataset import (
    DISTRACTOR_FAMILY,
    BenchmarkSet,
    BenchmarkSourceError,
    Query,
    Reference,
    SourceImage,
    load_source,
    query_rng,
    read_manifest,
    read_references,
    save_png,
    write_manifest,
)
from bench.similarity.sscd import SscdEmbedder
from similarity.augment import FAMILIES, MIN_SIDE_PX, Augmentation, RGBImage

# Debian package -> the source it stands for. lomiri-wallpapers itself holds one picture; the
# others come with the two packages it depends on.
HELDOUT_PACKAGES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "gnome-icon-theme": "gnome-icon-theme",
        "pingus-data": "pingus-data",
        "lomiri-wallpapers": "lomiri-wallpapers",
        "lomiri-wallpapers-16.04": "lomiri-wallpapers",
        "lomiri-wallpapers-20.04": "lomiri-wallpapers",
        "frozen-bubble-data": "frozen-bubble-data",
    }
)
HELDOUT_SOURCES: Final = tuple(dict.fromkeys(HELDOUT_PACKAGES.values()))
# Kept for an independent evaluation of the engine: never read by any benchmark here.
RESERVED_PACKAGES: Final = ("openclipart-png", "plasma-workspace-wallpapers", "gnome-backgrounds")
# Calibration data of the engine's decision: never evaluated on.
CALIBRATION_PACKAGES: Final = ("mate-backgrounds", "lxde-icon-theme", "desktop-base")

_IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg")
_MIN_SOURCE_SIDE_PX: Final = 64
_NEAR_DUPLICATE_BITS: Final = 8
# Derivatives (shared artwork) are found two ways, neither of them the engine's: the distilled
# SSCD student, at a cosine above 99.8% of all pairs of held-out sources; and SIFT keypoints
# agreeing on one similarity transform, at an inlier count above every unrelated pair sampled
# (at most 23 of 300), checked for pairs from one package with an SSCD cosine above the median.
DERIVATIVE_COSINE: Final = 0.6
DERIVATIVE_INLIERS: Final = 30
_SIFT_PREFILTER_COSINE: Final = 0.3
_SIFT_FEATURES: Final = 500
_DERIVATIVE_MODEL: Final = "sscd_distilled"
_MAX_PER_GROUP: Final = 6
# A paste background must be large enough that the work is a small part of it.
_MIN_BACKGROUND_SIDE_PX: Final = 160
_FORMAT_VERSION: Final = 4


@dataclass(frozen=True, slots=True)
class HeldoutSize:
    """Registered works, copies per family, distractor queries; extras are capped, not filled."""

    references: int
    queries_per_family: int
    distractors: int
    max_extras: int


HELDOUT_FULL_SIZE: Final = HeldoutSize(
    references=100, queries_per_family=16, distractors=200, max_extras=400
)
HELDOUT_QUICK_SIZE: Final = HeldoutSize(
    references=12, queries_per_family=2, distractors=24, max_extras=24
)


@dataclass(frozen=True, slots=True)
class HeldoutSet:
    """The held-out benchmark, the extra real works for the open world, every file it read."""

    benchmark: BenchmarkSet
    extras: tuple[Reference, ...]
    files_read: tuple[Path, ...]


def package_files(package: str) -> list[Path]:
    """Regular image files (no symbolic links) that dpkg records for an installed package."""
    try:
        # dpkg's own query tool with a fixed argument list: no shell, no untrusted input.
        listed = subprocess.run(  # noqa: S603
            ["dpkg-query", "-L", package],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return []
    files = {Path(line) for line in listed if line.lower().endswith(_IMAGE_SUFFIXES)}
    return sorted(path for path in files if path.is_file() and not path.is_symlink())


def _group(source: str, path: Path) -> str:
    word = re.match(r"[a-z]*", path.stem.lower())
    return f"{source}:{word.group(0) if word and word.group(0) else path.stem.lower()}"


_DIHEDRAL: Final = (
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
)


def _dihedral_hashes(pixels: RGBImage) -> list[imagehash.ImageHash]:
    """pHash of the image in its eight orientations, as drawn first."""
    image = Image.fromarray(pixels)
    return [imagehash.phash(image)] + [imagehash.phash(image.transpose(op)) for op in _DIHEDRAL]


@functools.cache
def heldout_sources(
    packages: tuple[tuple[str, str], ...] = tuple(HELDOUT_PACKAGES.items()),
) -> tuple[SourceImage, ...]:
    """Every usable held-out source in a stable order: small images and near-duplicates removed.

    Cached per process: the packaged files do not change while it runs.
    """
    return distinct_sources(
        (source, path) for package, source in packages for path in package_files(package)
    )


class _Sift:
    """SIFT keypoints of each candidate, and whether two candidates share artwork."""

    def __init__(self, images: Sequence[RGBImage]) -> None:
        sift = cv2.SIFT.create(nfeatures=_SIFT_FEATURES)
        self._features = [
            sift.detectAndCompute(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), None) for image in images
        ]
        self._matcher = cv2.BFMatcher(cv2.NORM_L2)

    def inliers(self, first: int, second: int) -> int:
        """Ratio-test matches that agree on one similarity transform (RANSAC, seeded)."""
        (keys_a, descriptors_a), (keys_b, descriptors_b) = (
            self._features[first],
            self._features[second],
        )
        if descriptors_a is None or descriptors_b is None or min(len(keys_a), len(keys_b)) < 2:
            return 0
        pairs = self._matcher.knnMatch(descriptors_a, descriptors_b, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
        if len(good) < 3:
            return 0
        points_a = np.asarray([keys_a[m.queryIdx].pt for m in good], dtype=np.float32)
        points_b = np.asarray([keys_b[m.trainIdx].pt for m in good], dtype=np.float32)
        cv2.setRNGSeed(0)
        _transform, mask = cv2.estimateAffinePartial2D(
            points_a, points_b, method=cv2.RANSAC, ransacReprojThreshold=4.0
        )
        return 0 if mask is None else int(mask.sum())


def distinct_sources(files: Iterable[tuple[str, Path]]) -> tuple[SourceImage, ...]:
    """(source, file) pairs as SourceImages, in order, less small images and near-duplicates.

    A file is dropped when it is a flip or quarter turn of one kept before it (pHash within
    `_NEAR_DUPLICATE_BITS`) or shares its artwork (an icon with a badge added, a sprite on
    another background: SSCD cosine at least `DERIVATIVE_COSINE`, or `DERIVATIVE_INLIERS` SIFT
    inliers), so that no two works of the set share artwork and no distractor hides a copy of a
    registered work.
    """
    candidates: list[tuple[SourceImage, RGBImage]] = []
    kept_hashes: list[imagehash.ImageHash] = []
    for source, path in files:
        if "mirror" in path.stem:
            continue
        with Image.open(path) as opened:
            if min(opened.size) < _MIN_SOURCE_SIDE_PX:
                continue
        pixels = load_source(path)
        if min(pixels.shape[:2]) < _MIN_SOURCE_SIDE_PX:
            continue
        # Arrows pointing four ways are one drawing: compare every orientation.
        orientations = _dihedral_hashes(pixels)
        if any(
            turned - other <= _NEAR_DUPLICATE_BITS
            for turned in orientations
            for other in kept_hashes
        ):
            continue
        candidates.append((SourceImage(f"{source}:{path}", _group(source, path), path), pixels))
        kept_hashes.append(orientations[0])
    if not candidates:
        return ()
    images = [pixels for _, pixels in candidates]
    cosines = SscdEmbedder(_DERIVATIVE_MODEL).embed(images)
    cosines = cosines @ cosines.T
    sift = _Sift(images)
    packages = [source_package(source) for source, _ in candidates]
    kept: list[int] = []
    for index in range(len(candidates)):
        if any(
            cosines[index, other] >= DERIVATIVE_COSINE
            or (
                packages[index] == packages[other]
                and cosines[index, other] >= _SIFT_PREFILTER_COSINE
                and sift.inliers(other, index) >= DERIVATIVE_INLIERS
            )
            for other in kept
        ):
            continue
        kept.append(index)
    return tuple(candidates[index][0] for index in kept)


def source_package(source: SourceImage) -> str:
    """The held-out source name of a source image (its name's prefix)."""
    return source.name.split(":", 1)[0]


def _quotas(available: Mapping[str, int], total: int) -> dict[str, int]:
    """`total` shared out in proportion to the square root of each package's sources.

    Largest remainders first; no package gives more than half of its sources.
    """
    caps = {package: count // 2 for package, count in available.items()}
    if total > sum(caps.values()):
        raise BenchmarkSourceError(
            f"only {sum(caps.values())} held-out references possible, {total} requested: "
            f"install {', '.join(HELDOUT_PACKAGES)}"
        )
    weights = {package: math.sqrt(count) for package, count in available.items() if count}
    scale = total / sum(weights.values())
    shares = {package: min(caps[package], weight * scale) for package, weight in weights.items()}
    quotas = {package: math.floor(share) for package, share in shares.items()}
    while sum(quotas.values()) < total:
        package = max(
            (p for p in quotas if quotas[p] < caps[p]),
            key=lambda p: (weights[p] * scale - quotas[p], p),
        )
        quotas[package] += 1
    return quotas


@dataclass(frozen=True, slots=True)
class Split:
    """Each held-out source's side; a group never straddles two sides."""

    references: tuple[SourceImage, ...]
    distractors: tuple[SourceImage, ...]
    extras: tuple[SourceImage, ...]


def split_heldout(sources: Sequence[SourceImage], references: int, seed: int) -> Split:
    """Per package: whole groups to the references up to its quota, the rest alternately to
    distractors and extras. A group cut short by the quota leaves its remainder unused."""
    by_package: dict[str, dict[str, list[SourceImage]]] = {}
    for source in sources:
        groups = by_package.setdefault(source_package(source), {})
        groups.setdefault(source.group, []).append(source)
    for groups in by_package.values():
        for group, members in groups.items():
            query_rng(seed, f"cap:{group}").shuffle(members)
            groups[group] = members[:_MAX_PER_GROUP]
    available = {p: sum(len(m) for m in groups.values()) for p, groups in by_package.items()}
    quotas = _quotas(available, references)
    chosen: list[SourceImage] = []
    distractors: list[SourceImage] = []
    extras: list[SourceImage] = []
    for package in sorted(by_package):
        groups = by_package[package]
        order = sorted(groups)
        query_rng(seed, f"split:{package}").shuffle(order)
        taken = 0
        leftover = 0
        for group in order:
            if taken < quotas[package]:
                members = groups[group][: quotas[package] - taken]
                chosen.extend(members)
                taken += len(members)
            else:
                (distractors if leftover % 2 == 0 else extras).extend(groups[group])
                leftover += 1
    return Split(tuple(chosen), tuple(distractors), tuple(extras))


def heavy_crop(image: RGBImage, rng: random.Random) -> RGBImage:
    """Keep a window of 8-25% of the area (a detail of the work), aspect within 3:4..4:3."""
    height, width = image.shape[:2]
    area = rng.uniform(0.08, 0.25) * width * height
    aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
    crop_width = min(width, max(MIN_SIDE_PX, round(math.sqrt(area * aspect * width / height))))
    crop_height = min(height, max(MIN_SIDE_PX, round(area / crop_width)))
    left = rng.randint(0, width - crop_width)
    top = rng.randint(0, height - crop_height)
    return np.ascontiguousarray(image[top : top + crop_height, left : left + crop_width])


def downscale(image: RGBImage, rng: random.Random) -> RGBImage:
    """Shrink to 15-45% of each side (a thumbnail), nothing else changed."""
    height, width = image.shape[:2]
    scale = rng.uniform(0.15, 0.45)
    size = (max(MIN_SIDE_PX, round(width * scale)), max(MIN_SIDE_PX, round(height * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def paste_onto(backgrounds: Sequence[Path]) -> Augmentation:
    """The work, scaled to 8-30% of the picture's area, pasted at a random place on one of
    `backgrounds` (unregistered held-out images, enlarged to 480-800 px on the longer side)."""

    def paste(image: RGBImage, rng: random.Random) -> RGBImage:
        background = load_source(backgrounds[rng.randrange(len(backgrounds))])
        longest = rng.randint(480, 800)
        scale = longest / max(background.shape[:2])
        canvas_size = (
            max(MIN_SIDE_PX, round(background.shape[1] * scale)),
            max(MIN_SIDE_PX, round(background.shape[0] * scale)),
        )
        canvas = cv2.resize(background, canvas_size, interpolation=cv2.INTER_LINEAR)
        canvas_height, canvas_width = canvas.shape[:2]
        area = rng.uniform(0.08, 0.30) * canvas_width * canvas_height
        height, width = image.shape[:2]
        factor = math.sqrt(area / (width * height))
        factor = min(factor, 0.9 * canvas_width / width, 0.9 * canvas_height / height)
        work_size = (
            max(MIN_SIDE_PX, round(width * factor)),
            max(MIN_SIDE_PX, round(height * factor)),
        )
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        work = cv2.resize(image, work_size, interpolation=interpolation)
        left = rng.randint(0, canvas_width - work_size[0])
        top = rng.randint(0, canvas_height - work_size[1])
        out = np.array(canvas, dtype=np.uint8)
        out[top : top + work_size[1], left : left + work_size[0]] = work
        return out

    return paste


def heldout_families(backgrounds: Sequence[Path]) -> dict[str, Augmentation]:
    """Every DISC21-set family, then the three hard ones this set adds."""
    return {
        **FAMILIES,
        "paste_onto": paste_onto(backgrounds),
        "heavy_crop": heavy_crop,
        "downscale": downscale,
    }


def _cache_root(cache_dir: Path, size: HeldoutSize, seed: int) -> Path:
    key = (
        f"v{_FORMAT_VERSION}-seed{seed}-r{size.references}-q{size.queries_per_family}"
        f"-d{size.distractors}-x{size.max_extras}"
    )
    return cache_dir / f"heldout-{key}"


def _backgrounds(distractors: Sequence[SourceImage]) -> list[Path]:
    large: list[Path] = []
    for source in distractors:
        with Image.open(source.path) as opened:
            if min(opened.size) >= _MIN_BACKGROUND_SIDE_PX:
                large.append(source.path)
    if not large:
        raise BenchmarkSourceError("no held-out distractor is large enough to paste works onto")
    return large


def build_heldout(
    cache_dir: Path,
    size: HeldoutSize = HELDOUT_FULL_SIZE,
    *,
    seed: int = 0,
    sources: Sequence[SourceImage] | None = None,
    progress: Callable[[str], None] | None = None,
) -> HeldoutSet:
    """Build the held-out set under `cache_dir`, or reuse the one built there with the same seed."""
    root = _cache_root(cache_dir, size, seed)
    cached = read_manifest(root, _FORMAT_VERSION)
    if cached is not None:
        benchmark, manifest = cached
        cached_extras = read_references(root / "extras", manifest["extras"])
        if all(extra.path.is_file() for extra in cached_extras):
            files = tuple(Path(str(name)) for name in manifest["files_read"])
            return HeldoutSet(benchmark, cached_extras, files)
    pool = heldout_sources() if sources is None else tuple(sources)
    split = split_heldout(pool, size.references, seed)
    if not split.distractors and size.distractors:
        raise BenchmarkSourceError("no held-out sources left over for distractors")
    backgrounds = _backgrounds(split.distractors)
    families = heldout_families(backgrounds)
    for folder in ("references", "queries", "extras"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    if progress:
        progress(f"writing {len(split.references)} held-out references")
    references: list[Reference] = []
    pixels_by_work: dict[int, RGBImage] = {}
    for work_id, source in enumerate(split.references, start=1):
        pixels_by_work[work_id] = load_source(source.path)
        path = root / "references" / f"{work_id:05d}.png"
        save_png(pixels_by_work[work_id], path)
        references.append(Reference(work_id, source.name, path))
    extras: list[Reference] = []
    for work_id, source in enumerate(split.extras[: size.max_extras], start=len(references) + 1):
        path = root / "extras" / f"{work_id:05d}.png"
        save_png(load_source(source.path), path)
        extras.append(Reference(work_id, source.name, path))
    queries: list[Query] = []
    for family, augmentation in families.items():
        if progress:
            progress(f"writing {size.queries_per_family} held-out {family} copies")
        picks = query_rng(seed, f"heldout-pick:{family}").sample(
            references, min(size.queries_per_family, len(references))
        )
        for index, reference in enumerate(picks):
            query_id = f"{family}-{index:04d}"
            copy = augmentation(
                pixels_by_work[reference.work_id], query_rng(seed, f"heldout:{query_id}")
            )
            path = root / "queries" / f"{query_id}.png"
            save_png(copy, path)
            queries.append(Query(query_id, family, reference.source, path, reference.work_id))
    if progress:
        progress(f"writing {size.distractors} held-out distractors")
    # Distractors cycle through their sources in a seeded order, each shown plain or through one
    # family, every family (and plain) equally often, so they look like the copies do.
    order = list(split.distractors)
    query_rng(seed, "heldout-distractor-order").shuffle(order)
    looks = [DISTRACTOR_FAMILY, *families]
    query_rng(seed, "heldout-distractor-looks").shuffle(looks)
    for index in range(size.distractors):
        source = order[index % len(order)]
        query_id = f"distractor-{index:04d}"
        family = looks[index % len(looks)]
        pixels = load_source(source.path)
        if family != DISTRACTOR_FAMILY:
            pixels = families[family](pixels, query_rng(seed, f"heldout:{query_id}"))
        path = root / "queries" / f"{query_id}.png"
        save_png(pixels, path)
        queries.append(Query(query_id, family, source.name, path, None))
    used = (*split.references, *split.extras[: size.max_extras], *order[: size.distractors])
    files_read = sorted({source.path for source in used} | set(backgrounds))
    benchmark = BenchmarkSet(root, tuple(references), tuple(queries))
    write_manifest(
        root,
        _FORMAT_VERSION,
        benchmark,
        {
            "extras": [
                {"work_id": e.work_id, "source": e.source, "file": e.path.name} for e in extras
            ],
            "files_read": [str(path) for path in files_read],
        },
    )
    return HeldoutSet(benchmark, tuple(extras), tuple(files_read))
