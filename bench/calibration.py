"""Fit `similarity/calibration.json` and measure false copies at several registry sizes.

Invariant: only calibration sources are read here, never an image that a benchmark or an outside
evaluation uses. The sources are Debian packages installed for this purpose and nothing else
(`make system-deps`): `mate-backgrounds` (photos), `lxde-icon-theme` (icons), `desktop-base`
(illustrations), plus text-heavy images rendered here with the DejaVu fonts. The Tux Paint
stamps (training background and benchmark), openclipart, the plasma and GNOME wallpapers and the
held-out benchmark's packages are never opened.

Sources are grouped (an icon's sizes and aliases, a wallpaper's resolutions, images whose PDQ
hashes lie within a few bits in any orientation) and whole groups are either registered or never
registered, chosen by a hash of the group's name, so a never-registered image is never a hidden
copy of a registered one.

- Positives: copies of registered images made by `similarity.augment`'s families, searched
  against the registry of real calibration images; the evidence for the true work.
- Negatives: never-registered images (plain and transformed) searched against registries of
  12 works, 1,000 works and 100,000 works; every candidate they get is unrelated. The large
  registries are the real images padded with synthetic works: each synthetic region vector is a
  renormalised mix of two real ones and each synthetic hash a bitwise cross of two real ones, so
  they lie among real works rather than far from everything as random vectors would.

Why the size matters: a never-registered query meets N unrelated works and its best candidate is
the maximum of N draws, which grows with N. p_copy must not know N, so its 0.99 level is placed
beyond the strongest unverified negative evidence seen at the largest size measured; then every
smaller registry does at least as well. Verification is tried on the top three candidates only,
whatever N, so its false-accept rate per query does not grow with N.

`python -m bench.calibration [--cache-dir DIR] [--write]` prints the figures as JSON; `--write`
also replaces the shipped parameter file.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import faiss
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from similarity.augment import FAMILIES
from similarity.calibration import SHIPPED_PARAMETERS, Calibration, Evidence
from similarity.engine import Fingerprint, SimilarityEngine
from similarity.hashes import PDQ_MIN_QUALITY, PdqHash
from similarity.images import LoadedImage
from similarity.matcher import COPY_PROBABILITY, Candidate, Match
from similarity.verify import QueryFeatures, extract, verify_features

RGBArray = npt.NDArray[np.uint8]
Kind = Literal["photo", "icon", "illustration", "text"]

PHOTO_DIR: Final = Path("/usr/share/backgrounds/mate")
ICON_DIR: Final = Path("/usr/share/icons/nuoveXT2")
ILLUSTRATION_DIRS: Final = (
    Path("/usr/share/desktop-base"),
    Path("/usr/share/plymouth/themes"),
    Path("/usr/share/icons/desktop-base"),
)
FONT_DIR: Final = Path("/usr/share/fonts/truetype/dejavu")
PACKAGES: Final = ("mate-backgrounds", "lxde-icon-theme", "desktop-base", "fonts-dejavu-core")
SIZES: Final = (12, 1_000, 100_000)
TEXT_IMAGES: Final = 900
MAX_SIDE: Final = 512
MIN_SIDE: Final = 64
# Groups whose name hashes to one of these first hex digits are never registered.
QUERY_DIGITS: Final = frozenset("0123")
NEAR_DUPLICATE_BITS: Final = 40
# Two region hashes this close are the same pixels (unrelated regions sit near 128 bits apart).
SHARED_PART_BITS: Final = 8
TOP_K: Final = 5
# Candidates verified per never-registered query when measuring ORB's false accepts directly.
VERIFY_PROBE: Final = 10
# The 0.99 level must lie this far (in log-odds) beyond the strongest unverified negative.
SAFETY_LOGIT: Final = 1.0


@dataclass(frozen=True, slots=True)
class Source:
    """One calibration image: its name, the group that moves as a whole, and its pixels."""

    name: str
    group: str
    kind: Kind
    load: Callable[[], RGBArray]


@dataclass(frozen=True, slots=True)
class Observation:
    """One (query, work) pair's evidence, whether it is a copy, and the query it came from."""

    query: str
    kind: Kind
    positive: bool
    evidence: Evidence
    size: int
    work: str = ""


