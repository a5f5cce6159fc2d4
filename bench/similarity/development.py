"""Development set: the held-out set's families and metrics on the calibration packages' images.

Changes to ranking are tuned here, never on the held-out set (`bench.similarity.heldout`), which
is measured once per change. The images are the calibration data of `bench.calibration` (the
engine's decision is fitted on them anyway, and no evaluation reads them): `lxde-icon-theme`'s
128 px icons, `mate-backgrounds` photos and `desktop-base` illustrations, without its login and
preview composites. They are de-duplicated, grouped and split exactly as the held-out sources.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from bench.similarity.heldout import (
    HeldoutSet,
    HeldoutSize,
    build_heldout,
    distinct_sources,
    package_files,
)

ICON_DIR: Final = Path("/usr/share/icons/nuoveXT2/128x128")
DEVELOPMENT_PACKAGES: Final = ("mate-backgrounds", "desktop-base")
DEVELOPMENT_SIZE: Final = HeldoutSize(
    references=45, queries_per_family=12, distractors=100, max_extras=0
)


def development_files() -> Iterator[tuple[str, Path]]:
    """(source, file) of every development image, in a stable order."""
    for path in sorted(ICON_DIR.rglob("*.png")):
        if not path.is_symlink():
            yield "lxde-icon-theme", path
    for package in DEVELOPMENT_PACKAGES:
        for path in package_files(package):
            if not {"login", "previews"} & set(path.parts):
                yield package, path


def build_development(
    cache_dir: Path, *, seed: int = 0, progress: Callable[[str], None] | None = None
) -> HeldoutSet:
    """Build the development set under its own folder of `cache_dir` (or reuse it)."""
    return build_heldout(
        cache_dir / "development",
        DEVELOPMENT_SIZE,
        seed=seed,
        sources=distinct_sources(development_files()),
        progress=progress,
    )
