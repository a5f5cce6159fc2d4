"""CNN embedding for copy detection: EfficientNet-Lite0 (ImageNet) + GeM + whitening + head.

`load_default_embedder(cache_dir)` is the production embedder (ONNX Runtime on CPU, the model
exported into `cache_dir` on first use); `TorchEmbedder` is the eager reference. Both map RGB
uint8 arrays of any size to (n, 256) float32 unit vectors.
"""

from similarity.embedding.embedders import OnnxEmbedder, TorchEmbedder, load_default_embedder
from similarity.embedding.preprocessing import UnsupportedImageError

__all__ = ["OnnxEmbedder", "TorchEmbedder", "UnsupportedImageError", "load_default_embedder"]
