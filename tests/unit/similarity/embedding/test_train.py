import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from similarity.embedding.train import evaluate, fit_whitening


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_whitened_training_descriptors_have_identity_covariance(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(1280, 1280)).astype(np.float32)
    descriptors = (rng.normal(size=(400, 1280)) @ mixing).astype(np.float32)
    mean, whitening = fit_whitening(descriptors, 16)
    whitened = (descriptors - mean) @ whitening.T
    np.testing.assert_allclose(np.cov(whitened, rowvar=False), np.eye(16), atol=1e-2)


def test_evaluation_counts_a_query_right_when_its_source_is_nearest() -> None:
    references = np.eye(3, dtype=np.float32)
    queries = np.array([[1, 0, 0], [0, 0.6, 0.8], [0, 0.8, 0.6]], dtype=np.float32)
    result = evaluate(references, queries, np.array([0, 1, 1]), ["jpeg", "crop", "crop"])
    assert result.top1 == 2 / 3
    assert result.top1_by_family["jpeg"] == 1.0
    assert result.top1_by_family["crop"] == 0.5
