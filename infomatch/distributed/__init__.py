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

from infomatch.distributed.collectives import (  # noqa: F401 - private names kept importable
    _active,
    _AllGather,
    _local,
    _state,
    gather,
    local_only,
    rank,
    world_size,
)
from infomatch.distributed.normalize import (
    SyncNormalize,
    convert_sync_normalize,
    global_batch_stats,
)
from infomatch.distributed.scores import cross_scores, global_bound
from infomatch.distributed.whiten import SyncWhiten, global_batch_cov

__all__ = [
    "SyncNormalize",
    "SyncWhiten",
    "global_batch_cov",
    "convert_sync_normalize",
    "cross_scores",
    "gather",
    "global_batch_stats",
    "global_bound",
    "local_only",
    "rank",
    "world_size",
]
