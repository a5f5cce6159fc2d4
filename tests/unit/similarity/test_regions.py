from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from skimage import data

from similarity.embedding.embedders import OnnxEmbedder
from similarity.embedding.export import cached_onnx_model
from similarity.regions import (
    Box,
    FeatureMapEmbedder,
    content_box,
    map_window,
    query_regions,
    reference_regions,
    sliding_windows,
)

ASTRONAUT = data.astronaut()


def test_reference_regions_start_with_the_whole_frame() -> None:
    regions = reference_regions(ASTRONAUT)
    assert regions[0] == Box(0, 0, 512, 512)
    assert len(regions) == 6


def test_content_box_trims_uniform_padding() -> None:
    padded = np.full((700, 900, 3), 250, np.uint8)
    padded[100:612, 200:712] = ASTRONAUT
    assert Box(200, 100, 712, 612).iou(content_box(padded)) > 0.97


def test_query_regions_isolate_a_pasted_work() -> None:
    rng = np.random.default_rng(0)
    canvas = rng.integers(200, 230, (900, 1200, 3)).astype(np.uint8)
    canvas[200:712, 300:812] = ASTRONAUT
    target = Box(300, 200, 812, 712)
    assert max(box.iou(target) for box in query_regions(canvas)) > 0.9


def test_regions_stay_inside_the_image() -> None:
    tall = np.ascontiguousarray(ASTRONAUT[:, :40])
    for box in query_regions(tall):
        assert 0 <= box.left < box.right <= 40
        assert 0 <= box.top < box.bottom <= 512


def test_map_window_covers_the_box_in_cells() -> None:
    assert map_window(Box(0, 0, 512, 512), 512, 512, 7) == (0, 0, 7, 7)
    assert map_window(Box(256, 0, 512, 256), 512, 512, 14) == (7, 0, 14, 7)


@given(st.integers(1, 20), st.lists(st.integers(1, 20), min_size=1, max_size=4))
def test_sliding_windows_stay_inside_the_map(cells: int, sizes: list[int]) -> None:
    for left, top, right, bottom in sliding_windows(cells, sizes):
        assert 0 <= left < right <= cells
        assert 0 <= top < bottom <= cells


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cached_onnx_model(tmp_path_factory.mktemp("model"))


def test_whole_frame_pooling_reproduces_the_embedder(onnx_model: Path) -> None:
    regions = FeatureMapEmbedder.from_model_file(onnx_model)
    assert regions is not None
    whole = regions.embed_boxes(ASTRONAUT, [Box(0, 0, 512, 512)])
    np.testing.assert_allclose(whole, OnnxEmbedder(onnx_model).embed([ASTRONAUT]), atol=1e-4)


def test_region_vectors_are_unit_and_distinct(onnx_model: Path) -> None:
    regions = FeatureMapEmbedder.from_model_file(onnx_model)
    assert regions is not None
    vectors = regions.embed_boxes(ASTRONAUT, reference_regions(ASTRONAUT), side=448)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert float(vectors[2] @ vectors[5]) < 0.95


def test_a_model_without_a_pooling_head_is_refused(tmp_path: Path) -> None:
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Relu", ["x"], ["y"])],
        "plain",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 8, 8])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    onnx.save(onnx.helper.make_model(graph), str(tmp_path / "plain.onnx"))
    assert FeatureMapEmbedder.from_model_file(tmp_path / "plain.onnx") is None