def _flatten(image: Image.Image) -> RGBArray:
    rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    canvas.alpha_composite(rgba)
    canvas.thumbnail((MAX_SIDE, MAX_SIDE))
    return np.asarray(canvas.convert("RGB"), dtype=np.uint8)


def _file_loader(path: Path) -> Callable[[], RGBArray]:
    def load() -> RGBArray:
        with Image.open(path) as opened:
            opened.draft("RGB", (MAX_SIDE * 2, MAX_SIDE * 2))
            return _flatten(opened)

    return load


def _photos() -> Iterator[Source]:
    for path in sorted(PHOTO_DIR.rglob("*")):
        if path.suffix.lower() in {".jpg", ".jpeg", ".png"} and not path.is_symlink():
            # Elephants_3840x2160.jpg and Elephants.jpg are one picture.
            yield Source(
                f"photo:{path.relative_to(PHOTO_DIR)}",
                f"photo:{path.stem.split('_')[0]}",
                "photo",
                _file_loader(path),
            )


def _icons() -> Iterator[Source]:
    """The largest size of every icon; aliases (symlinks) resolve to one file."""
    best: dict[str, Path] = {}
    for path in sorted(ICON_DIR.rglob("*.png")):
        size = path.relative_to(ICON_DIR).parts[0]
        side = int(size.split("x")[0]) if "x" in size and size[0].isdigit() else 0
        target = path.resolve()
        key = f"{path.parent.name}/{path.stem}"
        current = best.get(key)
        if side >= 48 and (current is None or side > _icon_side(current)):
            best[key] = target
    seen: set[Path] = set()
    for key, target in sorted(best.items()):
        if target in seen:
            continue
        seen.add(target)
        yield Source(f"icon:{key}", f"icon:{target.stem}", "icon", _file_loader(target))


def _icon_side(path: Path) -> int:
    for part in path.parts:
        if "x" in part and part.split("x")[0].isdigit():
            return int(part.split("x")[0])
    return 0


def _illustrations() -> Iterator[Source]:
    for folder in ILLUSTRATION_DIRS:
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in {".png", ".jpg", ".jpeg"} or path.is_symlink():
                continue
            relative = path.relative_to(folder)
            # Login and look-and-feel previews are composites of the wallpapers and one shared
            # login box: copies of other sources, not works of their own.
            if {"login", "previews"} & set(relative.parts):
                continue
            # Every Debian swirl (emblems, boot logos, a theme's logo) is one artwork; otherwise a
            # theme's wallpaper, lock screen, boot menu and splash are one artwork.
            if any(word in path.stem for word in ("logo", "debian", "emblem")):
                group = "illustration:debian-logo"
            else:
                group = f"illustration:{relative.parts[0].removesuffix('-theme')}"
            yield Source(
                f"illustration:{folder.name}/{relative}",
                group,
                "illustration",
                _file_loader(path),
            )


# Ordinary vocabulary for the rendered text images.
_WORDS: Final = (
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "registry", "notice",
    "copyright", "licence", "terms", "payment", "invoice", "total", "amount", "due", "customer",
    "order", "number", "date", "page", "chapter", "section", "figure", "table", "summary",
    "report", "annual", "results", "revenue", "growth", "market", "share", "product", "design",
    "studio", "print", "shipping", "address", "phone", "email", "contact", "hours", "open",
    "monday", "friday", "weekend", "special", "offer", "sale", "percent", "discount", "member",
    "club", "event", "ticket", "concert", "festival", "venue", "city", "street", "avenue",
    "recipe", "flour", "sugar", "butter", "eggs", "minutes", "oven", "bake", "serve", "warm",
    "fresh", "garden", "spring", "summer", "autumn", "winter", "river", "mountain", "lake",
    "forest", "travel", "guide", "map", "station", "platform", "train", "bus",
)  # fmt: skip


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / name), size)


