"""Data-parallel NINE: cross-rank negatives with correct gradients, global-batch statistics.

A data-parallel run (DDP) splits each global batch of ``B`` rows into ``W`` local slices of
``B / W`` rows, one per process ("rank"). Two parts of NINE are silently wrong if every rank
only looks at its own slice: the contrastive bound would see ``B / W - 1`` negatives instead of
``B - 1``, and the normalization would match the prior on each slice instead of on the global
batch. This module provides the pieces that make ``W`` processes compute the 1-process result:

- :func:`gather` — autograd-aware all-gather along the batch axis. Its backward pass sums the
  incoming gradients of *all* ranks (all-reduce) and keeps this rank's rows, so the gradient
  that reaches a rank's encoder is the sum of every rank's loss derivative with respect to its
  rows. (The classic bug, in lightly among others, keeps only the local rank's gradient and is
  off by ``1 / W`` or worse.)
- :func:`cross_scores` — score this rank's rows against the gathered columns of every rank:
  ``scores`` is ``(B_local, B_global)`` with the positive of row ``i`` at column
  ``rank * B_local + i``.
- :func:`global_bound` — apply a bound to those scores so that the mean of the per-rank losses
  is the 1-process loss of the global batch (InfoNCE, JSD and NWJ losses are means over rows;
  the DV/MINE log-mean-exp is combined across ranks through :func:`gather`). The returned
  ``loss`` *value* is the global loss on every rank, its *gradient* is this rank's share; the
  ``mi`` is the global estimate, identical on every rank.
- :class:`SyncNormalize` — :class:`~infomatch.normalize.Normalize` with statistics of the
  global batch (per-rank count, mean and sum of squared deviations, gathered and combined with
  Chan's parallel formula; differentiable), so outputs and running statistics are those of one
  process on the global batch, identical on every rank. :class:`~infomatch.model.NINE` uses it;
  it is on whenever the world size is above 1.

Why the per-rank loss needs no ``1 / W`` or ``W`` factor: DDP *averages* parameter gradients,
so the update is ``(1/W) sum_r d L_r / d theta``. Because every collective's backward sums over
ranks, ``d L_r`` reaches the parameters through every rank's rows, and the average is the
gradient of ``(1/W) sum_r L_r``. With ``L_r`` the mean over rank ``r``'s rows (equal slice
sizes), ``(1/W) sum_r L_r`` is the mean over the global batch: the 1-process loss.
``tests/test_distributed.py`` checks loss and parameter gradients against one process.

Every rank must hold the same number of rows (the rank-aware sampler of
:mod:`infomatch.training.sampler` guarantees it) and call these functions in the same order.
Without an initialized process group (or inside :func:`local_only`) everything here is the
1-process computation, unchanged.

Example:
    >>> import torch
    >>> world_size(), rank()                  # no process group: one process
    (1, 0)
    >>> x = torch.randn(4, 3)
    >>> bool(gather(x).equal(x))
    True
    >>> norm = SyncNormalize(3)
    >>> z = norm(torch.randn(64, 3) * 5 + 2)  # one process: exactly Normalize
    >>> bool(z.mean(0).abs().max() < 1e-5)
    True
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from infomatch.bounds import Bound, BoundOutput, DVBound, _check_scores, _negative_mask, _positives
from infomatch.normalize import Normalize
from infomatch.whiten import Whiten

__all__ = [
    "SyncNormalize",
    "SyncWhiten",
    "convert_sync_normalize",
    "cross_scores",
    "gather",
    "global_batch_cov",
    "global_batch_stats",
    "global_bound",
    "local_only",
    "rank",
    "world_size",
]

_state = threading.local()


def _local() -> bool:
    return getattr(_state, "depth", 0) > 0


@contextlib.contextmanager
def local_only() -> Iterator[None]:
    """Within this block :func:`world_size` is 1 and :func:`rank` 0: no collectives at all.

    Use it for work that only one rank does after a distributed run (e.g. re-estimating the
    normalization statistics on rank 0), which would otherwise wait forever for the others.

    Example:
        >>> with local_only():
        ...     world_size()
        1
    """
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        _state.depth -= 1


def _active(group: Any = None) -> bool:
    return not _local() and dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def world_size(group: Any = None) -> int:
    """Number of processes in ``group`` (default: the global group); 1 without a process group.

    Example:
        >>> world_size()
        1
    """
    return dist.get_world_size(group) if _active(group) else 1


def rank(group: Any = None) -> int:
    """This process's rank in ``group`` (default: the global group); 0 without a process group.

    Example:
        >>> rank()
        0
    """
    return dist.get_rank(group) if _active(group) else 0


class _AllGather(torch.autograd.Function):
    """All-gather along dim 0; backward: all-reduce (sum) the gradient, keep this rank's rows."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, group: Any) -> Tensor:  # type: ignore[override]
        x = x.contiguous()
        w, r = dist.get_world_size(group), dist.get_rank(group)
        parts = [torch.empty_like(x) for _ in range(w)]
        dist.all_gather(parts, x, group=group)
        parts[r] = x  # the same values; keeps this rank's rows exactly as they were
        ctx.group, ctx.rank, ctx.rows = group, r, x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        start = ctx.rank * ctx.rows
        return grad[start:start + ctx.rows], None


