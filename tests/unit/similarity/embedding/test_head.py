from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from similarity.embedding.backbone import FEATURE_CHANNELS
from similarity.embedding.head import (
    EmbeddingHead,
    HeadWeights,
    HeadWeightsError,
    generalized_mean_pool,
)


def _weights(hidden: int = 8, dim: int = 4, seed: int = 0) -> HeadWeights:
    rng = np.random.default_rng(seed)
    return HeadWeights(
        gem_p=3.0,
        whitening_mean=rng.normal(size=FEATURE_CHANNELS).astype(np.float32),
        whitening=rng.normal(size=(hidden, FEATURE_CHANNELS)).astype(np.float32),
        projection=rng.normal(size=(dim, hidden)).astype(np.float32),
    )


def test_head_dimension_is_the_projection_rows() -> None:
    assert EmbeddingHead(_weights(hidden=8, dim=5)).dim == 5


def test_weights_survive_a_save_and_load(tmp_path: Path) -> None:
    weights = _weights()
    weights.save(tmp_path / "head.npz")
    loaded = HeadWeights.load(tmp_path / "head.npz")
    assert loaded.gem_p == weights.gem_p
    np.testing.assert_array_equal(loaded.whitening, weights.whitening)
    np.testing.assert_array_equal(loaded.projection, weights.projection)


def test_mismatched_shapes_are_refused() -> None:
    weights = _weights()
    with pytest.raises(HeadWeightsError, match="whitening_mean"):
        HeadWeights(
            gem_p=3.0,
            whitening_mean=np.zeros(3, dtype=np.float32),
            whitening=weights.whitening,
            projection=weights.projection,
        )


def test_a_file_missing_an_array_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "head.npz", gem_p=np.float32(3.0))
    with pytest.raises(HeadWeightsError, match="lacks the array"):
        HeadWeights.load(tmp_path / "head.npz")


def test_gem_with_p_one_is_average_pooling() -> None:
    feature_map = torch.rand(2, 5, 7, 7) + 0.1
    pooled = generalized_mean_pool(feature_map, 1.0)
    torch.testing.assert_close(pooled, feature_map.mean(dim=(2, 3)))


def test_gem_with_large_p_approaches_max_pooling() -> None:
    feature_map = torch.rand(2, 5, 7, 7) + 0.1
    pooled = generalized_mean_pool(feature_map, 200.0)
    torch.testing.assert_close(pooled, feature_map.amax(dim=(2, 3)), rtol=0.05, atol=0.0)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(0.0, 6.0))
def test_head_output_is_unit_length(seed: int, scale: float) -> None:
    head = EmbeddingHead(_weights(seed=seed))
    generator = torch.Generator().manual_seed(seed)
    feature_map = torch.rand(3, FEATURE_CHANNELS, 7, 7, generator=generator) * scale
    with torch.no_grad():
        vectors = head(feature_map)
    torch.testing.assert_close(vectors.norm(dim=1), torch.ones(3))
