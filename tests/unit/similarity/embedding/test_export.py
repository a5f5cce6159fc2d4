from pathlib import Path

import numpy as np

from similarity.embedding.export import cached_onnx_model, model_key
from similarity.embedding.head import HeadWeights
from similarity.embedding.network import SHIPPED_HEAD_WEIGHTS


def test_export_is_reused_from_the_cache(model_cache: Path) -> None:
    first = cached_onnx_model(model_cache)
    modified = first.stat().st_mtime_ns
    second = cached_onnx_model(model_cache)
    assert second == first
    assert second.stat().st_mtime_ns == modified


def test_cache_leaves_no_partial_files(model_cache: Path) -> None:
    cached_onnx_model(model_cache)
    assert not list(model_cache.glob("*.partial"))


def test_key_changes_with_the_head_weights(tmp_path: Path) -> None:
    weights = HeadWeights.load(SHIPPED_HEAD_WEIGHTS)
    changed = HeadWeights(
        gem_p=weights.gem_p,
        whitening_mean=weights.whitening_mean + np.float32(1e-3),
        whitening=weights.whitening,
        projection=weights.projection,
    )
    path = tmp_path / "head.npz"
    changed.save(path)
    assert model_key(path) != model_key(SHIPPED_HEAD_WEIGHTS)


def test_key_is_stable_for_the_same_weights() -> None:
    assert model_key(SHIPPED_HEAD_WEIGHTS) == model_key(SHIPPED_HEAD_WEIGHTS)
