"""ONNX export of the embedding network, cached on disk under a key derived from every weight.

The file name carries a SHA-256 over the backbone weights, the head weights and the graph
version, so a changed weight or graph can never be served from a stale file. Export writes to a
temporary name and renames, so concurrent processes sharing one cache directory never read a
half-written model.
"""

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import torch

from similarity.embedding.backbone import imagenet_weights_path
from similarity.embedding.network import SHIPPED_HEAD_WEIGHTS, load_network
from similarity.embedding.preprocessing import INPUT_SIZE

# Bump when the network's code changes what the exported graph computes.
GRAPH_VERSION = "efficientnet-lite0-gem-head-v1"
ONNX_OPSET = 17
INPUT_NAME = "images"
OUTPUT_NAME = "embeddings"


def model_key(head_weights: Path = SHIPPED_HEAD_WEIGHTS) -> str:
    """Hex SHA-256 identifying the graph and all its weights."""
    digest = hashlib.sha256(GRAPH_VERSION.encode())
    for path in (imagenet_weights_path(), head_weights):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def export_onnx(destination: Path, head_weights: Path = SHIPPED_HEAD_WEIGHTS) -> None:
    """Write the embedding network as ONNX with a dynamic batch axis."""
    network = load_network(head_weights)
    example = torch.zeros(2, 3, INPUT_SIZE, INPUT_SIZE)
    # The TorchScript exporter is used because the torch.export one needs onnxscript, which is
    # not a dependency; it warns that it is deprecated and about constant folding it skips. The
    # graph is still exact (the tests compare it with eager torch).
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        warnings.filterwarnings(
            "ignore", message=".*legacy TorchScript", category=DeprecationWarning
        )
        torch.onnx.export(
            network,
            (example,),
            str(destination),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )


def cached_onnx_model(cache_dir: Path, head_weights: Path = SHIPPED_HEAD_WEIGHTS) -> Path:
    """Path of the ONNX model in `cache_dir`, exporting it first if it is not there yet."""
    target = cache_dir / f"embedding-{model_key(head_weights)[:32]}.onnx"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=cache_dir, suffix=".onnx.partial")
    os.close(handle)
    try:
        export_onnx(Path(temporary), head_weights)
        # mkstemp creates the file owner-only; the model is no secret and other workers read it.
        Path(temporary).chmod(0o644)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return target
