"""The demo's Find copies page on images nobody registered: almost none may be called a copy.

The queries come from Debian packages that nothing else in the product or its benchmarks reads
(not training, calibration or the held-out set): `adwaita-icon-theme` (icons),
`ukui-wallpapers` (photos and illustrations) and `lbreakout2-data` (game backgrounds and
sprites). `make system-deps` installs them.
"""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from rich.console import Console

from frontend.demo import load_demo
from frontend.services import Services

pytestmark = pytest.mark.pages_on_sqlite

# Package -> how many of its images to query, taken evenly from its sorted list.
QUERY_PACKAGES = {"adwaita-icon-theme": 30, "ukui-wallpapers": 12, "lbreakout2-data": 14}
MIN_QUERIES = 50
MIN_SIDE_PX = 64
# A false copy wrongs someone (an alert, a notice): one in fifty is the most the page may make.
MAX_FALSE_COPIES = 1


def package_images(package: str) -> list[Path]:
    """Regular image files dpkg records for a package, at least MIN_SIDE_PX a side, sorted."""
    listed = subprocess.run(  # fixed arguments, no shell
        ["dpkg-query", "-L", package],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    images = []
    for line in sorted(set(listed)):
        path = Path(line)
        if path.suffix.lower() not in {".png", ".jpg"} or path.is_symlink() or not path.is_file():
            continue
        if "symbolic" in path.name or "/legacy/" in line:
            continue
        with Image.open(path) as opened:
            if min(opened.size) >= MIN_SIDE_PX:
                images.append(path)
    return images


def never_registered_images() -> list[Path]:
    """Mixed icons, photos, illustrations and sprites; duplicates of one file name kept once."""
    chosen: list[Path] = []
    for package, count in QUERY_PACKAGES.items():
        seen_names: set[str] = set()
        distinct = []
        for path in package_images(package):
            if path.name not in seen_names:
                seen_names.add(path.name)
                distinct.append(path)
        step = max(1, len(distinct) // count)
        chosen.extend(distinct[::step][:count])
    return chosen


@pytest.mark.slow
# 56 searches with the fine pass: about a minute alone, many more on a machine shared by many runs.
@pytest.mark.timeout(1800)
def test_find_copies_calls_almost_no_never_registered_image_a_copy(
    client: TestClient, services: Services
) -> None:
    load_demo(services, Console(file=io.StringIO()))
    queries = never_registered_images()
    assert len(queries) >= MIN_QUERIES, (
        f"only {len(queries)} query images: install {', '.join(QUERY_PACKAGES)}"
    )
    decisions: dict[str, str] = {}
    for path in queries:
        response = client.post("/find", files={"file": (path.name, path.read_bytes())})
        assert response.status_code == 200, f"{path}: {response.status_code}"
        found = re.search(r'data-decision="([a-z_]+)"', response.text)
        assert found, f"{path}: the page shows no decision"
        decisions[str(path)] = found.group(1)
    false_copies = sorted(path for path, decision in decisions.items() if decision == "copy")
    assert len(false_copies) <= MAX_FALSE_COPIES, false_copies
    # The queries did reach the engine: the page decided every one of them.
    assert set(decisions.values()) <= {"copy", "possible", "no_match"}
    assert len(decisions) == len(queries)
