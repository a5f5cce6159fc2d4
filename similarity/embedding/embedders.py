"""Embedders: RGB uint8 images of any size -> (n, dim) float32 unit vectors.

`OnnxEmbedder` is the production path (onnxruntime on CPU, one intra-op thread: on small
machines parallelism across processes beats threads within one, and single-image latency with
several threads is erratic). `TorchEmbedder` runs the same graph eagerly and is the reference
the ONNX file is checked against.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import torch

from similarity.embedding.export import INPUT_NAME, cached_onnx_model
from similarity.embedding.network import SHIPPED_HEAD_WEIGHTS, EmbeddingNetwork, load_network
from similarity.embedding.preprocessing import to_network_input

DEFAULT_BATCH_SIZE = 16
# Measured on 2 cores, one intra-op thread: batch 1 ran ~80 images/s, 4 ~75, 16 ~48; a large
# batch's activations (96 x 112 x 112 floats per image early on) overflow the CPU caches.
DEFAULT_ONNX_BATCH_SIZE = 1


class TorchEmbedder:
    """Eager-mode reference embedder."""

    def __init__(
        self, network: EmbeddingNetwork | None = None, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        self._network = (network or load_network()).eval()
        self._batch_size = batch_size
        self.dim = self._network.dim

    def embed(self, images: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
        """(n, dim) float32, L2-normalised."""
        output = np.empty((len(images), self.dim), dtype=np.float32)
        for start in range(0, len(images), self._batch_size):
            batch = to_network_input(images[start : start + self._batch_size])
            with torch.inference_mode():
                output[start : start + len(batch)] = self._network(torch.from_numpy(batch)).numpy()
        return output


class OnnxEmbedder:
    """onnxruntime embedder over an exported model file."""

    def __init__(
        self, model_path: Path, batch_size: int = DEFAULT_ONNX_BATCH_SIZE, intra_op_threads: int = 1
    ) -> None:
        self.model_path = model_path
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._batch_size = batch_size
        self.dim = int(self._session.get_outputs()[0].shape[1])

    def embed(self, images: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
        """(n, dim) float32, L2-normalised."""
        output = np.empty((len(images), self.dim), dtype=np.float32)
        for start in range(0, len(images), self._batch_size):
            batch = to_network_input(images[start : start + self._batch_size])
            (vectors,) = self._session.run(None, {INPUT_NAME: batch})
            output[start : start + len(batch)] = vectors
        return output


def load_default_embedder(
    cache_dir: Path, head_weights: Path = SHIPPED_HEAD_WEIGHTS
) -> OnnxEmbedder:
    """The production embedder; exports the ONNX model into `cache_dir` on first use."""
    return OnnxEmbedder(cached_onnx_model(cache_dir, head_weights))
