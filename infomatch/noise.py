"""Noise injection: the second half of NINE's recipe.

Independent noise per coordinate, added in training mode only: N(0, scale^2) for the Gaussian
base (``scale`` is sigma), U[-scale, scale] for the uniform base (``scale`` is eps).
``scale == 0`` is plain Deep InfoMax (no noise). In evaluation mode the input is returned
unchanged: the representation used downstream is the clean one.

Example:
    >>> import torch
    >>> noise = NoiseInjection("uniform", scale=0.1)
    >>> z = torch.zeros(1000, 4)
    >>> bool(noise(z).abs().max() <= 0.1)
    True
    >>> torch.equal(noise.eval()(z), z)
    True
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from infomatch._checks import check_choice, check_matrix, check_nonnegative

__all__ = ["NoiseInjection"]

KINDS = ("gaussian", "uniform")


class NoiseInjection(nn.Module):
    """Add N(0, scale^2) (``kind="gaussian"``) or U[-scale, scale] (``kind="uniform"``) noise.

    Args:
        kind: ``"gaussian"`` or ``"uniform"``.
        scale: sigma (Gaussian) or eps (uniform), ``>= 0``; ``0`` disables the noise.

    Shapes:
        ``forward(z: (B, d), generator=None) -> (B, d)``. Noise is drawn in float32 (or
        float64 for float64 input) and added in the input's dtype; pass a ``torch.Generator``
        for reproducible noise (e.g. a fixed draw in a gradient check).
    """

    def __init__(self, kind: str = "gaussian", scale: float = 1.0) -> None:
        super().__init__()
        self.kind = check_choice("kind", kind, KINDS)
        self.scale = check_nonnegative("scale", scale)

    def sample(self, shape: tuple[int, ...], *, dtype: torch.dtype = torch.float32,
               device: torch.device | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """Draw a noise tensor of ``shape`` (independent of training mode)."""
        work = torch.float64 if dtype == torch.float64 else torch.float32
        if self.kind == "gaussian":
            eps = torch.randn(shape, generator=generator, dtype=work, device=device)
            return (eps * self.scale).to(dtype)
        u = torch.rand(shape, generator=generator, dtype=work, device=device)
        return ((2.0 * u - 1.0) * self.scale).to(dtype)

    def forward(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        check_matrix("z", z, finite=False)
        if not self.training or self.scale == 0:
            return z
        return z + self.sample(tuple(z.shape), dtype=z.dtype, device=z.device, generator=generator)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, scale={self.scale}"
