"""Decoder networks from a representation ``z`` (prior space) back to the input.

- :class:`DeconvDecoder` for images ``(C, H, W)``: an MLP to a ``64 x ceil(H/4) x ceil(W/4)``
  feature map, two stride-2 transposed convolutions, cropped to ``(H, W)``; it returns pixel
  *logits* (pixels in [0, 1] are ``sigmoid(logits)``; trained with binary cross-entropy).
- :class:`MLPDecoder` for tabular rows ``(F,)``: an MLP on standardized features; it returns
  features on the data's scale (the per-feature mean and spread are buffers, set by
  :meth:`MLPDecoder.set_scale` from the training rows; trained with mean squared error on the
  standardized scale).

Example:
    >>> import torch
    >>> dec = make_decoder((1, 28, 28), "image", dim=16)
    >>> dec(torch.randn(5, 16)).shape
    torch.Size([5, 1, 28, 28])
    >>> make_decoder((10,), "tabular", dim=4)(torch.randn(3, 4)).shape
    torch.Size([3, 10])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from infomatch._checks import check_choice, check_positive_int


def _shape(input_shape: Sequence[int], kind: str) -> tuple[int, ...]:
    shape = tuple(int(s) for s in input_shape)
    want = 3 if kind == "image" else 1
    if len(shape) != want or any(s < 1 for s in shape):
        raise ValueError(f"input_shape must be {'(C, H, W)' if want == 3 else '(F,)'} of positive ints for "
                         f"kind {kind!r}; got {tuple(input_shape)!r}")
    return shape


class DeconvDecoder(nn.Module):
    """``z (B, dim)`` -> pixel logits ``(B, C, H, W)``.

    Example:
        >>> DeconvDecoder((1, 8, 8), dim=4)(torch.randn(2, 4)).shape
        torch.Size([2, 1, 8, 8])
    """

    def __init__(self, input_shape: Sequence[int], dim: int, hidden: int = 256, channels: int = 64) -> None:
        super().__init__()
        self.input_shape = _shape(input_shape, "image")
        self.dim = check_positive_int("dim", dim)
        check_positive_int("hidden", hidden)
        check_positive_int("channels", channels)
        c, h, w = self.input_shape
        self.base = (channels, math.ceil(h / 4), math.ceil(w / 4))
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.LeakyReLU(0.01),
            nn.Linear(hidden, math.prod(self.base)), nn.LeakyReLU(0.01),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(channels, channels // 2, 4, stride=2, padding=1),
            nn.BatchNorm2d(channels // 2), nn.LeakyReLU(0.01),
            nn.ConvTranspose2d(channels // 2, c, 4, stride=2, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, dim)`` -> logits ``(B, C, H, W)``."""
        x = self.deconv(self.mlp(z).view(len(z), *self.base))
        _, h, w = self.input_shape
        top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
        return x[..., top:top + h, left:left + w]

    @staticmethod
    def to_output(raw: torch.Tensor) -> torch.Tensor:
        """Network output -> pixels in [0, 1]."""
        return torch.sigmoid(raw)

    @staticmethod
    def loss(raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy of pixel logits against pixels in [0, 1], summed over pixels, batch mean."""
        return F.binary_cross_entropy_with_logits(raw, target, reduction="sum") / len(raw)


class MLPDecoder(nn.Module):
    """``z (B, dim)`` -> features ``(B, F)`` on the data's scale.

    Example:
        >>> dec = MLPDecoder((3,), dim=2)
        >>> dec.set_scale(torch.tensor([[0., 10, 5], [2, 30, 5]]))
        >>> dec.mean.tolist(), dec.scale.tolist()
        ([1.0, 20.0, 5.0], [1.0, 10.0, 1.0])
    """

    def __init__(self, input_shape: Sequence[int], dim: int, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        self.input_shape = _shape(input_shape, "tabular")
        self.dim = check_positive_int("dim", dim)
        layers: list[nn.Module] = []
        width = dim
        for h in hidden:
            layers += [nn.Linear(width, check_positive_int("hidden", h)), nn.LeakyReLU(0.01)]
            width = h
        layers.append(nn.Linear(width, self.input_shape[0]))
        self.net = nn.Sequential(*layers)
        self.register_buffer("mean", torch.zeros(self.input_shape[0]))
        self.register_buffer("scale", torch.ones(self.input_shape[0]))

    @torch.no_grad()
    def set_scale(self, x: torch.Tensor) -> None:
        """Store the per-feature mean and standard deviation of the training rows ``x`` (a constant
        feature gets spread 1)."""
        self.mean.copy_(x.mean(0))
        sd = x.std(0, unbiased=False)
        self.scale.copy_(torch.where(sd > 0, sd, torch.ones_like(sd)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, dim)`` -> standardized features ``(B, F)`` (see :meth:`to_output`)."""
        return self.net(z)

    def to_output(self, raw: torch.Tensor) -> torch.Tensor:
        """Standardized network output -> features on the data's scale."""
        return raw * self.scale + self.mean

    def loss(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean squared error on the standardized scale, summed over features, batch mean."""
        return ((raw - (target - self.mean) / self.scale) ** 2).sum() / len(raw)


def make_decoder(input_shape: Sequence[int], kind: str, dim: int) -> DeconvDecoder | MLPDecoder:
    """The decoder for data of ``kind`` (``"image"`` or ``"tabular"``) and ``input_shape``."""
    check_choice("kind", kind, ("image", "tabular"))
    if kind == "image":
        return DeconvDecoder(input_shape, dim)
    return MLPDecoder(input_shape, dim)
