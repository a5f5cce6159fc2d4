"""The complete embedding graph, image batch in, unit vectors out, as one torch module."""

from pathlib import Path

import torch
from torch import nn

from similarity.embedding.backbone import EfficientNetLite0, load_imagenet_backbone
from similarity.embedding.head import EmbeddingHead, HeadWeights

SHIPPED_HEAD_WEIGHTS = Path(__file__).parent / "weights" / "head.npz"


class EmbeddingNetwork(nn.Module):
    """Frozen EfficientNet-Lite0 features followed by the embedding head."""

    def __init__(self, backbone: EfficientNetLite0, head: EmbeddingHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    @property
    def dim(self) -> int:
        """Length of the embedding vectors."""
        return self.head.dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        embeddings: torch.Tensor = self.head(self.backbone.features(images))
        return embeddings


def load_network(head_weights: Path = SHIPPED_HEAD_WEIGHTS) -> EmbeddingNetwork:
    """ImageNet backbone plus the given head weights, in eval mode."""
    head = EmbeddingHead(HeadWeights.load(head_weights))
    return EmbeddingNetwork(load_imagenet_backbone(), head).eval()