def text_image(index: int) -> RGBArray:
    """A text-heavy picture (document, poster, receipt, code, slide), the same for an index."""
    rng = random.Random(f"calibration-text-{index}")  # noqa: S311 - reproducible pictures
    layout = rng.choice(("document", "poster", "receipt", "code", "slide"))
    width, height = rng.randint(320, 640), rng.randint(320, 640)
    light = rng.random() < 0.75
    background = (
        tuple(rng.randint(225, 255) for _ in range(3))
        if light
        else tuple(rng.randint(0, 70) for _ in range(3))
    )
    ink = tuple(rng.randint(0, 60) for _ in range(3)) if light else (235, 235, 235)
    canvas = Image.new("RGB", (width, height), background)  # type: ignore[arg-type]
    draw = ImageDraw.Draw(canvas)
    fonts = {
        "document": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
        "poster": ("DejaVuSans-Bold.ttf", "DejaVuSansCondensed-Bold.ttf"),
        "receipt": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
        "code": ("DejaVuSansMono.ttf", "DejaVuSansMono-Oblique.ttf"),
        "slide": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    }[layout]
    body = {"document": 13, "poster": 40, "receipt": 14, "code": 12, "slide": 22}[layout]
    body = max(9, round(body * rng.uniform(0.8, 1.3)))
    y = rng.randint(8, 30)
    margin = rng.randint(10, 40)
    if layout in {"document", "slide", "poster"}:
        size = body * rng.choice((2, 2, 3)) if layout != "poster" else body * 2
        title = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 4))).title()
        draw.text((margin, y), title, font=_font(fonts[1], size), fill=ink)  # type: ignore[arg-type]
        y += round(size * 1.4)
    if layout == "slide" and rng.random() < 0.6:
        accent = tuple(rng.randint(0, 255) for _ in range(3))
        draw.rectangle((0, height - rng.randint(10, 40), width, height), fill=accent)  # type: ignore[arg-type]
    font = _font(fonts[0], body)
    while y < height - body - 8:
        indent = margin + (rng.randint(0, 6) * body if layout == "code" else 0)
        words: list[str] = []
        while True:
            candidate = " ".join([*words, rng.choice(_WORDS)])
            if draw.textlength(candidate, font=font) > width - indent - margin:
                break
            words = candidate.split()
        line = " ".join(words) if layout != "receipt" else _receipt_line(rng, width, font, draw)
        if layout == "document" and rng.random() < 0.12:
            line = ""
        draw.text((indent, y), line, font=font, fill=ink)  # type: ignore[arg-type]
        y += round(body * rng.uniform(1.25, 1.6))
        if layout == "poster" and rng.random() < 0.3:
            break
    return np.asarray(canvas, dtype=np.uint8)


def _receipt_line(
    rng: random.Random, width: int, font: ImageFont.FreeTypeFont, draw: ImageDraw.ImageDraw
) -> str:
    item = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))
    price = f"{rng.randint(1, 250)}.{rng.randint(0, 99):02d}"
    line = f"{item} {price}"
    while draw.textlength(line + " ", font=font) < width - 60:
        line = line.replace(f" {price}", f"  {price}", 1)
    return line


def _texts(count: int) -> Iterator[Source]:
    for index in range(count):
        yield Source(f"text:{index}", f"text:{index}", "text", functools.partial(text_image, index))


def calibration_sources(text_images: int = TEXT_IMAGES) -> list[Source]:
    """Every calibration image; raises when a calibration package is missing."""
    missing = [
        folder for folder in (PHOTO_DIR, ICON_DIR, FONT_DIR, *ILLUSTRATION_DIRS[:1])
        if not folder.is_dir()
    ]  # fmt: skip
    if missing:
        raise RuntimeError(
            f"calibration sources missing ({', '.join(map(str, missing))}): "
            f"apt-get install {' '.join(PACKAGES)}"
        )
    return [*_photos(), *_icons(), *_illustrations(), *_texts(text_images)]


def _digit(group: str) -> str:
    return hashlib.sha256(group.encode("utf-8")).hexdigest()[0]


class _Groups:
    """Union-find over source names: near-duplicates end up in one group."""

    def __init__(self, names: Sequence[str]) -> None:
        self._parent = {name: name for name in names}

    def find(self, name: str) -> str:
        while self._parent[name] != name:
            self._parent[name] = self._parent[self._parent[name]]
            name = self._parent[name]
        return name

    def union(self, first: str, second: str) -> None:
        a, b = self.find(first), self.find(second)
        if a != b:
            self._parent[max(a, b)] = min(a, b)


@dataclass(slots=True)
class _Loaded:
    source: Source
    rgb: RGBArray
    fingerprint: Fingerprint
    group: str = ""


