"""Whitening with the mean and covariance of the global batch (parallel scatter combination)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from infomatch.distributed.collectives import GlobalBatchStats, _active, gather
from infomatch.whiten import Whiten

__all__ = ["SyncWhiten", "global_batch_cov"]


def global_batch_cov(h: Tensor, group: Any = None) -> tuple[Tensor, Tensor, int]:
    """Mean, *biased* covariance and row count of the global batch (all ranks' ``h``).

    Each rank contributes its count, mean and scatter matrix; they are combined with the
    parallel (Chan et al.) formula ``S = sum_r S_r + sum_r n_r (m_r - m)(m_r - m)^T``.
    Differentiable and identical on every rank; one process: the statistics of ``h``.

    Example:
        >>> import torch
        >>> mean, cov, n = global_batch_cov(torch.tensor([[1.0, 0.0], [3.0, 2.0]]))
        >>> mean.tolist(), cov.tolist(), n
        ([2.0, 1.0], [[1.0, 1.0], [1.0, 1.0]], 2)
    """
    if not isinstance(h, Tensor) or h.ndim != 2:
        raise ValueError(f"h must be a (B, d) tensor; got {getattr(h, 'shape', type(h).__name__)}")
    mean = h.mean(dim=0)
    centred = h - mean
    scatter = centred.T @ centred
    if not _active(group):
        return mean, scatter / h.shape[0], h.shape[0]
    d = h.shape[1]
    count = h.new_full((1,), float(h.shape[0]))
    parts = gather(torch.cat([mean, scatter.reshape(-1), count]).unsqueeze(0), group)  # (W, d + d^2 + 1)
    means, scatters, counts = parts[:, :d], parts[:, d:d + d * d].reshape(-1, d, d), parts[:, -1:].detach()
    total = counts.sum()
    g_mean = (counts * means).sum(dim=0) / total
    dev = means - g_mean
    g_scatter = scatters.sum(dim=0) + (counts * dev).T @ dev
    return g_mean, g_scatter / total, int(round(float(total)))


class SyncWhiten(GlobalBatchStats, Whiten):
    """:class:`~infomatch.whiten.Whiten` with the global batch's mean and covariance when
    several processes train together; exactly ``Whiten`` on one process.

    Example:
        >>> import torch
        >>> z = SyncWhiten(3)(torch.randn(64, 3) * 4)
        >>> bool((torch.cov(z.T, correction=0) - torch.eye(3)).abs().max() < 1e-3)
        True
    """

    def __init__(self, dim: int, mode: str = "gaussian", squash: str = "ndtr", momentum: float | None = 0.1,
                 eps: float = 1e-5, method: str = "cholesky", gaussianize: bool = False, radialize: bool = False,
                 final_whiten: bool = False, final_whiten_method: str = "cholesky", *, sync: bool = True,
                 group: Any = None) -> None:
        super().__init__(dim, mode=mode, squash=squash, momentum=momentum, eps=eps, method=method,
                         gaussianize=gaussianize, radialize=radialize, final_whiten=final_whiten,
                         final_whiten_method=final_whiten_method)
        self._init_sync(sync, group)

    global_stats = staticmethod(global_batch_cov)
