"""Cross-rank negatives: score this rank's rows against every rank's columns, combine the bound."""

from __future__ import annotations

import functools
from typing import Any

from torch import Tensor, nn

from infomatch.bounds import Bound, BoundOutput
from infomatch.distributed.collectives import _active, gather, rank


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


def global_bound(bound: Bound, scores: Tensor, offset: int = 0, group: Any = None) -> BoundOutput:
    """The bound of the global batch from this rank's rows of the global score matrix.

    Each bound says how its ranks combine (:meth:`~infomatch.bounds.Bound.combine_ranks`):
    InfoNCE, NWJ and the JSD loss are means over rows; the DV/MINE log-mean-exp and the JSD's
    reported DV estimate are combined across ranks through :func:`gather`.

    Args:
        bound: a bound module from :func:`infomatch.bounds.make_bound`.
        scores: this rank's rows ``(B_local, B_global)`` from :func:`cross_scores`.
        offset: column of row 0's positive (``rank * B_local``).
        group: process group (default: the global group).

    Returns:
        ``BoundOutput(loss, mi)``. ``loss`` has the value of the 1-process loss of the global
        batch on every rank and the gradient of this rank's share ``L_r`` (with
        ``mean_r L_r`` = the 1-process loss), which is what DDP's gradient averaging needs.
        ``mi`` is the global MI estimate (identical on every rank). One process:
        ``bound(scores, offset)``, unchanged.

    Example:
        >>> import torch
        >>> from infomatch.bounds import make_bound
        >>> s = torch.randn(4, 4)
        >>> bool(global_bound(make_bound("infonce"), s).mi == make_bound("infonce")(s).mi)
        True
    """
    if not _active(group):
        return bound(scores, offset)
    return bound.combine_ranks(scores, offset, functools.partial(gather, group=group))

