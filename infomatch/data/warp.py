"""One random affine warp per image that does a crop's offset and an affine jitter in one resampling.

``RandomWarp`` draws, per sample, a crop offset (an integer window of a zero-padded image, or
a continuous translation around the center), a rotation, an isotropic scale and an x-shear,
composes them into one ``2 x 3`` pixel matrix and resamples once with kornia's
``warp_affine`` (bilinear, zero padding). The parameter ranges are those of
``kornia.augmentation.RandomCrop`` + ``RandomAffine``; what differs is the cost: kornia's
augmentation modules spend most of their time in per-call bookkeeping, which dominates on
small images (256 8x8 digits: 8.6 ms against 2.7 ms for this warp, 3.2x; 1,024 MNIST crops: 1.7-2.2x;
``benchmarks/bench_warp.py``, BENCHMARKS.md "Views").

Randomness comes from torch's global RNG, like kornia's modules (``ViewMaker`` forks and seeds it).

Example:
    >>> import torch
    >>> warp = RandomWarp((8, 8), (8, 8), padding=1, offset="random", degrees=10.0)
    >>> v = warp(torch.rand(4, 1, 8, 8))
    >>> tuple(v.shape)
    (4, 1, 8, 8)
"""

from __future__ import annotations

import math

import torch
from kornia.geometry.transform import warp_affine
from torch import nn

from infomatch._checks import check_choice, check_nonnegative

OFFSETS = ("random", "affine", "center")


class RandomWarp(nn.Module):
    """Random crop offset + rotation + scale + x-shear as one bilinear warp.

    Args:
        input_hw: ``(H, W)`` of the input images.
        output_hw: ``(h, w)`` of the output (the crop).
        padding: zero padding around the input before an ``offset="random"`` crop.
        offset: ``"random"``: the window's top-left corner is uniform over the integer offsets
            of the padded input (``RandomCrop``); ``"affine"``: a continuous offset uniform within
            ``slack`` times half the margin around the center window (at ``slack = 0`` the
            center window, the integer offset ``(H - h) // 2`` of the evaluation's center crop);
            ``"center"``: the center window.
        slack: in [0, 1], for ``offset="affine"``.
        degrees: rotation uniform in ``[-degrees, degrees]`` about the output's center.
        scale: isotropic scale uniform in ``(lo, hi)``; None for none.
        shear: x-shear angle uniform in ``[-shear, shear]`` degrees.

    Example:
        >>> import torch
        >>> x = torch.rand(2, 1, 28, 28)
        >>> RandomWarp((28, 28), (24, 24), offset="random", degrees=10.0, scale=(0.9, 1.1), shear=5.0)(x).shape
        torch.Size([2, 1, 24, 24])
    """

    def __init__(self, input_hw: tuple[int, int], output_hw: tuple[int, int], *, padding: int = 0,
                 offset: str = "center", slack: float = 1.0, degrees: float = 0.0,
                 scale: tuple[float, float] | None = None, shear: float = 0.0) -> None:
        super().__init__()
        check_choice("offset", offset, OFFSETS)
        check_nonnegative("padding", padding)
        check_nonnegative("degrees", degrees)
        check_nonnegative("shear", shear)
        if not 0.0 <= slack <= 1.0:
            raise ValueError(f"slack must be in [0, 1]; got {slack!r}")
        if scale is not None and not (0 < scale[0] <= scale[1]):
            raise ValueError(f"scale must be (lo, hi) with 0 < lo <= hi; got {scale!r}")
        (h, w), (ch, cw) = input_hw, output_hw
        if not (1 <= ch <= h + 2 * padding and 1 <= cw <= w + 2 * padding):
            raise ValueError(f"output_hw {output_hw} does not fit in input_hw {input_hw} with padding {padding}")
        self.input_hw, self.output_hw = (int(h), int(w)), (int(ch), int(cw))
        self.padding, self.offset, self.slack = int(padding), offset, float(slack)
        self.degrees, self.scale, self.shear = float(degrees), scale, float(shear)

    def _offsets(self, n: int) -> torch.Tensor:
        """``(n, 2)`` top-left corners ``(x, y)`` of the windows, in input pixel coordinates."""
        (h, w), (ch, cw) = self.input_hw, self.output_hw
        if self.offset == "random":
            p = self.padding
            ox = torch.randint(0, w + 2 * p - cw + 1, (n,))
            oy = torch.randint(0, h + 2 * p - ch + 1, (n,))
            return torch.stack([ox, oy], 1).float() - p
        # the evaluation transform's center crop (integer offset), then up to slack x half the margin
        center = torch.tensor([float((w - cw) // 2), float((h - ch) // 2)])
        if self.offset == "center" or self.slack == 0.0:
            return center.expand(n, 2).clone()
        half_margin = torch.tensor([(w - cw) / 2.0, (h - ch) / 2.0])
        return center + (torch.rand(n, 2) * 2 - 1) * self.slack * half_margin

    def matrices(self, n: int) -> torch.Tensor:
        """``(n, 2, 3)`` source-to-output pixel matrices (one draw of the random parameters)."""
        offset = self._offsets(n)
        theta = (torch.rand(n) * 2 - 1) * math.radians(self.degrees)
        s = torch.ones(n)
        if self.scale is not None and self.scale != (1.0, 1.0):
            lo, hi = self.scale
            s = lo + torch.rand(n) * (hi - lo)
        k = torch.tan((torch.rand(n) * 2 - 1) * math.radians(self.shear))
        cos, sin = torch.cos(theta) * s, torch.sin(theta) * s
        # A = R(theta) S(s) [[1, k], [0, 1]]
        a = torch.stack([torch.stack([cos, cos * k - sin], 1), torch.stack([sin, sin * k + cos], 1)], 1)
        ch, cw = self.output_hw
        c = torch.tensor([(cw - 1) / 2.0, (ch - 1) / 2.0])
        # output q = A (s - offset - c) + c for a source pixel s
        t = c - (a @ (offset + c).unsqueeze(-1)).squeeze(-1)
        return torch.cat([a, t.unsqueeze(-1)], dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C, h, w)``, fresh parameters per row."""
        m = self.matrices(x.shape[0]).to(device=x.device, dtype=x.dtype)
        return warp_affine(x, m, self.output_hw, mode="bilinear", padding_mode="zeros", align_corners=True)

    def extra_repr(self) -> str:
        return (f"input_hw={self.input_hw}, output_hw={self.output_hw}, padding={self.padding}, offset={self.offset!r}, "
                f"slack={self.slack}, degrees={self.degrees}, scale={self.scale}, shear={self.shear}")
