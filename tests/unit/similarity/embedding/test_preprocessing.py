import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from similarity.embedding.preprocessing import (
    INPUT_SIZE,
    UnsupportedImageError,
    to_network_input,
)


@settings(max_examples=30, deadline=None)
@given(height=st.integers(1, 700), width=st.integers(1, 700), fill=st.integers(0, 255))
def test_any_image_size_becomes_one_square_input(height: int, width: int, fill: int) -> None:
    image = np.full((height, width, 3), fill, dtype=np.uint8)
    batch = to_network_input([image])
    assert batch.shape == (1, 3, INPUT_SIZE, INPUT_SIZE)
    assert batch.dtype == np.float32
    np.testing.assert_allclose(batch, (fill - 127.0) / 128.0, atol=1e-6)


def test_whole_image_is_kept_not_cropped() -> None:
    image = np.zeros((100, 400, 3), dtype=np.uint8)
    image[:, :20] = 255  # a stripe at the far left, which a centre crop would drop
    batch = to_network_input([image])
    assert batch[0, :, :, 0].min() > 0.9


def test_channels_keep_rgb_order() -> None:
    image = np.zeros((50, 50, 3), dtype=np.uint8)
    image[..., 0] = 255
    batch = to_network_input([image])
    assert batch[0, 0].mean() > batch[0, 1].mean()


def test_empty_sequence_gives_empty_batch() -> None:
    assert to_network_input([]).shape == (0, 3, INPUT_SIZE, INPUT_SIZE)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((10, 10), dtype=np.uint8),
        np.zeros((10, 10, 4), dtype=np.uint8),
        np.zeros((10, 10, 3), dtype=np.float32),
        np.zeros((0, 10, 3), dtype=np.uint8),
    ],
    ids=["grayscale", "rgba", "float", "empty"],
)
def test_rejects_images_that_are_not_rgb_uint8(image: np.ndarray) -> None:
    with pytest.raises(UnsupportedImageError):
        to_network_input([image])


def test_rejection_names_the_offending_image() -> None:
    good = np.zeros((10, 10, 3), dtype=np.uint8)
    with pytest.raises(UnsupportedImageError, match="image 1"):
        to_network_input([good, np.zeros((10, 10), dtype=np.uint8)])
