"""Throughput of the embedders: images per second through ONNX Runtime and eager torch."""

import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from similarity.embedding.embedders import OnnxEmbedder, TorchEmbedder, load_default_embedder


def _images_per_second(
    embedder: OnnxEmbedder | TorchEmbedder, images: list[npt.NDArray[np.uint8]]
) -> float:
    embedder.embed(images[:2])  # warm-up: first runs allocate and pick kernels
    started = time.perf_counter()
    embedder.embed(images)
    return len(images) / (time.perf_counter() - started)


def benchmark_embedders(
    cache_dir: Path, images: int = 64, side: int = 224, torch_threads: int = 1
) -> dict[str, float]:
    """Images/s of the ONNX and torch paths on random `side`-px images, one thread each."""
    rng = np.random.default_rng(0)
    batch = [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(images)]
    onnx_rate = _images_per_second(load_default_embedder(cache_dir), batch)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    try:
        torch_rate = _images_per_second(TorchEmbedder(), batch)
    finally:
        torch.set_num_threads(previous_threads)
    return {
        "onnx_images_per_s": onnx_rate,
        "torch_images_per_s": torch_rate,
        "onnx_speedup": onnx_rate / torch_rate,
    }
