"""Normalization of the encoder's output: the first half of NINE's recipe.

Gaussian mode standardizes every coordinate (zero mean, unit variance, no learnable affine
part); uniform mode then squashes the standardized value into [0, 1] with the normal CDF
(default) or the logistic sigmoid.

Behaviour worth knowing:

- **Training** uses the batch's statistics: the mean and the *biased* variance normalize the
  output; the running statistics are updated with the *unbiased* variance (as
  ``torch.nn.BatchNorm1d`` does). Statistics are always computed in float32 or wider, also for
  bfloat16/float16 inputs; the output has the input's dtype.
- **Batch size 1 in training** raises ``ValueError`` (as BatchNorm does): a single row has no
  variance. Evaluation mode accepts any batch size.
- **Evaluation before any statistics exist**: the running statistics start at mean 0 and
  variance 1, so Gaussian mode is the identity map ``h / sqrt(1 + eps)`` (practically ``h``)
  and uniform mode is ``Phi(h)``. ``num_batches_tracked == 0`` tells you this is the case.
- ``momentum=None`` gives a cumulative average of all batches seen since the last
  :meth:`Normalize.reset_running_stats` (useful to re-estimate the statistics on clean inputs
  after training).
- The batch-statistics computation is the one overridable method :meth:`Normalize._batch_stats`
  so that a distributed subclass can make it global (all-reduce of sums).

Example:
    >>> import torch
    >>> norm = Normalize(3)
    >>> z = norm(torch.randn(64, 3) * 5 + 2)
    >>> bool(z.mean(0).abs().max() < 1e-5), bool((z.var(0, unbiased=False) - 1).abs().max() < 1e-4)
    (True, True)
    >>> u = Normalize(3, mode="uniform").train()(torch.randn(64, 3))
    >>> bool(((u > 0) & (u < 1)).all())
    True
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from infomatch._checks import check_choice, check_matrix, check_positive, check_positive_int

__all__ = ["Normalize"]

MODES = ("gaussian", "uniform")
SQUASHES = ("ndtr", "sigmoid")


class Normalize(nn.Module):
    """Per-dimension standardization (Gaussian mode) and squashing into [0, 1] (uniform mode).

    Args:
        dim: number of coordinates ``d`` of the representation.
        mode: ``"gaussian"`` (standardize) or ``"uniform"`` (standardize, then squash).
        squash: ``"ndtr"`` (normal CDF, default) or ``"sigmoid"``; only used in uniform mode.
        momentum: weight of the new batch in the running statistics; ``None`` for a cumulative
            average.
        eps: added to the variance before the square root.

    Shapes:
        ``forward(h: (B, d)) -> (B, d)``.
    """

    running_mean: Tensor
    running_var: Tensor
    num_batches_tracked: Tensor

    def __init__(
        self,
        dim: int,
        mode: str = "gaussian",
        squash: str = "ndtr",
        momentum: float | None = 0.1,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.dim = check_positive_int("dim", dim)
        self.mode = check_choice("mode", mode, MODES)
        self.squash = check_choice("squash", squash, SQUASHES)
        if momentum is not None:
            momentum = check_positive("momentum", momentum)
            if momentum > 1:
                raise ValueError(f"momentum must lie in (0, 1] or be None; got {momentum!r}")
        self.momentum = momentum
        self.eps = check_positive("eps", eps)
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def reset_running_stats(self) -> None:
        """Back to mean 0, variance 1 and no batches tracked (eval is then the identity map)."""
        self.running_mean.zero_()
        self.running_var.fill_(1.0)
        self.num_batches_tracked.zero_()

    def _batch_stats(self, h: Tensor) -> tuple[Tensor, Tensor, int]:
        """Mean, *biased* variance and row count of the batch ``h`` (float32 or wider).

        Override this to compute global statistics (e.g. all-reduce of ``sum`` and ``sum of
        squares`` over processes); the result must stay differentiable with respect to ``h``.
        """
        mean = h.mean(dim=0)
        var = (h - mean).square().mean(dim=0)
        return mean, var, h.shape[0]

    def _update_running(self, mean: Tensor, var: Tensor, count: int) -> None:
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                w = 1.0 / float(self.num_batches_tracked.item())
            else:
                w = self.momentum
            unbiased = var * (count / (count - 1))
            self.running_mean.lerp_(mean.to(self.running_mean.dtype), w)
            self.running_var.lerp_(unbiased.to(self.running_var.dtype), w)

    def standardize(self, h: Tensor, update: bool = True) -> Tensor:
        """The standardized value ``(h - mean) / sqrt(var + eps)`` (before any squashing)."""
        return self._standardize(h, update).to(h.dtype)

    def _standardize(self, h: Tensor, update: bool = True) -> Tensor:
        """Standardize in the working precision (float32 for half-precision input)."""
        check_matrix("h", h, dim=self.dim)
        work = h.float() if h.dtype in (torch.float16, torch.bfloat16) else h
        if self.training:
            mean, var, count = self._batch_stats(work)
            if count < 2:
                raise ValueError(
                    f"batch size must be at least 2 in training mode (batch statistics); got {count}"
                )
            if update:
                self._update_running(mean.detach(), var.detach(), count)
        else:
            mean = self.running_mean.to(work.dtype)
            var = self.running_var.to(work.dtype)
        return (work - mean) * torch.rsqrt(var + self.eps)

    def forward(self, h: Tensor, update: bool = True) -> Tensor:
        """Normalize ``h``; ``update=False`` uses the batch statistics in training without
        updating the running ones."""
        s = self._standardize(h, update)
        if self.mode == "uniform":
            s = torch.special.ndtr(s) if self.squash == "ndtr" else torch.sigmoid(s)
        return s.to(h.dtype)

    def extra_repr(self) -> str:
        sq = f", squash={self.squash!r}" if self.mode == "uniform" else ""
        return f"{self.dim}, mode={self.mode!r}{sq}, momentum={self.momentum}, eps={self.eps}"
