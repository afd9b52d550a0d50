"""Process-group helpers: world size, rank, a rank-local block and the autograd-aware all-gather."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

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


class GlobalBatchStats:
    """Mixin of the normalizations' distributed twins: with ``sync`` and more than one process
    the batch statistics are those of the global batch (``global_stats(h, group)``, a static
    method the twin sets); otherwise the base class's. Put it before the normalization class.
    """

    global_stats: Callable[[Tensor, Any], tuple[Tensor, Tensor, int]]

    def _init_sync(self, sync: bool, group: Any) -> None:
        if not isinstance(sync, bool):
            raise ValueError(f"sync must be True or False; got {sync!r}")
        self.sync = sync
        self.group = group

    def _batch_stats(self, h: Tensor) -> tuple[Tensor, Tensor, int]:
        if self.sync and _active(self.group):
            return self.global_stats(h, self.group)
        return super()._batch_stats(h)  # type: ignore[misc]

    def _rank_stages(self, s: Tensor, update: bool) -> Tensor:
        """In training, rank within the global batch (gathered differentiably) and keep this
        rank's rows: values, gradient and running quantiles equal one process's."""
        if self.training and self.sync and _active(self.group):  # type: ignore[attr-defined]
            n, r = s.shape[0], rank(self.group)
            return super()._rank_stages(gather(s, self.group), update)[r * n:(r + 1) * n]  # type: ignore[misc]
        return super()._rank_stages(s, update)  # type: ignore[misc]