def _load_all(
    sources: Sequence[Source], engine: SimilarityEngine, log: Callable[[str], None]
) -> list[_Loaded]:
    loaded: list[_Loaded] = []
    digests: set[bytes] = set()
    for number, source in enumerate(sources):
        rgb = source.load()
        if min(rgb.shape[:2]) < MIN_SIDE:
            continue
        digest = hashlib.sha256(rgb.tobytes()).digest()
        if digest in digests:
            continue
        digests.add(digest)
        loaded.append(_Loaded(source, rgb, engine.fingerprint(rgb)))
        if number % 200 == 0:
            log(f"fingerprinted {number}/{len(sources)}")
    # Sources that share artwork share a group: the same file at several sizes, near-duplicates
    # in any orientation (a mirrored arrow, a recoloured emblem), icons named for the same thing
    # (drive-harddisk, gnome-dev-harddisk-usb) and sources with an identical sub-image (an icon
    # theme composes its icons from shared parts: one speaker, one folder, one floppy).
    groups = _Groups([item.source.name for item in loaded])
    by_key: dict[str, str] = {}
    for item in loaded:
        for key in (item.source.group, *_name_tokens(item.source)):
            groups.union(by_key.setdefault(key, item.source.name), item.source.name)
    wholes = np.stack([np.unpackbits(item.fingerprint.pdq.as_array()) for item in loaded])
    for item in loaded:
        for variant in item.fingerprint.pdq_dihedral:
            distances = np.count_nonzero(wholes != np.unpackbits(variant.as_array()), axis=1)
            for other in np.flatnonzero(distances <= NEAR_DUPLICATE_BITS):
                groups.union(item.source.name, loaded[int(other)].source.name)
    owners, regions = _region_rows(loaded)
    parts = faiss.IndexBinaryFlat(256)
    parts.add(regions)
    limits, _distances, neighbours = parts.range_search(regions, SHARED_PART_BITS + 1)
    for row in range(len(regions)):
        for other in neighbours[limits[row] : limits[row + 1]]:
            groups.union(loaded[owners[row]].source.name, loaded[owners[int(other)]].source.name)
    for item in loaded:
        item.group = groups.find(item.source.name)
    return loaded


_GENERIC_TOKENS: Final = frozenset({
    "gnome", "dev", "fs", "application", "applications", "text", "image", "audio", "video",
    "stock", "emblem", "go", "view", "document", "edit", "format", "media", "system",
    "preferences", "desktop", "package", "mime", "type", "new",
})  # fmt: skip


def _name_tokens(source: Source) -> list[str]:
    if source.kind != "icon":
        return []
    stem = source.name.rsplit("/", 1)[-1]
    words = stem.replace("_", "-").split("-")
    return [f"icon-word:{word}" for word in words if len(word) > 2 and word not in _GENERIC_TOKENS]


def _region_rows(loaded: Sequence[_Loaded]) -> tuple[list[int], npt.NDArray[np.uint8]]:
    """(owner index, packed bits) of every region hash with enough structure to mean anything."""
    owners: list[int] = []
    rows: list[npt.NDArray[np.uint8]] = []
    for index, item in enumerate(loaded):
        fingerprint = item.fingerprint
        quality = fingerprint.region_pdq_quality
        for row, bits in enumerate(fingerprint.region_pdq):
            if quality is None or quality[row] >= PDQ_MIN_QUALITY:
                owners.append(index)
                rows.append(bits)
    return owners, np.ascontiguousarray(np.stack(rows), dtype=np.uint8)


