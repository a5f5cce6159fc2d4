import io

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from similarity.embedding.embedders import OnnxEmbedder, TorchEmbedder
from similarity.embedding.preprocessing import UnsupportedImageError

Embedder = OnnxEmbedder | TorchEmbedder
RGB = npt.NDArray[np.uint8]


def _jpeg_copy(image: RGB, quality: int, scale: float) -> RGB:
    height, width = image.shape[:2]
    resized = Image.fromarray(image).resize((round(width * scale), round(height * scale)))
    buffer = io.BytesIO()
    resized.save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


@pytest.fixture(params=["onnx", "torch"])
def embedder(
    request: pytest.FixtureRequest, onnx_embedder: OnnxEmbedder, torch_embedder: TorchEmbedder
) -> Embedder:
    return onnx_embedder if request.param == "onnx" else torch_embedder


def test_onnx_and_torch_give_the_same_vectors(
    onnx_embedder: OnnxEmbedder, torch_embedder: TorchEmbedder, photos: list[RGB]
) -> None:
    from_onnx = onnx_embedder.embed(photos)
    from_torch = torch_embedder.embed(photos)
    np.testing.assert_allclose(from_onnx, from_torch, atol=2e-4)


def test_vectors_are_unit_length_float32_of_the_declared_dim(
    embedder: Embedder, photos: list[RGB]
) -> None:
    vectors = embedder.embed(photos)
    assert vectors.shape == (len(photos), embedder.dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_dimension_is_at_most_256(embedder: Embedder) -> None:
    assert 0 < embedder.dim <= 256


def test_empty_input_gives_an_empty_matrix(embedder: Embedder) -> None:
    assert embedder.embed([]).shape == (0, embedder.dim)


def test_batching_does_not_change_a_vector(onnx_embedder: OnnxEmbedder, photos: list[RGB]) -> None:
    together = onnx_embedder.embed(photos * 5)
    alone = onnx_embedder.embed(photos[1:2])
    np.testing.assert_allclose(together[len(photos) + 1], alone[0], atol=1e-5)


@pytest.mark.parametrize(("quality", "scale"), [(40, 0.5), (75, 1.3), (20, 0.8)])
def test_recompressed_resized_copy_is_closer_than_an_unrelated_image(
    embedder: Embedder, quality: int, scale: float, cat: RGB, coffee: RGB
) -> None:
    original, unrelated = cat, coffee
    copy = _jpeg_copy(original, quality, scale)
    vectors = embedder.embed([original, copy, unrelated])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


@settings(max_examples=10, deadline=None)
@given(height=st.integers(1, 900), width=st.integers(1, 900), seed=st.integers(0, 2**32 - 1))
def test_any_image_size_embeds_to_a_finite_unit_vector(
    onnx_embedder: OnnxEmbedder, height: int, width: int, seed: int
) -> None:
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    vector = onnx_embedder.embed([image])[0]
    assert np.isfinite(vector).all()
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_flat_image_embeds_to_a_finite_unit_vector(onnx_embedder: OnnxEmbedder) -> None:
    vector = onnx_embedder.embed([np.zeros((64, 64, 3), dtype=np.uint8)])[0]
    assert np.isfinite(vector).all()
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


def test_rejects_a_grayscale_array(onnx_embedder: OnnxEmbedder) -> None:
    with pytest.raises(UnsupportedImageError):
        onnx_embedder.embed([np.zeros((32, 32), dtype=np.uint8)])
