"""Radial Gaussianization: the norm of the whitened output mapped to the chi(d) law.

A whitened output has mean 0 and covariance ``I`` but its *radius* ``|s|`` can follow any law
with ``E|s|^2 = d``. InfoNCE, measured on this project's runs, drives it towards a thin shell
(``|s|^2`` between 5.3 and 10.6 in 90 % of the digits embeddings where ``chi^2(8)`` spans 2.7 to
15.5), which no marginal or covariance check sees but Henze-Zirkler and Mardia's kurtosis reject
at any sample size. ``Radialize`` fixes the radius in the layer, as
:class:`~infomatch.gaussianize.Gaussianize` fixes each coordinate: every row keeps its direction
``s / |s|`` and its radius becomes the chi(d) quantile of the radius's rank,

- **training**: the batch's radii, through a one-column :class:`~infomatch.gaussianize.Gaussianize`
  (normal scores in rank order, a smooth surrogate's exact gradient), then mapped from N(0, 1)
  to chi(d) by the monotone map ``Q_chi(Phi(w))`` (a dense table, interpolated linearly);
- **evaluation**: the running quantiles of the radius (set from the clean training outputs by
  the trainer's recalibration), then the same map; beyond the outermost quantiles the radius's
  normal score extrapolates with slope 1, so the map stays monotone.

A direction uniform on the sphere and independent of a chi(d) radius is exactly ``N(0, I)``, so
what is left for the objective is the law of the directions. ``E|out|^2 = d`` (up to the normal
scores' discreteness), so each coordinate's variance stays 1 on average and NINE's bound holds.

Example:
    >>> import torch
    >>> r = Radialize(8)
    >>> s = torch.nn.functional.normalize(torch.randn(512, 8), dim=1) * 8 ** 0.5  # a thin shell
    >>> out = r(s)
    >>> radius = out.norm(dim=1)
    >>> bool(abs(float(radius.pow(2).mean()) - 8.0) < 0.1), bool(radius.std() > 0.6)
    (True, True)
"""

from __future__ import annotations

import torch
from scipy import stats
from torch import Tensor, nn

from infomatch._checks import check_matrix, check_positive_int
from infomatch._precision import widened
from infomatch.gaussianize import Gaussianize

__all__ = ["Radialize", "chi_table", "normal_to_chi"]

_GRID = 4097
_SPAN = 8.0  # the table covers N(0, 1) values in [-8, 8]; beyond, the outermost slope


def chi_table(dim: int) -> tuple[Tensor, Tensor]:
    """The table ``(w, Q_chi(d)(Phi(w)))`` on 4,097 evenly spaced ``w`` in ``[-8, 8]`` (float64).

    Example:
        >>> w, r = chi_table(3)
        >>> w.shape, bool((r.diff() > 0).all())
        (torch.Size([4097]), True)
    """
    w = torch.linspace(-_SPAN, _SPAN, _GRID, dtype=torch.float64)
    # chi(d) quantile of Phi(w), through the survival function on the upper half (no cancellation)
    lower = stats.chi.ppf(stats.norm.cdf(w.numpy()), dim)
    upper = stats.chi.isf(stats.norm.sf(w.numpy()), dim)
    r = torch.from_numpy(lower).where(w < 0, torch.from_numpy(upper))
    return w, r.clamp_min(0.0)


def normal_to_chi(w: Tensor, grid: Tensor, values: Tensor) -> Tensor:
    """``Q_chi(Phi(w))`` by linear interpolation of the table ``(grid, values)``
    (differentiable; constant slope beyond the table).

    Example:
        >>> import torch
        >>> from infomatch.radialize import chi_table
        >>> g, v = chi_table(8)
        >>> round(float(normal_to_chi(torch.tensor([0.0], dtype=torch.float64), g, v)), 4)  # chi(8) median
        2.71
    """
    g, v = grid.to(w.dtype), values.to(w.dtype)
    k = torch.searchsorted(g, w.detach().contiguous()).clamp(1, g.shape[0] - 1)
    x0, x1, y0, y1 = g[k - 1], g[k], v[k - 1], v[k]
    return y0 + (y1 - y0) / (x1 - x0) * (w - x0)


class Radialize(nn.Module):
    """Map each row's norm to chi(d) through its empirical CDF, keeping its direction (batch
    ranks in training, running quantiles in evaluation).

    Args:
        dim: number of coordinates ``d`` (the chi law's degrees of freedom).
        n_quantiles, momentum, bandwidth, n_ref: those of the radius's one-column
            :class:`~infomatch.gaussianize.Gaussianize`.

    Shapes:
        ``forward(s: (B, d), update: bool = True) -> (B, d)``; ``B >= 2`` in training.
    """

    grid: Tensor
    values: Tensor

    def __init__(self, dim: int, n_quantiles: int = 1024, momentum: float | None = 0.1,
                 bandwidth: float | None = None, n_ref: int = 64) -> None:
        super().__init__()
        self.dim = check_positive_int("dim", dim)
        self.radius = Gaussianize(1, n_quantiles=n_quantiles, momentum=momentum, bandwidth=bandwidth, n_ref=n_ref)
        grid, values = chi_table(self.dim)
        self.register_buffer("grid", grid, persistent=False)
        self.register_buffer("values", values, persistent=False)
        self.reset_running_stats()

    def reset_running_stats(self) -> None:
        """Back to the chi(d) quantiles and no batches tracked (the map is then the identity)."""
        self.radius.reset_running_stats()
        self.radius.running_quantiles.copy_(self._chi_quantiles())

    def _chi_quantiles(self) -> Tensor:
        """The chi(d) quantiles at the radius stage's levels: the map is the identity on chi(d) radii."""
        return torch.from_numpy(stats.chi.ppf(self.radius.levels.cpu().numpy(), self.dim)).float().unsqueeze(1)

    def _norms(self, s: Tensor) -> Tensor:
        return s.norm(dim=1, keepdim=True).clamp_min(torch.finfo(s.dtype).tiny)

    @torch.no_grad()
    def set_quantiles(self, s: Tensor) -> None:
        """Set the radius's running quantiles to the empirical quantiles of ``|s|`` (recalibration)."""
        check_matrix("s", s, dim=self.dim)
        self.radius.set_quantiles(self._norms(s.double()))

    def calibrate(self, s: Tensor) -> None:
        """The recalibration of a stage: :meth:`set_quantiles`."""
        self.set_quantiles(s)

    def _rescaled(self, s: Tensor, r: Tensor, w: Tensor) -> Tensor:
        """``s`` with its norms ``r`` replaced by chi(d) values of the normal scores ``w``."""
        return s * (normal_to_chi(w, self.grid, self.values) / r)

    def _eval_map(self, s: Tensor) -> Tensor:
        r = self._norms(s)
        return self._rescaled(s, r, self.radius._eval_map(r))

    def forward(self, s: Tensor, update: bool = True) -> Tensor:
        check_matrix("s", s, dim=self.dim)
        work = widened(s)
        if not self.training:
            return self._eval_map(work).to(s.dtype)
        r = self._norms(work)
        return self._rescaled(work, r, self.radius(r, update)).to(s.dtype)

    def extra_repr(self) -> str:
        return f"{self.dim}"