def _synthetic_fingerprints(
    real: Sequence[Fingerprint], count: int, seed: int
) -> Iterator[Fingerprint]:
    """Works that lie among the real ones: mixed vectors and crossed hashes of random pairs."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        first, second = (real[int(i)] for i in rng.choice(len(real), 2, replace=False))
        regions = min(first.reference_count, second.reference_count)
        if first.embeddings is None or second.embeddings is None:
            raise ValueError("synthetic works need real works with embeddings")
        weight = rng.uniform(0.3, 0.7)
        vectors = weight * first.embeddings[:regions] + (1 - weight) * second.embeddings[:regions]
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        mask = rng.random((regions, 32 * 8)) < weight
        bits = np.where(
            mask,
            np.unpackbits(first.region_pdq[:regions], axis=1),
            np.unpackbits(second.region_pdq[:regions], axis=1),
        )
        region_pdq = np.packbits(bits.astype(np.uint8), axis=1)
        quality = np.minimum(
            first.region_pdq_quality[:regions]
            if first.region_pdq_quality is not None
            else np.full(regions, 100, np.uint8),
            second.region_pdq_quality[:regions]
            if second.region_pdq_quality is not None
            else np.full(regions, 100, np.uint8),
        )
        whole = PdqHash(bytes(region_pdq[0]), int(quality[0]))
        yield Fingerprint(
            phash=first.phash,
            dhash=first.dhash,
            pdq=whole,
            pdq_dihedral=(whole,) * 8,
            boxes=first.boxes[:regions],
            reference_count=regions,
            region_pdq=region_pdq,
            embeddings=vectors.astype(np.float32),
            mirrored_embedding=vectors[:1].astype(np.float32),
            region_pdq_quality=quality.astype(np.uint8),
        )


def _engine(
    directory: Path,
    embedder: Any,
    works: dict[int, _Loaded],
    synthetic: Sequence[Fingerprint],
) -> SimilarityEngine:
    originals = {work_id: item.rgb for work_id, item in works.items()}
    engine = SimilarityEngine(directory, embedder, originals.get)
    first_synthetic = max(works, default=0) + 1
    engine.rebuild(
        [
            *((work_id, item.fingerprint) for work_id, item in works.items()),
            *((first_synthetic + i, fingerprint) for i, fingerprint in enumerate(synthetic)),
        ]
    )
    return engine


def _evidence(match: Match) -> Evidence:
    # A verified match's score carries the verification bonus: the model wants the evidence
    # before it, which the candidate rebuilt from the match's own evidence gives.
    candidate = Candidate(match.work_id, match.hash_distance, match.embedding_margin)
    return candidate.evidence(match.verified)


def _name(works: dict[int, _Loaded], match: Match) -> str:
    item = works.get(match.work_id)
    return "synthetic" if item is None else item.source.name


def _probe(features: QueryFeatures, reference: RGBArray) -> tuple[int, int, bool]:
    """(inliers of a plausible homography or 0, keypoint matches, verified) for one pair."""
    outcome = verify_features(features, extract(reference))
    inliers = outcome.inliers if outcome.region is not None else 0
    return inliers, outcome.matches, outcome.verified


def _transformed(rgb: RGBArray, rng: random.Random) -> tuple[str, RGBArray]:
    family = rng.choice(sorted(FAMILIES))
    return family, FAMILIES[family](rgb, rng)


def _query(rgb: RGBArray) -> LoadedImage:
    height, width = rgb.shape[:2]
    return LoadedImage(rgb, "PNG", width, height, "image/png")


@dataclass(frozen=True, slots=True)
class CalibrationSplit:
    """The calibration images fingerprinted, split into registered works and never-registered."""

    embedder: Any
    work_dir: Path
    scratch: SimilarityEngine
    loaded: list[_Loaded]
    works: dict[int, _Loaded]
    never: list[_Loaded]


def calibration_split(
    cache_dir: Path, text_images: int, log: Callable[[str], None]
) -> CalibrationSplit:
    """Load, fingerprint, group and split every calibration source (minutes: one network pass
    per image)."""
    from similarity.embedding import load_default_embedder

    embedder = load_default_embedder(cache_dir / "models")
    work_dir = Path(tempfile.mkdtemp(prefix="calibration-", dir=cache_dir))
    scratch = SimilarityEngine(work_dir / "scratch", embedder, lambda _: None)
    loaded = _load_all(calibration_sources(text_images), scratch, log)
    registered = [item for item in loaded if _digit(item.group) not in QUERY_DIGITS]
    never = [item for item in loaded if _digit(item.group) in QUERY_DIGITS]
    log(f"{len(loaded)} images: {len(registered)} registered, {len(never)} never registered")
    works = {number + 1: item for number, item in enumerate(registered)}
    return CalibrationSplit(embedder, work_dir, scratch, loaded, works, never)


def registry_of(split: CalibrationSplit, size: int, seed: int = 0) -> SimilarityEngine:
    """An engine holding `size` works: a sample of the real ones, or all of them padded with
    synthetic works beyond that."""
    works = split.works
    if size <= len(works):
        sampler = random.Random(f"{seed}-{size}")  # noqa: S311 - reproducible sampling
        chosen_ids = sorted(sampler.sample(sorted(works), size))
        chosen = {work_id: works[work_id] for work_id in chosen_ids}
        synthetic: list[Fingerprint] = []
    else:
        chosen = works
        real = [item.fingerprint for item in works.values()]
        synthetic = list(_synthetic_fingerprints(real, size - len(works), seed))
    return _engine(split.work_dir / f"size-{size}", split.embedder, chosen, synthetic)


def false_copies_at(engine: SimilarityEngine, queries: Sequence[_Loaded]) -> dict[str, float]:
    """How many never-registered queries the engine itself decides `copy` (shipped parameters)."""
    decided = [
        engine.decide(engine.search(item.fingerprint, top_k=TOP_K, image=_query(item.rgb)))
        for item in queries
    ]
    false_copies = sum(decision == "copy" for decision in decided)
    return {
        "queries": len(decided),
        "false_copies": false_copies,
        "false_copy_rate": false_copies / max(1, len(decided)),
        "possible_rate": sum(decision == "possible" for decision in decided) / max(1, len(decided)),
    }


def collect(
    cache_dir: Path,
    *,
    seed: int = 0,
    sizes: Sequence[int] = SIZES,
    text_images: int = TEXT_IMAGES,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Search every calibration query; return the observations and ORB's negative inliers."""
    split = calibration_split(cache_dir, text_images, log)
    embedder, work_dir, scratch = split.embedder, split.work_dir, split.scratch
    works, never, loaded = split.works, split.never, split.loaded
    registered = list(works.values())
    rng = random.Random(seed)  # noqa: S311 - reproducible copies, not secrets

    # Negative queries: each never-registered image plain and once transformed.
    negatives: list[tuple[str, Kind, RGBArray]] = []
    for item in never:
        negatives.append((item.source.name, item.source.kind, item.rgb))
        family, copy = _transformed(item.rgb, rng)
        negatives.append((f"{item.source.name}~{family}", item.source.kind, copy))
    negative_prints = [(name, kind, rgb, scratch.fingerprint(rgb)) for name, kind, rgb in negatives]

    observations: list[Observation] = []
    missed: list[str] = []
    for size in sizes:
        started = time.perf_counter()
        engine = registry_of(split, size, seed)
        for name, kind, rgb, fingerprint in negative_prints:
            for match in engine.search(fingerprint, top_k=TOP_K, image=_query(rgb)):
                observations.append(
                    Observation(name, kind, False, _evidence(match), size, _name(works, match))
                )
        log(f"size {size}: {len(negative_prints)} negative queries in "
            f"{time.perf_counter() - started:.0f} s")  # fmt: skip

    # Positives against every real registered work; ORB probed beyond the engine's top three.
    engine = _engine(work_dir / "real", embedder, works, [])
    positive_inliers: list[tuple[int, int, bool]] = []
    for work_id, item in works.items():
        family, copy = _transformed(item.rgb, rng)
        name = f"{item.source.name}~{family}"
        matches = [m for m in engine.search(copy, top_k=TOP_K) if m.work_id == work_id]
        observations.extend(
            Observation(name, item.source.kind, True, _evidence(m), len(works), item.source.name)
            for m in matches
        )
        if not matches:
            missed.append(name)
        # What ORB makes of every true pair, found or not: the acceptance threshold's recall.
        positive_inliers.append(_probe(QueryFeatures(copy), item.rgb))
    log(f"{len(works)} positive queries, {len(missed)} missed")
    negative_inliers: list[tuple[int, int, bool]] = []
    for *_, rgb, fingerprint in negative_prints:
        features = QueryFeatures(rgb)
        negative_inliers.extend(
            _probe(features, works[match.work_id].rgb)
            for match in engine.search(fingerprint, top_k=VERIFY_PROBE)
        )
    log(f"ORB probed on {len(negative_inliers)} negative pairs")
    return {
        "observations": observations,
        "verify_inliers": negative_inliers,
        "positive_inliers": positive_inliers,
        "missed_positives": missed,
        "registered": len(registered),
        "never_registered": len(never),
        "kinds": {
            kind: sum(1 for item in loaded if item.source.kind == kind)
            for kind in ("photo", "icon", "illustration", "text")
        },
    }


