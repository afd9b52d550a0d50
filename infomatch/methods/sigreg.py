"""``sigreg``: InfoNCE plus LeJEPA's sketched isotropic Gaussian regularizer (SIGReg).

Balestriero and LeCun, "LeJEPA: Provable and Scalable Self-Supervised Learning Without the
Heuristics", arXiv 2511.08544, 2025. SIGReg projects the embeddings ``z`` ``(n, d)`` on random
unit directions ``a_k`` (fresh each step) and averages, over the directions, the Epps-Pulley
statistic of the 1-D projection ``x = z a_k`` against N(0, 1):

    EP(x) = n * integral |phi_n(t) - exp(-t^2/2)|^2 exp(-t^2/2) dt,
    phi_n(t) = mean_i exp(i t x_i)                      (empirical characteristic function),

with the integral taken as in the authors' reference code: trapezoid rule on 17 equally spaced
nodes of [0, 3], doubled by symmetry. :func:`epps_pulley_exact` gives the integral over the
whole line in closed form (used by the tests; the quadrature approaches it as the grid grows).

Here SIGReg is added, with weight ``weight``, to the clean InfoNCE objective of ``plain`` and
acts on the *standardized* output, so it pulls the Gaussian base to N(0, I); for the uniform
base the representation is the normal CDF of that output, i.e. U[0, 1]^d when the
standardized output is N(0, I).

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(2000, 1, generator=g)
    >>> bool(epps_pulley(x)[0] < epps_pulley(x.abs())[0])
    True
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from infomatch._checks import check_nonnegative, check_positive, check_positive_int
from infomatch.methods._common import ObjectiveOutput, clean_infonce, clean_pair
from infomatch.model import NINE

__all__ = ["SIGRegObjective", "epps_pulley", "epps_pulley_exact", "sigreg"]


def epps_pulley(x: Tensor, t_max: float = 3.0, n_points: int = 17) -> Tensor:
    """Epps-Pulley statistic of each column of ``x`` ``(n, k)`` against N(0, 1): ``(k,)``.

    Trapezoid rule over ``[-t_max, t_max]`` with ``n_points`` nodes on ``[0, t_max]`` (the
    integrand is even in ``t``).
    """
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"x must have shape (n, k) with n >= 1; got {tuple(x.shape)}")
    n_points = check_positive_int("n_points", n_points)
    if n_points < 2:
        raise ValueError(f"n_points must be at least 2; got {n_points}")
    t = torch.linspace(0.0, float(check_positive("t_max", t_max)), n_points, dtype=x.dtype, device=x.device)
    phi = torch.exp(-0.5 * t.square())
    w = torch.full_like(t, 2.0 * (t_max / (n_points - 1)))
    w[0] = w[-1] = t_max / (n_points - 1)
    xt = x.unsqueeze(-1) * t                     # (n, k, T)
    err = (torch.cos(xt).mean(0) - phi).square() + torch.sin(xt).mean(0).square()
    return x.shape[0] * (err @ (w * phi))


def epps_pulley_exact(x: Tensor) -> Tensor:
    """The same statistic with the integral over the whole real line in closed form, ``(k,)``:
    ``sqrt(2 pi)/n sum_jk exp(-(x_j - x_k)^2 / 2) - 2 sqrt(pi) sum_j exp(-x_j^2 / 4) + n sqrt(2 pi / 3)``."""
    n = x.shape[0]
    diff = x.unsqueeze(0) - x.unsqueeze(1)       # (n, n, k)
    pair = torch.exp(-0.5 * diff.square()).sum(dim=(0, 1))
    single = torch.exp(-0.25 * x.square()).sum(dim=0)
    return math.sqrt(2 * math.pi) / n * pair - 2 * math.sqrt(math.pi) * single + n * math.sqrt(2 * math.pi / 3)


def sigreg(z: Tensor, num_slices: int = 256, generator: torch.Generator | None = None,
           t_max: float = 3.0, n_points: int = 17) -> Tensor:
    """SIGReg of ``z`` ``(n, d)``: mean Epps-Pulley statistic over ``num_slices`` random unit directions."""
    if z.ndim != 2:
        raise ValueError(f"z must have shape (n, d); got {tuple(z.shape)}")
    num_slices = check_positive_int("num_slices", num_slices)
    a = torch.randn(z.shape[1], num_slices, generator=generator, dtype=z.dtype, device=z.device)
    a = a / a.norm(dim=0, keepdim=True)
    return epps_pulley(z @ a, t_max=t_max, n_points=n_points).mean()


class SIGRegObjective(nn.Module):
    """Clean InfoNCE ``+ weight * SIGReg(standardized output of both views)``.

    Args:
        weight: weight of the regularizer (default 1.0).
        num_slices: random directions per step (default 256).
    """

    def __init__(self, weight: float = 1.0, num_slices: int = 256) -> None:
        super().__init__()
        self.weight = check_nonnegative("weight", weight)
        self.num_slices = check_positive_int("num_slices", num_slices)

    def forward(self, nine: NINE, h1: Tensor, h2: Tensor) -> ObjectiveOutput:
        """``h1``, ``h2``: encoder outputs ``(B, d)`` of two views of one batch."""
        b = h1.shape[0]
        s, z = clean_pair(nine, h1, h2)
        nce_loss, mi = clean_infonce(nine, z[:b], z[b:])
        reg = sigreg(s.float(), self.num_slices)
        return ObjectiveOutput(loss=nce_loss + self.weight * reg, mi=mi, capacity=float("inf"),
                               terms={"sigreg": reg.detach()})
