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
from torch import Tensor

from infomatch._running import MODES, SQUASHES, RunningNormalization

__all__ = ["MODES", "SQUASHES", "Normalize"]


class Normalize(RunningNormalization):
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

    second_moment = "running_var"
    running_var: Tensor

    def __init__(
        self,
        dim: int,
        mode: str = "gaussian",
        squash: str = "ndtr",
        momentum: float | None = 0.1,
        eps: float = 1e-5,
        gaussianize: bool = False,
        radialize: bool = False,
        final_whiten: bool = False,
        final_whiten_method: str = "cholesky",
    ) -> None:
        super().__init__(dim, mode=mode, squash=squash, momentum=momentum, eps=eps, gaussianize=gaussianize,
                         radialize=radialize, final_whiten=final_whiten,
                         final_whiten_method=final_whiten_method)

    def _identity(self) -> Tensor:
        return torch.ones(self.dim)

    def _batch_stats(self, h: Tensor) -> tuple[Tensor, Tensor, int]:
        """Mean, *biased* variance and row count of the batch ``h`` (float32 or wider).

        Override this to compute global statistics (e.g. all-reduce of ``sum`` and ``sum of
        squares`` over processes); the result must stay differentiable with respect to ``h``.
        """
        mean = h.mean(dim=0)
        var = (h - mean).square().mean(dim=0)
        return mean, var, h.shape[0]

    def _normalize(self, work: Tensor, mean: Tensor, var: Tensor) -> Tensor:
        return (work - mean) * torch.rsqrt(var + self.eps)

    def extra_repr(self) -> str:
        sq = f", squash={self.squash!r}" if self.mode == "uniform" else ""
        return f"{self.dim}, mode={self.mode!r}{sq}, momentum={self.momentum}, eps={self.eps}"
