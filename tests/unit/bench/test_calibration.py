"""Calibration sources and the false-copy rate of never-registered images as the registry grows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.calibration import (
    PHOTO_DIR,
    CalibrationSplit,
    Observation,
    calibration_sources,
    calibration_split,
    false_copies_at,
    fit,
    registry_of,
    text_image,
)
from similarity.calibration import Evidence

RESERVED = ("openclipart", "plasma", "gnome-backgrounds", "gnome-icon-theme", "pingus",
            "lomiri", "frozen-bubble", "tuxpaint")  # fmt: skip

needs_sources = pytest.mark.skipif(
    not PHOTO_DIR.is_dir(), reason="calibration packages missing: run make system-deps"
)


@needs_sources
def test_no_calibration_source_comes_from_a_reserved_package() -> None:
    sources = calibration_sources(text_images=3)
    kinds = {source.kind for source in sources}
    assert kinds == {"photo", "icon", "illustration", "text"}
    for source in sources:
        assert not any(reserved in source.name.lower() for reserved in RESERVED), source.name


def test_rendered_text_images_are_the_same_every_time() -> None:
    assert np.array_equal(text_image(5), text_image(5))
    assert not np.array_equal(text_image(5)[:64, :64], text_image(6)[:64, :64])
    assert text_image(5).shape[2] == 3


def test_the_fit_keeps_every_weight_non_negative() -> None:
    def observation(positive: bool, score: float, distance: int, margin: float) -> Observation:
        return Observation(
            "q", "icon", positive, Evidence(score, False, distance, margin), 100_000, "w"
        )

    rows = [observation(True, 0.45, d, 0.2 + d / 100) for d in range(20)]
    # Look-alikes: embeddings higher than the copies', hashes far apart.
    rows += [observation(False, 0.6, 100 + d, 0.72 + d / 100) for d in range(20)]
    _intercept, weights = fit(rows, 100_000)
    assert all(weight >= 0 for weight in weights)
    assert weights[2] > 0  # the hash decides these


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> CalibrationSplit:
    cache = tmp_path_factory.mktemp("calibration")
    (cache / "models").symlink_to(model_cache, target_is_directory=True)
    return calibration_split(cache, text_images=150, log=lambda _message: None)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@needs_sources
def test_never_registered_images_are_rarely_copies_and_no_more_often_in_a_large_registry(
    split: CalibrationSplit,
) -> None:
    queries = split.never
    assert len(queries) >= 100
    small = false_copies_at(registry_of(split, 12), queries)
    large = false_copies_at(registry_of(split, 1_000), queries)
    assert small["false_copy_rate"] <= 0.01, small
    assert large["false_copy_rate"] <= 0.01, large
    # What grows with the registry is the best unrelated candidate a query meets: its look-alikes
    # turn into `possible` matches, never into copies.
    assert large["false_copies"] <= small["false_copies"] + 1, (small, large)
    assert large["possible_rate"] >= small["possible_rate"]
