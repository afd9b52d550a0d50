"""Marginal Gaussianization: each coordinate of the normalized output mapped to N(0, 1).

Standardization fixes each coordinate's mean and variance, whitening the whole covariance;
``Gaussianize`` fixes each coordinate's whole law. It follows the whitening (or standardization)
layer, like it uses the batch in training and running statistics in evaluation, and maps each
coordinate through its empirical CDF and the normal quantile function:

- **training**: the batch's ranks, ``g_i = c * ndtri((rank_i + 1/2) / B)`` (``c`` scales the B
  normal scores to unit variance), so every coordinate of every training batch takes exactly
  the normal scores as its values. Ranks have no gradient; the backward pass is the exact
  gradient of the smooth map ``c * ndtri(F(x))``, ``F`` the empirical CDF of 64 evenly spaced
  order statistics of the batch smoothed by a logistic kernel of standard deviation ``h``
  (Silverman's ``1.06 B^{-1/5}``), whose values are the ranks' up to the smoothing
  (:func:`smooth_scores`). Shifting the whole batch changes
  neither map, as for batch normalization.
- **evaluation**: ``n_quantiles`` running quantiles of the training batches (set from the
  clean training outputs by the trainer's recalibration), interpolated linearly against the
  normal quantiles of their levels; beyond the outermost quantiles, slope 1.

Every coordinate of the output has the N(0, 1) law, so its variance is 1: NINE's capacity bound
holds as for standardization, the Gaussian is still the only law that reaches it, and N(0, 1)
coordinates are (up to sampling) a fixed point. What the layer cannot do is make the
coordinates *jointly* Gaussian: that stays the objective's job.

Example:
    >>> import torch
    >>> g = Gaussianize(2)
    >>> z = g(torch.rand(512, 2))  # uniform coordinates: normal scores in training
    >>> round(float(z.pow(2).mean()), 4), bool(abs(float(z.pow(4).mean()) - 3.0) < 0.1)
    (1.0, True)
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch import Tensor, nn

from infomatch._checks import check_matrix, check_momentum, check_positive, check_positive_int
from infomatch._precision import widened

__all__ = ["Gaussianize", "logistic_scale", "normal_scores", "reference_ranks", "silverman_bandwidth", "smooth_scores"]


def silverman_bandwidth(batch_size: int) -> float:
    """Silverman's rule of thumb for a unit-variance coordinate: ``1.06 B^{-1/5}``.

    Example:
        >>> round(silverman_bandwidth(256), 2)
        0.35
    """
    check_positive_int("batch_size", batch_size)
    return 1.06 * batch_size ** -0.2


def logistic_scale(bandwidth: float) -> float:
    """Scale of the logistic kernel whose standard deviation is ``bandwidth``."""
    return bandwidth * math.sqrt(3.0) / math.pi


def reference_ranks(n: int, n_ref: int) -> Tensor:
    """Ranks of the ``min(n, n_ref)`` evenly spaced order statistics the smoothed CDF is built on.

    Example:
        >>> reference_ranks(8, 4).tolist(), reference_ranks(3, 64).tolist()
        ([1, 3, 5, 7], [0, 1, 2])
    """
    m = min(n, n_ref)
    return ((torch.arange(m, dtype=torch.float64) + 0.5) * n / m).floor().long()


def smooth_scores(s: Tensor, bandwidth: float, c: float = 1.0, n_ref: int = 64) -> Tensor:
    """The smooth map whose gradient the training pass uses, written with plain tensor ops:
    ``c * ndtri(F(s_i))`` per column, ``F`` the empirical CDF of ``n_ref`` evenly spaced order
    statistics of the batch (:func:`reference_ranks`) smoothed by a logistic kernel of standard
    deviation ``bandwidth``. (A reference; the layer computes its Jacobian directly.)

    Example:
        >>> import torch
        >>> x = torch.randn(400, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> bool((smooth_scores(x, 0.3) - x).abs().median() < 0.1)
        True
    """
    ref = s.sort(dim=0).values[reference_ranks(s.shape[0], n_ref).to(s.device)]
    t = (s.unsqueeze(1) - ref.unsqueeze(0)) / logistic_scale(bandwidth)
    return c * torch.special.ndtri(torch.sigmoid(t).mean(dim=1))


@functools.lru_cache(maxsize=16)
def normal_scores(n: int) -> tuple[Tensor, float]:
    """The ``n`` unit-variance normal scores ``c * ndtri((k + 1/2) / n)`` (float64) and ``c``.

    Example:
        >>> scores, c = normal_scores(4)
        >>> [round(v, 3) for v in scores.tolist()], round(float(scores.pow(2).mean()), 6)
        ([-1.363, -0.378, 0.378, 1.363], 1.0)
    """
    raw = torch.special.ndtri((torch.arange(n, dtype=torch.float64) + 0.5) / n)
    c = float(raw.pow(2).mean().rsqrt())
    return raw * c, c


class _NormalScores(torch.autograd.Function):
    """Forward: each column's values replaced by the unit-variance normal scores in their rank
    order (``order``: the column-wise ``argsort`` of ``s``, computed once by the caller).
    Backward: the exact Jacobian of :func:`smooth_scores` (with the same ``c``)."""

    @staticmethod
    def forward(ctx: Any, s: Tensor, bandwidth: float, n_ref: int, order: Tensor) -> Tensor:  # type: ignore[override]
        n = s.shape[0]
        scores, c = normal_scores(n)
        out = torch.empty_like(s)
        out.scatter_(0, order, scores.to(s.device, s.dtype).unsqueeze(1).expand_as(s).contiguous())
        ctx.save_for_backward(s, order[reference_ranks(n, n_ref).to(s.device)])
        ctx.bandwidth, ctx.c = bandwidth, c
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:  # type: ignore[override]
        s, ref = ctx.saved_tensors  # ref: (m, d) row indices of the reference order statistics
        m, scale = ref.shape[0], logistic_scale(ctx.bandwidth)
        u = (s.T * (1.0 / scale)).contiguous()  # (d, n)
        t = u.unsqueeze(2) - u.gather(1, ref.T).unsqueeze(1)  # (d, n, m): (x_i - r_k) / scale
        sig = torch.sigmoid(t)
        lower = sig.mean(dim=2)  # the smoothed CDF, and its complement, each without cancellation
        upper = torch.sigmoid(t.neg_()).mean(dim=2)
        tiny = torch.finfo(s.dtype).tiny
        q = torch.where(lower < upper, torch.special.ndtri(lower.clamp_min(tiny)),
                        -torch.special.ndtri(upper.clamp_min(tiny)))
        k = sig.mul_(1 - sig)  # the kernel sigma'(t), in place
        # a_i = grad_i c / (m scale phi(q_i)): d g_i / d x_i = a_i sum_k k_ik; d g_i / d r_k = -a_i k_ik
        a = grad.T * torch.exp(0.5 * q * q) * (ctx.c * math.sqrt(2 * math.pi) / (m * scale))
        out = a * k.sum(dim=2)
        # a reference point's own term cancels: it moves its kernel with it
        out.scatter_add_(1, ref.T, -(k * a.unsqueeze(2)).sum(dim=1))
        return out.T, None, None, None


class Gaussianize(nn.Module):
    """Map each coordinate to N(0, 1) through its empirical CDF (batch ranks in training,
    running quantiles in evaluation).

    Args:
        dim: number of coordinates ``d``.
        n_quantiles: running quantiles kept for evaluation.
        momentum: weight of a new batch in the running quantiles; ``None``: cumulative average.
        bandwidth: kernel width ``h`` of the gradient's surrogate (default: Silverman's rule for
            the batch at hand).
        n_ref: order statistics of the batch the surrogate's smoothed CDF is built on (the
            gradient's cost is ``B * n_ref * d``).

    Shapes:
        ``forward(s: (B, d), update: bool = True) -> (B, d)``; ``B >= 2`` in training.
    """

    running_quantiles: Tensor
    levels: Tensor
    num_batches_tracked: Tensor

    def __init__(self, dim: int, n_quantiles: int = 1024, momentum: float | None = 0.1,
                 bandwidth: float | None = None, n_ref: int = 64) -> None:
        super().__init__()
        self.dim = check_positive_int("dim", dim)
        self.bandwidth = None if bandwidth is None else float(check_positive("bandwidth", bandwidth))
        self.n_quantiles = check_positive_int("n_quantiles", n_quantiles)
        self.n_ref = check_positive_int("n_ref", n_ref)
        if self.n_quantiles < 2:
            raise ValueError(f"n_quantiles must be at least 2; got {n_quantiles}")
        self.momentum = check_momentum(momentum)
        levels = (torch.arange(self.n_quantiles, dtype=torch.float64) + 0.5) / self.n_quantiles
        self.register_buffer("levels", levels)
        self.register_buffer("running_quantiles", self._identity())
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def _identity(self) -> Tensor:
        """Quantiles of N(0, 1) at the levels, one column per coordinate: ``(n_quantiles, d)``."""
        return torch.special.ndtri(self.levels).float().unsqueeze(1).repeat(1, self.dim)

    def reset_running_stats(self) -> None:
        """Back to the standard normal's quantiles and no batches tracked."""
        self.running_quantiles.copy_(self._identity())
        self.num_batches_tracked.zero_()

    def _quantiles(self, ordered: Tensor) -> Tensor:
        """Quantiles at the levels of columns already sorted (linear interpolation between order
        statistics, as ``torch.quantile``)."""
        ordered = ordered.detach().double()
        pos = self.levels.to(ordered.device) * (ordered.shape[0] - 1)
        lo = pos.floor().long()
        hi = (lo + 1).clamp_max(ordered.shape[0] - 1)
        frac = (pos - lo).unsqueeze(1)
        return ordered[lo] * (1 - frac) + ordered[hi] * frac

    @torch.no_grad()
    def set_quantiles(self, s: Tensor) -> None:
        """Set the running quantiles to the empirical quantiles of ``s (N, d)`` (recalibration)."""
        check_matrix("s", s, dim=self.dim)
        self.running_quantiles.copy_(self._quantiles(s.sort(dim=0).values).to(self.running_quantiles.dtype))
        self.num_batches_tracked.fill_(1)

    def calibrate(self, s: Tensor) -> None:
        """The recalibration of a stage: :meth:`set_quantiles`."""
        self.set_quantiles(s)

    @torch.no_grad()
    def _update_running(self, ordered: Tensor) -> None:
        self.num_batches_tracked.add_(1)
        w = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
        self.running_quantiles.lerp_(self._quantiles(ordered).to(self.running_quantiles.dtype), w)

    def _eval_map(self, s: Tensor) -> Tensor:
        q = self.running_quantiles.to(s.dtype).T.contiguous()  # (d, K), each row sorted
        y = torch.special.ndtri(self.levels).to(s.dtype)  # (K,)
        x = s.T.contiguous()  # (d, B)
        k = torch.searchsorted(q, x).clamp(1, self.n_quantiles - 1)
        x0, x1 = q.gather(1, k - 1), q.gather(1, k)
        y0, y1 = y[k - 1], y[k]
        slope = (y1 - y0) / (x1 - x0).clamp_min(torch.finfo(s.dtype).eps)
        out = y0 + slope * (x - x0)
        out = torch.where(x < q[:, :1], y[0] + (x - q[:, :1]), out)
        out = torch.where(x > q[:, -1:], y[-1] + (x - q[:, -1:]), out)
        return out.T

    def forward(self, s: Tensor, update: bool = True) -> Tensor:
        check_matrix("s", s, dim=self.dim)
        work = widened(s)
        if self.training:
            if work.shape[0] < 2:
                raise ValueError(f"batch size must be at least 2 in training mode (batch statistics); got {work.shape[0]}")
            ordered, order = work.detach().sort(dim=0)  # one sort: the running quantiles and the ranks
            if update:
                self._update_running(ordered)
            h = self.bandwidth if self.bandwidth is not None else silverman_bandwidth(work.shape[0])
            out = _NormalScores.apply(work, h, self.n_ref, order)
        else:
            out = self._eval_map(work)
        return out.to(s.dtype)

    def extra_repr(self) -> str:
        return (f"{self.dim}, n_quantiles={self.n_quantiles}, momentum={self.momentum}, "
                f"bandwidth={self.bandwidth}, n_ref={self.n_ref}")
