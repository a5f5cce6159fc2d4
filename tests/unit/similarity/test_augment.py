import random

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from similarity.augment import (
    FAMILIES,
    MIN_SIDE_PX,
    Augmentation,
    AugmentInputError,
    border,
    crop,
    embed_meme,
    hflip,
    jpeg,
    random_augment,
    rotate90,
    rotate270,
    vflip,
)

FAMILY_NAMES = sorted(FAMILIES)


def _photo(width: int = 96, height: int = 72, seed: int = 0) -> npt.NDArray[np.uint8]:
    """A textured image whose every pixel tells its own coordinates."""
    ys, xs = np.mgrid[0:height, 0:width]
    texture = np.random.default_rng(seed).integers(0, 64, (height, width))
    channels = (xs % 256, ys % 256, (xs * 3 + ys * 5 + texture) % 256)
    return np.stack(channels, axis=-1).astype(np.uint8)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_family_returns_an_rgb_uint8_image(name: str) -> None:
    out = FAMILIES[name](_photo(), random.Random(1))
    assert out.dtype == np.uint8
    assert out.ndim == 3
    assert out.shape[2] == 3
    assert min(out.shape[:2]) >= MIN_SIDE_PX


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_family_replays_exactly_from_its_seed(name: str) -> None:
    first = FAMILIES[name](_photo(), random.Random(42))
    second = FAMILIES[name](_photo(), random.Random(42))
    assert np.array_equal(first, second)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_family_changes_the_image(name: str) -> None:
    source = _photo()
    out = FAMILIES[name](source, random.Random(3))
    assert out.shape != source.shape or not np.array_equal(out, source)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_family_leaves_its_input_untouched(name: str) -> None:
    source = _photo()
    before = source.copy()
    FAMILIES[name](source, random.Random(5))
    assert np.array_equal(source, before)


def test_registry_offers_the_families_the_benchmark_reports() -> None:
    expected = {"crop", "hflip", "rotate_small", "jpeg", "overlay_text", "overlay_emoji"}
    expected |= {"embed_product", "embed_meme", "embed_screenshot", "combo"}
    assert expected <= set(FAMILIES)


@pytest.mark.parametrize(
    ("forward", "backward"), [(hflip, hflip), (vflip, vflip), (rotate90, rotate270)]
)
def test_dihedral_families_invert_exactly(forward: Augmentation, backward: Augmentation) -> None:
    source = _photo()
    rng = random.Random(0)
    assert np.array_equal(backward(forward(source, rng), rng), source)


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_crop_keeps_between_30_and_90_percent_of_the_area(seed: int) -> None:
    source = _photo(200, 160)
    out = crop(source, random.Random(seed))
    fraction = out.shape[0] * out.shape[1] / (200 * 160)
    assert 0.28 <= fraction <= 0.92


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_crop_is_an_unaltered_window_of_the_source(seed: int) -> None:
    source = _photo(200, 160)
    out = crop(source, random.Random(seed))
    left, top = int(out[0, 0, 0]), int(out[0, 0, 1])
    window = source[top : top + out.shape[0], left : left + out.shape[1]]
    assert np.array_equal(out, window)


def test_jpeg_keeps_the_size_and_loses_detail() -> None:
    source = _photo()
    out = jpeg(source, random.Random(2))
    assert out.shape == source.shape
    assert not np.array_equal(out, source)


def test_border_keeps_the_work_intact_inside_the_padding() -> None:
    source = _photo()
    out = border(source, random.Random(4))
    hits = np.argwhere((out[..., 0] == source[0, 0, 0]) & (out[..., 1] == source[0, 0, 1]))
    assert any(
        np.array_equal(out[y : y + source.shape[0], x : x + source.shape[1]], source)
        for y, x in hits
    )


def test_meme_keeps_the_work_between_its_caption_bars() -> None:
    source = _photo()
    out = embed_meme(source, random.Random(6))
    assert out.shape[1] == source.shape[1]
    assert out.shape[0] > source.shape[0]
    offsets = range(out.shape[0] - source.shape[0] + 1)
    assert any(np.array_equal(out[y : y + source.shape[0]], source) for y in offsets)


def test_random_augment_replays_from_its_seed() -> None:
    first = random_augment(_photo(), random.Random(9))
    second = random_augment(_photo(), random.Random(9))
    assert np.array_equal(first, second)


def test_random_augment_varies_with_the_seed() -> None:
    shapes = {random_augment(_photo(), random.Random(seed)).shape for seed in range(30)}
    assert len(shapes) > 5


@given(
    width=st.integers(MIN_SIDE_PX, 90),
    height=st.integers(MIN_SIDE_PX, 90),
    seed=st.integers(0, 2**32 - 1),
    name=st.sampled_from(FAMILY_NAMES),
)
@settings(max_examples=150, deadline=None)
def test_every_family_accepts_any_usable_size(
    width: int, height: int, seed: int, name: str
) -> None:
    out = FAMILIES[name](_photo(width, height, seed % 7), random.Random(seed))
    assert out.dtype == np.uint8
    assert out.shape[2] == 3
    assert min(out.shape[:2]) >= MIN_SIDE_PX


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((32, 32, 3), dtype=np.float32),
        np.zeros((32, 32), dtype=np.uint8),
        np.zeros((32, 32, 4), dtype=np.uint8),
        np.zeros((MIN_SIDE_PX - 1, 32, 3), dtype=np.uint8),
        np.zeros((0, 0, 3), dtype=np.uint8),
    ],
    ids=["float", "grey", "rgba", "too-small", "empty"],
)
@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_family_rejects_an_unusable_image(name: str, bad: npt.NDArray[np.generic]) -> None:
    with pytest.raises(AugmentInputError):
        FAMILIES[name](bad, random.Random(0))  # type: ignore[arg-type]


def test_rejection_names_the_problem() -> None:
    with pytest.raises(AugmentInputError, match=r"shape \(H, W, 3\)"):
        crop(np.zeros((32, 32), dtype=np.uint8), random.Random(0))