def gather(x: Tensor, group: Any = None) -> Tensor:
    """Concatenate ``x`` of every rank along dim 0 (rank order), differentiably.

    Every rank must pass a tensor of the same shape. The gradient with respect to this rank's
    ``x`` is the sum over ranks of the gradients reaching its rows of the result, so that DDP's
    gradient averaging gives the 1-process gradient when each rank's loss is its share (see the
    module docstring). One process: returns ``x`` itself.

    Args:
        x: tensor with at least one dimension, ``(n, ...)``.
        group: process group (default: the global group).

    Returns:
        ``(W * n, ...)``; rows ``[r * n, (r + 1) * n)`` come from rank ``r``.

    Example:
        >>> import torch
        >>> gather(torch.ones(2, 3)).shape      # one process
        torch.Size([2, 3])
    """
    if not isinstance(x, Tensor):
        raise ValueError(f"x must be a torch.Tensor; got {type(x).__name__}")
    if x.ndim < 1:
        raise ValueError(f"x must have a batch dimension; got shape {tuple(x.shape)}")
    if not _active(group):
        return x
    return _AllGather.apply(x, group)


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


class SyncNormalize(Normalize):
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
                 eps: float = 1e-5, *, sync: bool = True, group: Any = None) -> None:
        super().__init__(dim, mode=mode, squash=squash, momentum=momentum, eps=eps)
        if not isinstance(sync, bool):
            raise ValueError(f"sync must be True or False; got {sync!r}")
        self.sync = sync
        self.group = group

    def _batch_stats(self, h: Tensor) -> tuple[Tensor, Tensor, int]:
        if self.sync and _active(self.group):
            return global_batch_stats(h, self.group)
        return super()._batch_stats(h)


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


class SyncWhiten(Whiten):
    """:class:`~infomatch.whiten.Whiten` with the global batch's mean and covariance when
    several processes train together; exactly ``Whiten`` on one process.

    Example:
        >>> import torch
        >>> z = SyncWhiten(3)(torch.randn(64, 3) * 4)
        >>> bool((torch.cov(z.T, correction=0) - torch.eye(3)).abs().max() < 1e-3)
        True
    """

    def __init__(self, dim: int, mode: str = "gaussian", squash: str = "ndtr", momentum: float | None = 0.1,
                 eps: float = 1e-5, method: str = "cholesky", *, sync: bool = True, group: Any = None) -> None:
        super().__init__(dim, mode=mode, squash=squash, momentum=momentum, eps=eps, method=method)
        if not isinstance(sync, bool):
            raise ValueError(f"sync must be True or False; got {sync!r}")
        self.sync = sync
        self.group = group

    def _batch_stats(self, h: Tensor) -> tuple[Tensor, Tensor, int]:
        if self.sync and _active(self.group):
            return global_batch_cov(h, self.group)
        return super()._batch_stats(h)


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


