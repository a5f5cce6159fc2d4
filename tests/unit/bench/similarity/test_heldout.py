import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from bench.similarity import heldout
from bench.similarity.dataset import DISTRACTOR_FAMILY, SourceImage, default_photos_dir, load_source
from bench.similarity.heldout import (
    CALIBRATION_PACKAGES,
    HELDOUT_PACKAGES,
    HELDOUT_QUICK_SIZE,
    HELDOUT_SOURCES,
    RESERVED_PACKAGES,
    HeldoutSet,
    build_heldout,
    distinct_sources,
    heldout_sources,
    package_files,
    split_heldout,
)
from similarity.augment import FAMILIES


@pytest.fixture(scope="module")
def read_paths() -> Iterator[list[Path]]:
    """Every file the held-out code decodes while the module's set is built from scratch."""
    recorded: list[Path] = []
    real_load = heldout.load_source

    def recording_load(path: Path) -> npt.NDArray[np.uint8]:
        recorded.append(Path(path))
        return real_load(path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(heldout, "load_source", recording_load)
        heldout_sources.cache_clear()
        yield recorded
    heldout_sources.cache_clear()


@pytest.fixture(scope="module")
def quick_set(tmp_path_factory: pytest.TempPathFactory, read_paths: list[Path]) -> HeldoutSet:
    return build_heldout(tmp_path_factory.mktemp("heldout"), HELDOUT_QUICK_SIZE, seed=3)


def _owners(paths: list[Path]) -> dict[Path, set[str]]:
    """Which installed Debian packages own each path, from dpkg's database."""
    listed = subprocess.run(
        ["dpkg-query", "-S", *sorted({str(p) for p in paths})],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    owners: dict[Path, set[str]] = {}
    for line in listed.splitlines():
        packages, _, path = line.partition(": ")
        owners.setdefault(Path(path), set()).update(p.strip() for p in packages.split(","))
    return owners


def _source_paths(built: HeldoutSet) -> list[Path]:
    benchmark = built.benchmark
    names = [r.source for r in (*benchmark.references, *built.extras)]
    names += [q.source for q in benchmark.queries]
    return [Path(name.split(":", 1)[1]) for name in names]


def test_every_file_read_belongs_to_a_held_out_package(
    quick_set: HeldoutSet, read_paths: list[Path]
) -> None:
    paths = [*read_paths, *quick_set.files_read, *_source_paths(quick_set)]
    assert read_paths
    owners = _owners(paths)
    assert set(owners) == set(paths)
    for path in paths:
        assert not path.is_symlink()
        assert owners[path] <= set(HELDOUT_PACKAGES), f"{path} is owned by {owners[path]}"


def test_reserved_and_calibration_packages_are_never_read(
    quick_set: HeldoutSet, read_paths: list[Path]
) -> None:
    forbidden = {*RESERVED_PACKAGES, *CALIBRATION_PACKAGES}
    assert not forbidden & set(HELDOUT_PACKAGES)
    paths = {*read_paths, *quick_set.files_read, *_source_paths(quick_set)}
    owners = _owners(sorted(paths))
    assert not any(owners[path] & forbidden for path in paths)
    for package in sorted(forbidden):
        assert not paths & set(package_files(package))
    # Nor is any file that some package other than the held-out ones shares a folder with.
    assert all("openclipart" not in str(path) and "/wallpapers/" not in str(path) for path in paths)


def test_every_held_out_source_gives_references(quick_set: HeldoutSet) -> None:
    sources = {r.source.split(":", 1)[0] for r in quick_set.benchmark.references}
    assert sources == set(HELDOUT_SOURCES)


def test_sizes_and_families_follow_the_request(quick_set: HeldoutSet) -> None:
    benchmark = quick_set.benchmark
    assert len(benchmark.references) == HELDOUT_QUICK_SIZE.references
    assert len(quick_set.extras) == HELDOUT_QUICK_SIZE.max_extras
    families = benchmark.families()
    assert set(families) == {*FAMILIES, "paste_onto", "heavy_crop", "downscale"}
    for family in families:
        copies = [q for q in benchmark.queries if q.family == family and q.reference_id]
        assert len(copies) == HELDOUT_QUICK_SIZE.queries_per_family
    distractors = [q for q in benchmark.queries if q.reference_id is None]
    assert len(distractors) == HELDOUT_QUICK_SIZE.distractors
    assert {q.family for q in distractors} > {DISTRACTOR_FAMILY}


def test_registered_works_and_distractors_share_no_group(quick_set: HeldoutSet) -> None:
    benchmark = quick_set.benchmark
    group = {s.name: s.group for s in heldout_sources()}
    registered = {group[r.source] for r in (*benchmark.references, *quick_set.extras)}
    distractors = {group[q.source] for q in benchmark.queries if q.reference_id is None}
    assert distractors
    assert not registered & distractors
    work_ids = [r.work_id for r in (*benchmark.references, *quick_set.extras)]
    assert len(set(work_ids)) == len(work_ids)


def test_build_replays_exactly_from_its_seed(quick_set: HeldoutSet, tmp_path: Path) -> None:
    again = build_heldout(tmp_path, HELDOUT_QUICK_SIZE, seed=3)
    first = json.loads((quick_set.benchmark.root / "manifest.json").read_text())
    second = json.loads((again.benchmark.root / "manifest.json").read_text())
    assert first == second
    pairs = zip(quick_set.benchmark.queries, again.benchmark.queries, strict=True)
    for one, other in pairs:
        assert one.path.read_bytes() == other.path.read_bytes()


def test_another_seed_picks_other_works(quick_set: HeldoutSet, tmp_path: Path) -> None:
    other = build_heldout(tmp_path, HELDOUT_QUICK_SIZE, seed=4)
    assert {r.source for r in other.benchmark.references} != {
        r.source for r in quick_set.benchmark.references
    }


def test_a_built_set_is_reused_from_the_cache(quick_set: HeldoutSet) -> None:
    manifest = quick_set.benchmark.root / "manifest.json"
    before = manifest.stat().st_mtime_ns
    reused = build_heldout(quick_set.benchmark.root.parent, HELDOUT_QUICK_SIZE, seed=3)
    assert reused == quick_set
    assert manifest.stat().st_mtime_ns == before


def _pool(groups: dict[str, int]) -> list[SourceImage]:
    return [
        SourceImage(f"{name.split(':')[0]}:/x/{name}-{i}.png", name, Path(f"/x/{name}-{i}.png"))
        for name, count in groups.items()
        for i in range(count)
    ]


def test_split_keeps_groups_whole_and_shares_references_by_package() -> None:
    pool = _pool({f"big:g{g}": 3 for g in range(30)} | {f"small:g{g}": 1 for g in range(8)})
    split = split_heldout(pool, 20, seed=0)
    sides = [split.references, split.distractors, split.extras]
    groups = [{s.group for s in side} for side in sides]
    assert len(split.references) == 20
    assert not groups[0] & groups[1]
    assert not groups[0] & groups[2]
    assert not groups[1] & groups[2]
    by_package = {p: sum(s.name.startswith(p) for s in split.references) for p in ("big", "small")}
    # In proportion to the square root of each package's size, at most half of a package.
    assert by_package["small"] == 4
    assert by_package["big"] == 16


def test_flips_and_quarter_turns_of_a_kept_source_are_dropped(tmp_path: Path) -> None:
    arrow = np.full((96, 96, 3), 255, dtype=np.uint8)
    arrow[40:56, 10:70] = (200, 30, 30)
    arrow[28:68, 70:76] = (200, 30, 30)
    arrow[34:62, 76:84] = (200, 30, 30)
    other = np.zeros((96, 96, 3), dtype=np.uint8)
    other[::8] = 255
    files = {"right": arrow, "up": np.rot90(arrow), "left": arrow[:, ::-1], "stripes": other}
    for name, pixels in files.items():
        Image.fromarray(np.ascontiguousarray(pixels)).save(tmp_path / f"{name}.png")
    kept = distinct_sources(("test", tmp_path / f"{name}.png") for name in files)
    assert [source.path.stem for source in kept] == ["right", "stripes"]


def test_a_derivative_of_a_kept_source_is_dropped(tmp_path: Path) -> None:
    photos = default_photos_dir()
    astronaut = load_source(photos / "astronaut.png")
    badged = astronaut.copy()
    badged[-90:, -90:] = (30, 120, 220)
    files = {"astronaut": astronaut, "astronaut-badged": badged}
    files["coffee"] = load_source(photos / "coffee.png")
    for name, pixels in files.items():
        Image.fromarray(pixels).save(tmp_path / f"{name}.png")
    kept = distinct_sources(("test", tmp_path / f"{name}.png") for name in files)
    assert [source.path.stem for source in kept] == ["astronaut", "coffee"]
