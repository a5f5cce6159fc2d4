"""Embedding head on the backbone's last map: GeM pooling, PCA-whitening, projection, L2 norm.

The head's weights live in one `.npz` (`HeadWeights`); the shipped file is produced by
`python -m similarity.embedding.train`, which learns the whitening by PCA on its training corpus
and then trains the projection for copy detection. The output is always unit length.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.nn import functional

from similarity.embedding.backbone import FEATURE_CHANNELS

FloatArray = npt.NDArray[np.float32]
# Below this, GeM's x ** p underflows for the small ReLU6 activations.
_GEM_FLOOR = 1e-6


class HeadWeightsError(ValueError):
    """A head weights file is missing arrays or their shapes do not fit together."""


@dataclass(frozen=True)
class HeadWeights:
    """GeM exponent, whitening (hidden x 1280) with its mean, projection (dim x hidden)."""

    gem_p: float
    whitening_mean: FloatArray
    whitening: FloatArray
    projection: FloatArray

    def __post_init__(self) -> None:
        hidden = self.whitening.shape[0]
        expected = {
            "whitening_mean": (FEATURE_CHANNELS,),
            "whitening": (hidden, FEATURE_CHANNELS),
            "projection": (self.projection.shape[0], hidden),
        }
        for name, shape in expected.items():
            actual = getattr(self, name).shape
            if actual != shape:
                raise HeadWeightsError(f"{name} has shape {actual}, expected {shape}")
        if not self.gem_p >= 1.0:
            raise HeadWeightsError(f"GeM exponent {self.gem_p} is below 1")

    @property
    def dim(self) -> int:
        """Length of the embedding the head produces."""
        return int(self.projection.shape[0])

    def save(self, path: Path) -> None:
        """Write the weights as an uncompressed `.npz` (stable bytes for the export cache key)."""
        np.savez(
            path,
            gem_p=np.float32(self.gem_p),
            whitening_mean=self.whitening_mean,
            whitening=self.whitening,
            projection=self.projection,
        )

    @classmethod
    def load(cls, path: Path) -> "HeadWeights":
        """Read weights written by `save`; a missing array raises `HeadWeightsError`."""
        with np.load(path, allow_pickle=False) as arrays:
            try:
                return cls(
                    gem_p=float(arrays["gem_p"]),
                    whitening_mean=arrays["whitening_mean"].astype(np.float32),
                    whitening=arrays["whitening"].astype(np.float32),
                    projection=arrays["projection"].astype(np.float32),
                )
            except KeyError as missing:
                raise HeadWeightsError(f"{path} lacks the array {missing}") from None


def generalized_mean_pool(feature_map: torch.Tensor, p: float) -> torch.Tensor:
    """GeM over the spatial axes: p=1 is average pooling, large p tends to max pooling."""
    powered = feature_map.clamp(min=_GEM_FLOOR).pow(p)
    return powered.mean(dim=(2, 3)).pow(1.0 / p)


class EmbeddingHead(nn.Module):
    """(n, 1280, h, w) map -> (n, dim) unit vectors; `forward` is what the ONNX file computes."""

    def __init__(self, weights: HeadWeights) -> None:
        super().__init__()
        self.gem_p = weights.gem_p
        self.register_buffer("whitening_mean", torch.from_numpy(weights.whitening_mean.copy()))
        self.register_buffer("whitening", torch.from_numpy(weights.whitening.copy()))
        self.register_buffer("projection", torch.from_numpy(weights.projection.copy()))

    @property
    def dim(self) -> int:
        """Length of the embedding vectors."""
        return int(self.get_buffer("projection").shape[0])

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        pooled = generalized_mean_pool(feature_map, self.gem_p)
        whitened = (pooled - self.get_buffer("whitening_mean")) @ self.get_buffer("whitening").T
        return functional.normalize(whitened @ self.get_buffer("projection").T, dim=1)