def cross_scores(critic: nn.Module, a: Tensor, b: Tensor, group: Any = None) -> tuple[Tensor, int]:
    """Score this rank's rows ``a`` against the columns ``b`` of every rank.

    Args:
        critic: ``critic(a (B, d), b (N, d)) -> (B, N)``.
        a: this rank's row inputs ``(B_local, d)`` (NINE: clean view 1).
        b: this rank's column inputs ``(B_local, d)`` (NINE: noisy view 2), gathered with
            :func:`gather` (gradients flow back to the rank that produced each column).
        group: process group (default: the global group).

    Returns:
        ``(scores (B_local, B_global), offset)``: the positive of row ``i`` is column
        ``offset + i`` with ``offset = rank * B_local``. One process: ``(critic(a, b), 0)``.

    Example:
        >>> import torch
        >>> from infomatch.critics import make_critic
        >>> scores, offset = cross_scores(make_critic("bilinear", 2), torch.randn(3, 2), torch.randn(3, 2))
        >>> tuple(scores.shape), offset
        ((3, 3), 0)
    """
    if not _active(group):
        return critic(a, b), 0
    if not isinstance(a, Tensor) or not isinstance(b, Tensor) or a.shape[0] != b.shape[0]:
        raise ValueError(f"b must have as many rows as a ({getattr(a, 'shape', a)}); got {getattr(b, 'shape', b)}")
    return critic(a, gather(b, group)), rank(group) * a.shape[0]


def _dv_global(bound: DVBound, scores: Tensor, offset: int, group: Any) -> tuple[Tensor, Tensor]:
    """DV/MINE with the log-mean-exp of the negatives taken over all ranks.

    Mirrors :meth:`DVBound.forward` (same moving-average update, applied to the *global*
    ``log E_q[e^T]``, so ``log_ema`` stays identical on every rank). Returns this rank's loss
    share and the global ``log E_q[e^T]``.
    """
    b, n = scores.shape
    pos = _positives(scores, offset).mean()
    neg = scores.masked_fill(~_negative_mask(scores, offset), -math.inf)
    lse = gather(torch.logsumexp(neg.reshape(-1), dim=0).reshape(1), group)  # (W,)
    log_mean = torch.logsumexp(lse, dim=0) - math.log(lse.shape[0] * b * (n - 1))
    surrogate = bound.corrected(log_mean)
    return -(pos - surrogate), log_mean.detach()


def global_bound(bound: Bound, scores: Tensor, offset: int = 0, group: Any = None) -> BoundOutput:
    """The bound of the global batch from this rank's rows of the global score matrix.

    Args:
        bound: a bound module from :func:`infomatch.bounds.make_bound`.
        scores: this rank's rows ``(B_local, B_global)`` from :func:`cross_scores`.
        offset: column of row 0's positive (``rank * B_local``).
        group: process group (default: the global group).

    Returns:
        ``BoundOutput(loss, mi)``. ``loss`` has the value of the 1-process loss of the global
        batch on every rank and the gradient of this rank's share ``L_r`` (with
        ``mean_r L_r`` = the 1-process loss), which is what DDP's gradient averaging needs.
        ``mi`` is the global MI estimate (identical on every rank). For a bound other than
        InfoNCE, JSD, DV and NWJ the ``mi`` is the mean of the per-rank estimates. One
        process: ``bound(scores, offset)``, unchanged.

    Example:
        >>> import torch
        >>> from infomatch.bounds import make_bound
        >>> s = torch.randn(4, 4)
        >>> bool(global_bound(make_bound("infonce"), s).mi == make_bound("infonce")(s).mi)
        True
    """
    if not _active(group):
        return bound(scores, offset)
    checked, offset = _check_scores(scores, offset)
    b, n = checked.shape
    if isinstance(bound, DVBound):
        loss, log_mean = _dv_global(bound, checked, offset, group)
        local_mi = loss.detach()  # unused for DV: its MI is rebuilt below
    else:
        loss, local_mi = bound(scores, offset)
        log_mean = None
    with torch.no_grad():
        pos = _positives(checked, offset).mean()
        if bound.name == "jsd":
            neg = checked.masked_fill(~_negative_mask(checked, offset), -math.inf)
            lse = torch.logsumexp(neg.reshape(-1), dim=0)
        else:
            lse = pos.new_zeros(())
        summary = torch.stack([loss.detach().to(pos.dtype), local_mi.to(pos.dtype), pos, lse])
        parts = gather(summary.unsqueeze(0), group)  # (W, 4)
        w = parts.shape[0]
        pos_global = parts[:, 2].mean()
        if bound.name == "dv":
            assert log_mean is not None
            mi = pos_global - log_mean
        elif bound.name == "jsd":
            mi = pos_global - (torch.logsumexp(parts[:, 3], dim=0) - math.log(w * b * (n - 1)))
        else:  # infonce and nwj are means over rows: the mean of the ranks' estimates is exact
            mi = parts[:, 1].mean()
        value = parts[:, 0].mean().to(loss.dtype)
    return BoundOutput(loss + (value - loss.detach()), mi.to(local_mi.dtype))