def fit(observations: Sequence[Observation], negative_size: int) -> tuple[float, tuple[float, ...]]:
    """Non-negative logistic regression on unverified pairs: (intercept, weights by FEATURES)."""
    rows = [
        o
        for o in observations
        if not o.evidence.verified and (o.positive or o.size == negative_size)
    ]
    x = np.array([o.evidence.features() for o in rows], dtype=np.float64)
    x = np.delete(x, 1, axis=1)  # constant here: verified pairs get the floor instead
    y = np.array([1.0 if o.positive else 0.0 for o in rows])
    weight = np.where(y == 1, 0.5 / max(1, y.sum()), 0.5 / max(1, (1 - y).sum()))
    # Newton's method on an active set: a weight that wants to go negative is pinned at 0 and the
    # rest refitted, so that more evidence never lowers p_copy.
    active = list(range(x.shape[1]))
    while True:
        theta = _newton(np.column_stack([np.ones(len(x)), x[:, active]]), y, weight)
        if all(value >= 0 for value in theta[1:]) or not active:
            break
        active.pop(int(np.argmin(theta[1:])))
    weights = [0.0] * x.shape[1]
    for position, column in enumerate(active):
        weights[column] = float(theta[1 + position])
    # Balanced classes give the slopes; the prior is then corrected to the odds of a copy among
    # the candidates a registry actually returns (a few in a hundred), so that a pair with no
    # evidence gets a probability near that, not near a half.
    prior = math.log(max(1.0, y.sum()) / max(1.0, (1 - y).sum()))
    return float(theta[0]) + prior, (weights[0], 0.0, weights[1], weights[2])


