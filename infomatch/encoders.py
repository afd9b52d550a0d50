"""Encoders: an MLP, the paper's MNIST ConvNet and ResNet-18 with a CIFAR stem.

Every encoder maps a batch of inputs ``(B, *input_shape)`` to raw, un-normalized features
``(B, dim)``; normalization belongs to :class:`infomatch.normalize.Normalize`.

Example:
    >>> import torch
    >>> enc = make_encoder("convnet", (1, 24, 24), dim=16)
    >>> enc(torch.rand(4, 1, 24, 24)).shape
    torch.Size([4, 16])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from infomatch._checks import check_choice, check_positive_int

ENCODERS = ("mlp", "convnet", "resnet18")


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list, torch.Size)) else ()
    if len(shape) not in (1, 3) or any(
        isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape
    ):
        raise ValueError(f"input_shape must be (F,) or (C, H, W) of positive ints; got {input_shape!r}")
    return shape


class MLPEncoder(nn.Module):
    """Flatten, then ``[Linear -> BatchNorm1d -> LeakyReLU(0.01)]`` per hidden size, then ``Linear(dim)``.

    Example:
        >>> MLPEncoder((1, 8, 8), dim=4, hidden=(32,))(torch.rand(3, 1, 8, 8)).shape
        torch.Size([3, 4])
    """

    def __init__(self, input_shape: Sequence[int], dim: int, hidden: Sequence[int] = (512, 512)) -> None:
        super().__init__()
        self.input_shape = _check_shape(input_shape)
        dim = check_positive_int("dim", dim)
        for h in hidden:
            check_positive_int("hidden", h)
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(self.input_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.LeakyReLU(0.01)]
            width = h
        layers.append(nn.Linear(width, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, *input_shape)`` -> ``(B, dim)``."""
        return self.net(x)


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` with channels-last strides that stay channels-last also for one channel (where
    ``x.contiguous(memory_format=torch.channels_last)`` keeps the ambiguous NCHW strides and the
    convolution then picks NCHW)."""
    if x.ndim != 4 or x.stride(1) == 1:
        return x
    b, c, h, w = x.shape
    return x.new_empty((b, h, w, c)).permute(0, 3, 1, 2).copy_(x)


class ConvNetEncoder(nn.Module):
    """The paper's MNIST encoder: 3 x [Conv3x3 (no padding) -> MaxPool2 -> BatchNorm2d ->
    LeakyReLU(0.01)] with 32, 64, 128 channels, then Linear(128, 128) -> LeakyReLU -> Linear(128, dim).

    On 24x24 inputs the convolutions end at 128x1x1 exactly; on larger inputs an adaptive average
    pool reduces the map to 1x1 (the smallest input that works is 22x22).

    ``channels_last`` (default True) runs the convolutions on a channels-last copy of the input
    (oneDNN's native layout; faster pooling and normalization on CPU, see BENCHMARKS.md). The
    weights keep their ordinary layout, so the state dict is unchanged.

    Example:
        >>> ConvNetEncoder((1, 24, 24), dim=8)(torch.rand(2, 1, 24, 24)).shape
        torch.Size([2, 8])
    """

    def __init__(self, input_shape: Sequence[int], dim: int, channels: Sequence[int] = (32, 64, 128),
                 channels_last: bool = True) -> None:
        super().__init__()
        self.channels_last = bool(channels_last)
        self.input_shape = _check_shape(input_shape)
        dim = check_positive_int("dim", dim)
        if len(self.input_shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W) for the convnet; got {input_shape!r}")
        c, h, w = self.input_shape
        size = min(h, w)
        for _ in channels:
            size = (size - 2) // 2
        if size < 1:
            raise ValueError(f"input_shape must be at least 22x22 for the convnet; got {input_shape!r}")
        layers: list[nn.Module] = []
        for out in channels:
            layers += [nn.Conv2d(c, out, 3), nn.MaxPool2d(2), nn.BatchNorm2d(out), nn.LeakyReLU(0.01)]
            c = out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(c, 128), nn.LeakyReLU(0.01), nn.Linear(128, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, dim)``."""
        if self.channels_last:
            x = _channels_last(x)
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convolutions with BatchNorm and a (projected) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18Encoder(nn.Module):
    """ResNet-18 with the CIFAR stem (3x3 conv, stride 1, no max-pool), global average pool and
    a ``Linear(512, dim)`` head. Written in plain ``torch.nn`` (no torchvision).

    Example:
        >>> ResNet18Encoder((3, 32, 32), dim=8)(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 8])
    """

    def __init__(self, input_shape: Sequence[int], dim: int, width: int = 64) -> None:
        super().__init__()
        self.input_shape = _check_shape(input_shape)
        dim = check_positive_int("dim", dim)
        width = check_positive_int("width", width)
        if len(self.input_shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W) for resnet18; got {input_shape!r}")
        self.stem = nn.Sequential(
            nn.Conv2d(self.input_shape[0], width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()
        )
        blocks: list[nn.Module] = []
        cin = width
        for i, mult in enumerate((1, 2, 4, 8)):
            cout = width * mult
            stride = 1 if i == 0 else 2
            blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(cin, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, dim)``."""
        return self.head(self.pool(self.layers(self.stem(x))))


def make_encoder(name: str, input_shape: Sequence[int], dim: int, **kwargs: object) -> nn.Module:
    """Build the encoder ``name`` (``mlp``, ``convnet``, ``resnet18``) for inputs ``input_shape``.

    Extra keyword arguments go to the class: ``hidden`` for the MLP, ``channels`` for the
    ConvNet, ``width`` for ResNet-18 (:func:`width_kwargs` scales all three at once).

    Example:
        >>> make_encoder("mlp", (10,), dim=3)(torch.rand(5, 10)).shape
        torch.Size([5, 3])
    """
    check_choice("name", name, ENCODERS)
    cls = {"mlp": MLPEncoder, "convnet": ConvNetEncoder, "resnet18": ResNet18Encoder}[name]
    return cls(input_shape, dim, **kwargs)  # type: ignore[arg-type]


#: the layer widths each encoder is built with at ``width = 1`` (see :func:`width_kwargs`)
BASE_WIDTHS: dict[str, dict[str, tuple[int, ...] | int]] = {
    "mlp": {"hidden": (512, 512)},
    "convnet": {"channels": (32, 64, 128)},
    "resnet18": {"width": 64},
}


def width_kwargs(name: str, width: float) -> dict[str, tuple[int, ...] | int]:
    """Keyword arguments of :func:`make_encoder` that scale every layer width of the encoder
    ``name`` by ``width`` (rounded, at least 1): the MLP's hidden sizes, the ConvNet's channels,
    ResNet-18's base width. ``width = 1`` gives the encoder's defaults.

    Example:
        >>> width_kwargs("mlp", 2)
        {'hidden': (1024, 1024)}
        >>> width_kwargs("convnet", 0.5)
        {'channels': (16, 32, 64)}
    """
    check_choice("name", name, ENCODERS)
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not math.isfinite(width) or width <= 0:
        raise ValueError(f"width must be a positive number; got {width!r}")
    out: dict[str, tuple[int, ...] | int] = {}
    for key, base in BASE_WIDTHS[name].items():
        if isinstance(base, tuple):
            out[key] = tuple(max(1, round(b * width)) for b in base)
        else:
            out[key] = max(1, round(base * width))
    return out


def default_encoder(input_shape: Sequence[int]) -> str:
    """The encoder name suited to ``input_shape``: ``mlp`` for tabular data and images up to
    12x12, ``convnet`` for other grey (or small) images, ``resnet18`` for colour images >= 32x32.

    Example:
        >>> default_encoder((1, 24, 24)), default_encoder((3, 32, 32)), default_encoder((64,))
        ('convnet', 'resnet18', 'mlp')
    """
    shape = _check_shape(input_shape)
    if len(shape) == 1 or max(shape[1:]) <= 12 or min(shape[1:]) < 22:
        return "mlp"
    if shape[0] >= 3 and min(shape[1:]) >= 32:
        return "resnet18"
    return "convnet"
