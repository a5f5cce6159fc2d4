import numpy as np
from skimage import data

from similarity.regions import Box, content_box, query_regions, reference_regions

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
