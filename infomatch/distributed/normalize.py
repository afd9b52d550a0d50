"""Normalization with the statistics of the global batch (Chan's parallel formula, differentiable)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from infomatch.distributed.collectives import GlobalBatchStats, _active, gather
from infomatch.normalize import Normalize


def global_batch_stats(h: Tensor, group: Any = None) -> tuple[Tensor, Tensor, int]:
    """Mean, *biased* variance and row count of the global batch (all ranks' ``h`` together).

    Each rank contributes its count, mean and sum of squared deviations; they are gathered
    (one collective of ``W x (2 d + 1)`` numbers) and combined with Chan et al.'s parallel
    formula, which avoids the cancellation of ``E[h^2] - E[h]^2``. Differentiable with respect
    to ``h`` (gradients reach every rank's rows); identical on every rank. One process: the
    statistics of ``h`` as :meth:`Normalize._batch_stats` computes them.

    Example:
        >>> import torch
        >>> mean, var, n = global_batch_stats(torch.tensor([[1.0], [3.0]]))
        >>> mean.tolist(), var.tolist(), n
        ([2.0], [1.0], 2)
    """
    if not isinstance(h, Tensor) or h.ndim != 2:
        raise ValueError(f"h must be a (B, d) tensor; got {getattr(h, 'shape', type(h).__name__)}")
    mean = h.mean(dim=0)
    if not _active(group):
        return mean, (h - mean).square().mean(dim=0), h.shape[0]
    d = h.shape[1]
    m2 = (h - mean).square().sum(dim=0)
    count = h.new_full((1,), float(h.shape[0]))
    parts = gather(torch.cat([mean, m2, count]).unsqueeze(0), group)  # (W, 2d + 1)
    means, m2s, counts = parts[:, :d], parts[:, d:2 * d], parts[:, 2 * d:].detach()
    total = counts.sum()
    g_mean = (counts * means).sum(dim=0) / total
    g_m2 = m2s.sum(dim=0) + (counts * (means - g_mean).square()).sum(dim=0)
    return g_mean, g_m2 / total, int(round(float(total)))


class SyncNormalize(GlobalBatchStats, Normalize):
    """:class:`~infomatch.normalize.Normalize` whose training statistics are those of the global
    batch when several processes train together (SyncBatchNorm for NINE's normalization).

    Output, gradient and running statistics equal those of one process that sees the whole
    global batch; the running statistics are updated identically on every rank. With one
    process (or ``sync=False``) it is exactly ``Normalize``; state dicts are interchangeable.

    Args:
        dim, mode, squash, momentum, eps: as for :class:`~infomatch.normalize.Normalize`.
        sync: use global statistics when the world size is above 1 (default True).
        group: process group (default: the global group).

    Example:
        >>> import torch
        >>> norm = SyncNormalize(4, mode="uniform")
        >>> u = norm(torch.randn(32, 4))
        >>> bool(((u > 0) & (u < 1)).all())
        True
    """

    def __init__(self, dim: int, mode: str = "gaussian", squash: str = "ndtr", momentum: float | None = 0.1,
                 eps: float = 1e-5, gaussianize: bool = False, radialize: bool = False,
                 final_whiten: bool = False, final_whiten_method: str = "cholesky", *, sync: bool = True,
                 group: Any = None) -> None:
        super().__init__(dim, mode=mode, squash=squash, momentum=momentum, eps=eps, gaussianize=gaussianize,
                         radialize=radialize, final_whiten=final_whiten, final_whiten_method=final_whiten_method)
        self._init_sync(sync, group)

    global_stats = staticmethod(global_batch_stats)


def convert_sync_normalize(module: nn.Module, group: Any = None) -> nn.Module:
    """Replace every plain :class:`Normalize` inside ``module`` by a :class:`SyncNormalize`
    with the same settings and state (like ``nn.SyncBatchNorm.convert_sync_batchnorm``).

    Returns the converted module (``module`` itself unless it is a ``Normalize``).

    Example:
        >>> net = nn.Sequential(nn.Linear(3, 3), Normalize(3))
        >>> type(convert_sync_normalize(net)[1]).__name__
        'SyncNormalize'
    """
    if isinstance(module, Normalize) and not isinstance(module, SyncNormalize):
        new = SyncNormalize(module.dim, mode=module.mode, squash=module.squash, momentum=module.momentum,
                            eps=module.eps, group=group)
        new.load_state_dict(copy.deepcopy(module.state_dict()))
        new.train(module.training)
        return new
    for name, child in module.named_children():
        converted = convert_sync_normalize(child, group)
        if converted is not child:
            setattr(module, name, converted)
    return module
