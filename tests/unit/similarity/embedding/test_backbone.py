import numpy as np
import numpy.typing as npt
import pytest
import torch

from similarity.embedding.backbone import FEATURE_CHANNELS, load_imagenet_backbone
from similarity.embedding.preprocessing import INPUT_SIZE, to_network_input

TABBY_AND_OTHER_DOMESTIC_CATS = range(281, 286)
# 504 coffee mug, 967 espresso, 968 cup
COFFEE_CLASSES = {504, 967, 968}


def _top_class(image: npt.NDArray[np.uint8]) -> int:
    network = load_imagenet_backbone()
    with torch.inference_mode():
        logits = network(torch.from_numpy(to_network_input([image])))
    return int(logits.argmax())


def test_unmodified_classifier_recognises_the_cat(cat: npt.NDArray[np.uint8]) -> None:
    assert _top_class(cat) in TABBY_AND_OTHER_DOMESTIC_CATS


def test_unmodified_classifier_recognises_the_coffee_cup(coffee: npt.NDArray[np.uint8]) -> None:
    assert _top_class(coffee) in COFFEE_CLASSES


@pytest.mark.parametrize("batch", [1, 3])
def test_last_map_has_1280_channels_at_stride_32(batch: int) -> None:
    network = load_imagenet_backbone()
    with torch.inference_mode():
        feature_map = network.features(torch.zeros(batch, 3, INPUT_SIZE, INPUT_SIZE))
    assert feature_map.shape == (batch, FEATURE_CHANNELS, INPUT_SIZE // 32, INPUT_SIZE // 32)
