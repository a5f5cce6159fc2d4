"""Turns RGB uint8 images of any size into the network's input batch; both runtimes share it.

The whole image is resized to 224 x 224, ignoring its aspect ratio, rather than centre-cropped:
a copy-detection embedding must see every pixel of the work (a crop would discard the very
border a copier might have kept), and a mild anisotropic squash changes the features far less
than losing content does. Pixels are scaled the way the Lite checkpoints were trained in
TensorFlow, (x - 127) / 128.
"""

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

INPUT_SIZE = 224
_PIXEL_MEAN = 127.0
_PIXEL_SCALE = 128.0


class UnsupportedImageError(ValueError):
    """An image handed to the embedder is not an RGB uint8 array of shape (h, w, 3)."""


def _check_rgb(image: npt.NDArray[np.uint8], position: int) -> None:
    if not isinstance(image, np.ndarray):
        raise UnsupportedImageError(f"image {position} is a {type(image).__name__}, not an array")
    if image.dtype != np.uint8:
        raise UnsupportedImageError(f"image {position} has dtype {image.dtype}, expected uint8")
    if image.ndim != 3 or image.shape[2] != 3:
        raise UnsupportedImageError(
            f"image {position} has shape {image.shape}, expected (height, width, 3) RGB"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise UnsupportedImageError(
            f"image {position} is empty ({image.shape[0]}x{image.shape[1]})"
        )


def resize_for_network(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Whole-image resize to the network's square input; area filter when shrinking."""
    height, width = image.shape[:2]
    shrinking = height * width >= INPUT_SIZE * INPUT_SIZE
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized = cv2.resize(
        np.ascontiguousarray(image), (INPUT_SIZE, INPUT_SIZE), interpolation=interpolation
    )
    return np.asarray(resized, dtype=np.uint8)


def to_network_input(images: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
    """(n, 3, 224, 224) float32 batch, channels first, scaled like the TensorFlow checkpoint."""
    batch = np.empty((len(images), 3, INPUT_SIZE, INPUT_SIZE), dtype=np.float32)
    for position, image in enumerate(images):
        _check_rgb(image, position)
        resized = resize_for_network(image).astype(np.float32)
        batch[position] = ((resized - _PIXEL_MEAN) / _PIXEL_SCALE).transpose(2, 0, 1)
    return batch
