"""Shared, expensive objects for the embedding tests: the network and one ONNX export."""

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from skimage import data

from similarity.embedding.embedders import OnnxEmbedder, TorchEmbedder, load_default_embedder


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def onnx_embedder(model_cache: Path) -> OnnxEmbedder:
    return load_default_embedder(model_cache)


@pytest.fixture(scope="session")
def torch_embedder() -> TorchEmbedder:
    return TorchEmbedder()


def bundled_photo(name: str) -> npt.NDArray[np.uint8]:
    """One of scikit-image's bundled RGB photos by name."""
    return np.asarray(getattr(data, name)(), dtype=np.uint8)


@pytest.fixture(scope="session")
def photos() -> list[npt.NDArray[np.uint8]]:
    """Bundled photos of different sizes and aspect ratios."""
    return [bundled_photo(name) for name in ("chelsea", "coffee", "astronaut", "rocket")]


@pytest.fixture(scope="session")
def cat() -> npt.NDArray[np.uint8]:
    """A tabby cat photo (ImageNet classes 281-285)."""
    return bundled_photo("chelsea")


@pytest.fixture(scope="session")
def coffee() -> npt.NDArray[np.uint8]:
    """A cup of coffee photo (ImageNet classes 504, 967, 968)."""
    return bundled_photo("coffee")