def _newton(
    design: npt.NDArray[np.float64], y: npt.NDArray[np.float64], weight: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Weighted logistic regression with a small ridge (no penalty on the intercept)."""
    theta = np.zeros(design.shape[1])
    ridge = np.full(design.shape[1], 1e-4)
    ridge[0] = 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-(design @ theta)))
        gradient = design.T @ (weight * (p - y)) + ridge * theta
        hessian = (design * (weight * p * (1 - p))[:, None]).T @ design + np.diag(ridge + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if float(np.abs(step).max()) < 1e-9:
            break
    return theta


def false_copy_rates(
    observations: Sequence[Observation], calibration: Calibration
) -> dict[int, dict[str, float]]:
    """Per registry size: the share of never-registered queries decided `copy`, and how many."""
    rates: dict[int, dict[str, float]] = {}
    for size in sorted({o.size for o in observations if not o.positive}):
        queries: dict[str, bool] = {}
        for o in observations:
            if o.positive or o.size != size:
                continue
            is_copy = o.evidence.verified or calibration.p_copy(o.evidence) >= COPY_PROBABILITY
            queries[o.query] = queries.get(o.query, False) or is_copy
        rates[size] = {
            "queries": len(queries),
            "false_copies": sum(queries.values()),
            "false_copy_rate": sum(queries.values()) / max(1, len(queries)),
        }
    return rates


def calibrate(collected: dict[str, Any], sizes: Sequence[int] = SIZES) -> dict[str, Any]:
    """Fit the model, place its 0.99 level beyond the largest registry's negatives, report."""
    observations: list[Observation] = collected["observations"]
    largest = max(sizes)
    intercept, weights = fit(observations, largest)
    # The 0.99 level goes SAFETY_LOGIT beyond the strongest unverified negative at any size, and
    # beyond the most that embedding evidence alone can reach (score and margin saturate at 1):
    # the best of N look-alikes grows with N, so a look-alike must never be enough by itself.
    strongest = max(
        (
            intercept + sum(w * f for w, f in zip(weights, o.evidence.features(), strict=True))
            for o in observations
            if not o.positive and not o.evidence.verified
        ),
        default=-math.inf,
    )
    look_alike_ceiling = intercept + weights[0] + weights[3]
    target = math.log(COPY_PROBABILITY / (1 - COPY_PROBABILITY))
    shift = min(0.0, target - SAFETY_LOGIT - max(strongest, look_alike_ceiling))
    # ORB's false accepts: never-registered queries against their ten nearest real works (the
    # engine only ever tries three), and the engine's own verdicts at every size.
    probes = [tuple(probe) for probe in collected["verify_inliers"]]
    false_verified = sum(1 for o in observations if not o.positive and o.evidence.verified)
    false_verified += sum(1 for probe in probes if probe[2])
    tried = len(probes) + sum(1 for o in observations if not o.positive)
    floor = 1.0 - max(3.0 / max(1, tried), false_verified / max(1, tried))
    positives = [o for o in observations if o.positive]
    calibration = Calibration(
        intercept=intercept + shift,
        weights=weights,
        verified_floor=round(floor, 4),
        fitted_on=tuple(
            sorted(
                {
                    "sources": ", ".join(PACKAGES) + " (rendered text)",
                    "registered_images": collected["registered"],
                    "never_registered_images": collected["never_registered"],
                    "positive_pairs": len(positives),
                    "negative_pairs": sum(1 for o in observations if not o.positive),
                    "intercept_before_shift": round(intercept, 4),
                    "largest_registry": largest,
                }.items()
            )
        ),
    )
    rates = false_copy_rates(observations, calibration)
    recall = {
        "positives": len(positives),
        "verified": sum(o.evidence.verified for o in positives) / max(1, len(positives)),
        "decided_copy": sum(
            o.evidence.verified or calibration.p_copy(o.evidence) >= COPY_PROBABILITY
            for o in positives
        )
        / max(1, len(positives)),
    }
    return {
        "calibration": json.loads(calibration.to_json()),
        "false_copy_rates": rates,
        "recall_on_found_copies": recall,
        "orb_negative_pairs_probed": len(probes),
        "orb_negative_probes_verified": sum(1 for probe in probes if probe[2]),
        "orb_negative_inliers_max": max((probe[0] for probe in probes), default=0),
        "orb_false_verified": false_verified,
        "orb_true_pairs_verified": sum(1 for p in collected["positive_inliers"] if p[2])
        / max(1, len(collected["positive_inliers"])),
        "kinds": collected["kinds"],
        "_calibration": calibration,
    }


def read_dump(path: Path) -> dict[str, Any]:
    """The observations a `--dump` kept, for fitting again without searching again."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    *rows, probes, summary = lines
    observations = [
        Observation(
            row["query"],
            row["kind"],
            row["positive"],
            Evidence(row["score"], row["verified"], row["hash_distance"], row["embedding_margin"]),
            row["size"],
            row["work"],
        )
        for row in rows
    ]
    return {
        "observations": observations,
        "verify_inliers": probes["verify_inliers"],
        "positive_inliers": probes["positive_inliers"],
        **summary,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench.calibration [--cache-dir DIR] [--write]`."""
    parser = argparse.ArgumentParser(prog="python -m bench.calibration", description=__doc__)
    parser.add_argument("--cache-dir", type=Path, default=Path("var/benchmark"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--text-images", type=int, default=TEXT_IMAGES)
    parser.add_argument("--write", action="store_true", help="replace the shipped parameters")
    parser.add_argument("--dump", type=Path, help="keep the raw observations as JSON lines")
    parser.add_argument("--refit", type=Path, help="fit again from a --dump, searching nothing")
    arguments = parser.parse_args(argv)
    arguments.cache_dir.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if arguments.refit:
        collected = read_dump(arguments.refit)
    else:
        collected = collect(
            arguments.cache_dir,
            seed=arguments.seed,
            sizes=arguments.sizes,
            text_images=arguments.text_images,
            log=log,
        )
    if arguments.dump:
        with arguments.dump.open("w", encoding="utf-8") as out:
            for o in collected["observations"]:
                out.write(
                    json.dumps(
                        {
                            "query": o.query,
                            "kind": o.kind,
                            "positive": o.positive,
                            "size": o.size,
                            "score": o.evidence.score,
                            "verified": o.evidence.verified,
                            "hash_distance": o.evidence.hash_distance,
                            "embedding_margin": o.evidence.embedding_margin,
                            "work": o.work,
                        }
                    )
                    + "\n"
                )
            out.write(
                json.dumps(
                    {
                        "verify_inliers": collected["verify_inliers"],
                        "positive_inliers": collected["positive_inliers"],
                    }
                )
                + "\n"
            )
            summary = ("missed_positives", "registered", "never_registered", "kinds")
            out.write(json.dumps({key: collected[key] for key in summary}) + "\n")
    report = calibrate(collected, arguments.sizes)
    calibration: Calibration = report.pop("_calibration")
    if arguments.write:
        SHIPPED_PARAMETERS.write_text(calibration.to_json(), encoding="utf-8")
    sys.stdout.write(json.dumps(report, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
