"""Mutual-information lower bounds as pure functions of a critic's score matrix.

A score matrix ``scores`` has shape ``(B, N)`` with ``N >= B``; ``scores[i, j] = T(a_i, b_j)``.
The positive (joint) pair of row ``i`` is column ``offset + i``; every other entry of the row is
a negative (a sample of the product of marginals). On one process ``N = B`` and ``offset = 0``;
on rank ``r`` of a distributed run the columns are the gathered global batch and
``offset = r * B``. Masking is exact (positives are selected by index, negatives by a boolean
mask), every log-mean-exp is a ``logsumexp``, and half-precision scores (bfloat16, float16) are
reduced in float32. All estimates are in nats.

=========  ==========================================================  ===============
bound      estimate                                                    training loss
=========  ==========================================================  ===============
InfoNCE    ``mean_i [T_ii - logsumexp_j T_ij] + log N``  (<= log N)     ``-infonce``
NWJ        ``E_p[T] - E_q[exp(T - 1)]``                                 ``-nwj``
DV/MINE    ``E_p[T] - log E_q[exp T]``                                  bias-corrected
JSD        DV estimate of the JSD-trained critic (see :func:`jsd`)      ``-jsd_objective``
=========  ==========================================================  ===============

``E_p`` averages the ``B`` positives, ``E_q`` the ``B (N - 1)`` negatives.

References: van den Oord et al. 2018 (InfoNCE); Nguyen, Wainwright, Jordan 2010 (NWJ);
Belghazi et al. 2018 (MINE, moving-average gradient); Hjelm et al. 2019 (Deep InfoMax, JSD);
Poole et al. 2019 (On variational bounds of MI).

Example:
    >>> import torch
    >>> scores = torch.randn(8, 8)
    >>> mi = infonce(scores)
    >>> bool(mi <= torch.log(torch.tensor(8.0)))
    True
    >>> out = make_bound("dv")(scores)
    >>> out.loss.shape, out.mi.shape
    (torch.Size([]), torch.Size([]))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infomatch._checks import check_choice, check_probability, keyword_names

__all__ = [
    "BOUND_NAMES",
    "Bound",
    "BoundOutput",
    "DVBound",
    "InfoNCEBound",
    "JSDBound",
    "NWJBound",
    "dv",
    "infonce",
    "jsd",
    "jsd_objective",
    "make_bound",
    "nwj",
    "weighted_infonce",
]

BOUND_NAMES = ("infonce", "jsd", "dv", "nwj")


def _check_scores(scores: Any, offset: Any) -> tuple[Tensor, int]:
    """Validate ``scores (B, N)`` and ``offset``; return float32-or-wider scores and offset."""
    if not isinstance(scores, Tensor):
        raise ValueError(f"scores must be a torch.Tensor; got {type(scores).__name__}")
    if scores.ndim != 2:
        raise ValueError(f"scores must have shape (B, N); got shape {tuple(scores.shape)}")
    if not scores.is_floating_point():
        raise ValueError(f"scores must be a floating-point tensor; got dtype {scores.dtype}")
    b, n = scores.shape
    if b < 1 or n < 2:
        raise ValueError(f"scores must have at least 1 row and 2 columns; got shape {(b, n)}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0 or offset + b > n:
        raise ValueError(f"offset must be an integer in [0, N - B] = [0, {n - b}]; got {offset!r}")
    if not bool(torch.isfinite(scores).all()):
        raise ValueError("scores contains NaN or inf values")
    if scores.dtype in (torch.float16, torch.bfloat16):
        scores = scores.float()
    return scores, offset


def _positives(scores: Tensor, offset: int) -> Tensor:
    return scores.diagonal(offset=offset)


def _negative_mask(scores: Tensor, offset: int) -> Tensor:
    b, n = scores.shape
    rows = torch.arange(b, device=scores.device)
    mask = torch.ones(b, n, dtype=torch.bool, device=scores.device)
    mask[rows, rows + offset] = False
    return mask


def _log_mean_exp_negatives(scores: Tensor, offset: int) -> Tensor:
    """``log E_q[exp T]`` over the ``B (N - 1)`` negatives, masked exactly."""
    b, n = scores.shape
    neg = scores.masked_fill(~_negative_mask(scores, offset), -math.inf)
    return torch.logsumexp(neg.reshape(-1), dim=0) - math.log(b * (n - 1))


def infonce(scores: Tensor, offset: int = 0) -> Tensor:
    """InfoNCE estimate ``mean_i [T_{i,offset+i} - logsumexp_j T_ij] + log N`` (nats).

    A lower bound of the MI that can never exceed ``log N``.

    Example:
        >>> import torch
        >>> round(float(infonce(torch.eye(4) * 100.0)), 4)   # perfect critic: log 4
        1.3863
    """
    scores, offset = _check_scores(scores, offset)
    pos = _positives(scores, offset)
    return (pos - torch.logsumexp(scores, dim=1)).mean() + math.log(scores.shape[1])


def weighted_infonce(scores: Tensor, offset: int = 0, self_weight: float = 1.0) -> Tensor:
    """InfoNCE with the positive weighted by ``w`` in each row's denominator (nats):

    ``mean_i [T_ii - log(w e^{T_ii} + sum_{j != i} e^{T_ij})] + log(w + N - 1)``.

    ``w = 1`` is :func:`infonce`; ``w = 0`` is the leave-one-out estimate (Poole et al. 2019),
    an *upper* bound when ``T`` is the true log-density ratio. In between, no bound holds, but
    the per-row cap ``log((w + N - 1) / w)`` rises. With the exact critic of the Gaussian channel,
    N = 256, d = 8, sigma = 1 (paired draws, ``benchmarks/estimator_radial_bias.py``), InfoNCE
    scores the uniform law on the sphere of radius sqrt(d) 0.051 +- 0.004 nats above N(0, I), so
    its optimum cuts the tails; the two tie at ``w = 0.2``, and ``w = 0.1`` ranks N(0, I) above
    the sphere, a thick shell and a heavier-tailed law.

    Example:
        >>> import torch
        >>> s = torch.randn(5, 5)
        >>> bool(torch.isclose(weighted_infonce(s, 0, 1.0), infonce(s)))
        True
    """
    scores, offset = _check_scores(scores, offset)
    pos = _positives(scores, offset)
    neg = torch.logsumexp(scores.masked_fill(~_negative_mask(scores, offset), -math.inf), dim=1)
    n = scores.shape[1]
    if self_weight == 0.0:
        den = neg
    else:
        den = torch.logaddexp(pos + math.log(self_weight), neg)
    return (pos - den).mean() + math.log(self_weight + n - 1)


def nwj(scores: Tensor, offset: int = 0) -> Tensor:
    """NWJ (f-divergence / "MINE-f") estimate ``E_p[T] - E_q[exp(T - 1)]`` (nats).

    Example:
        >>> import torch
        >>> float(nwj(torch.ones(3, 3)))   # T = 1 everywhere: 1 - e^0 = 0
        0.0
    """
    scores, offset = _check_scores(scores, offset)
    pos = _positives(scores, offset).mean()
    return pos - torch.exp(_log_mean_exp_negatives(scores, offset) - 1.0)


def dv(scores: Tensor, offset: int = 0) -> Tensor:
    """Donsker-Varadhan estimate ``E_p[T] - log E_q[exp T]`` (nats), the plain (biased-gradient)
    MINE objective; :class:`DVBound` adds MINE's moving-average gradient correction.

    Example:
        >>> import torch
        >>> float(dv(torch.zeros(3, 3)))
        0.0
    """
    scores, offset = _check_scores(scores, offset)
    return _positives(scores, offset).mean() - _log_mean_exp_negatives(scores, offset)


def jsd_objective(scores: Tensor, offset: int = 0) -> Tensor:
    """Deep InfoMax's f-GAN JSD objective ``E_p[-softplus(-T)] - E_q[softplus(T)]``.

    Its maximum over critics is ``2 JSD(p_xy || p_x p_y) - log 4``, reached at
    ``T = log p_xy / (p_x p_y)``. It is the *training* objective of the JSD bound, not an MI
    estimate (see :func:`jsd`).

    Example:
        >>> import torch
        >>> round(float(jsd_objective(torch.zeros(2, 2))), 4)   # -2 log 2
        -1.3863
    """
    scores, offset = _check_scores(scores, offset)
    pos = -F.softplus(-_positives(scores, offset)).mean()
    mask = _negative_mask(scores, offset)
    neg = torch.where(mask, F.softplus(scores), torch.zeros_like(scores)).sum() / mask.sum()
    return pos - neg


def jsd(scores: Tensor, offset: int = 0) -> Tensor:
    """MI estimate reported for a critic trained with the JSD objective, in nats.

    The JSD objective is maximized by ``T* = log p_xy / (p_x p_y)``, the pointwise MI, so the
    JSD-trained critic is plugged into the Donsker-Varadhan formula: this returns
    ``dv(scores, offset)``. DV is a lower bound of the MI for *any* critic (up to the small
    upward bias of the log of a sample mean), tight at ``T*``; the JSD objective value itself
    is not an MI estimate. Measured bias on correlated Gaussians: see ``tests/test_bounds.py``.

    Example:
        >>> import torch
        >>> s = torch.randn(5, 5)
        >>> bool(jsd(s) == dv(s))
        True
    """
    return dv(scores, offset)


class BoundOutput(NamedTuple):
    """``loss`` to minimize (differentiable) and ``mi``, the detached MI estimate in nats."""

    loss: Tensor
    mi: Tensor


Gather = Callable[[Tensor], Tensor]


class Bound(nn.Module):
    """A bound as a module: ``forward(scores, offset=0) -> BoundOutput(loss, mi)``.

    :meth:`combine_ranks` says how the bound of a global batch split over several processes is
    put together from each rank's rows; :func:`infomatch.distributed.global_bound` calls it, so
    a new bound brings its own combination and nothing else changes.
    """

    name: str = ""

    def ceiling(self, batch_size: int) -> float | None:
        """Largest value the estimate can take with ``batch_size`` columns; ``None`` if none."""
        return None

    def combine_ranks(self, scores: Tensor, offset: int, gather: Gather) -> BoundOutput:
        """The bound of the global batch from this rank's rows ``(B_local, B_global)`` of its scores.

        ``gather`` is an autograd-aware all-gather along the first axis (every rank calls this
        method in the same order). Returns ``loss`` with the *value* of the global loss and the
        *gradient* of this rank's share, and the global ``mi`` (identical on every rank).

        The default holds for bounds that are means over rows (InfoNCE, NWJ): the mean of the
        ranks' values is the global value.

        Example:
            >>> import torch
            >>> s = torch.randn(4, 4)
            >>> out = InfoNCEBound().combine_ranks(s, 0, lambda t: t)   # one rank
            >>> bool(out.mi == InfoNCEBound()(s).mi)
            True
        """
        loss, mi = self(scores, offset)
        with torch.no_grad():
            parts = gather(torch.stack([loss.detach(), mi.to(loss.dtype)]).unsqueeze(0))  # (W, 2)
            value, mi_global = parts[:, 0].mean(), parts[:, 1].mean()
        return BoundOutput(loss + (value - loss.detach()), mi_global.to(mi.dtype))

    def forward(self, scores: Tensor, offset: int = 0) -> BoundOutput:  # pragma: no cover
        raise NotImplementedError


class InfoNCEBound(Bound):
    """InfoNCE: ``loss = -infonce(scores)``; ``ceiling(N) = log N``.

    Args:
        self_weight: weight ``w`` of the positive in each row's denominator. ``1`` (default) is
            InfoNCE, a lower bound of the MI. ``w < 1`` trains on :func:`weighted_infonce`
            instead, which weakens the ``log N`` cap of each row (``0`` is the leave-one-out
            estimate); the reported ``mi`` stays the InfoNCE lower bound of the same scores.
            Why: with ``N`` in the hundreds, InfoNCE's per-row cap rewards a law whose tails are
            cut (a thick shell) over the Gaussian; see :func:`weighted_infonce`.

    Example:
        >>> import torch
        >>> round(InfoNCEBound().ceiling(512), 3)
        6.238
        >>> s = torch.randn(6, 6)
        >>> out = InfoNCEBound(self_weight=0.2)(s)
        >>> bool(torch.isclose(out.mi, infonce(s))), bool(torch.isclose(-out.loss, weighted_infonce(s, 0, 0.2)))
        (True, True)
    """

    name = "infonce"

    def __init__(self, self_weight: float = 1.0) -> None:
        super().__init__()
        if isinstance(self_weight, bool) or not isinstance(self_weight, (int, float)) \
                or not 0.0 <= float(self_weight) <= 1.0:
            raise ValueError(f"self_weight must be a number in [0, 1]; got {self_weight!r}")
        self.self_weight = float(self_weight)

    def ceiling(self, batch_size: int) -> float | None:
        return math.log(batch_size)

    def forward(self, scores: Tensor, offset: int = 0) -> BoundOutput:
        mi = infonce(scores, offset)
        if self.self_weight == 1.0:
            return BoundOutput(-mi, mi.detach())
        return BoundOutput(-weighted_infonce(scores, offset, self.self_weight), mi.detach())

    def extra_repr(self) -> str:
        return "" if self.self_weight == 1.0 else f"self_weight={self.self_weight}"


class NWJBound(Bound):
    """NWJ: ``loss = -nwj(scores)`` (unbiased gradients)."""

    name = "nwj"

    def forward(self, scores: Tensor, offset: int = 0) -> BoundOutput:
        mi = nwj(scores, offset)
        return BoundOutput(-mi, mi.detach())


class JSDBound(Bound):
    """Deep InfoMax's JSD: trains on ``-jsd_objective``; reports :func:`jsd` (DV of the critic)."""

    name = "jsd"

    def forward(self, scores: Tensor, offset: int = 0) -> BoundOutput:
        loss = -jsd_objective(scores, offset)
        with torch.no_grad():
            mi = jsd(scores.detach(), offset)
        return BoundOutput(loss, mi)

    def combine_ranks(self, scores: Tensor, offset: int, gather: Gather) -> BoundOutput:
        """The loss is a mean over rows; the reported DV estimate needs the log-mean-exp of the
        negatives over all ranks (combined from each rank's logsumexp)."""
        loss, local_mi = self(scores, offset)
        checked, offset = _check_scores(scores, offset)
        b, n = checked.shape
        with torch.no_grad():
            pos = _positives(checked, offset).mean()
            lse = torch.logsumexp(checked.masked_fill(~_negative_mask(checked, offset), -math.inf).reshape(-1), dim=0)
            parts = gather(torch.stack([loss.detach().to(pos.dtype), pos, lse]).unsqueeze(0))  # (W, 3)
            w = parts.shape[0]
            mi = parts[:, 1].mean() - (torch.logsumexp(parts[:, 2], dim=0) - math.log(w * b * (n - 1)))
            value = parts[:, 0].mean().to(loss.dtype)
        return BoundOutput(loss + (value - loss.detach()), mi.to(local_mi.dtype))


class DVBound(Bound):
    """Donsker-Varadhan / MINE with the moving-average bias-corrected gradient.

    The gradient of ``log E_q[e^T]`` is ``grad E_q[e^T] / E_q[e^T]``; a mini-batch estimate of
    the denominator biases it, so MINE replaces the denominator by a moving average ``m`` of the
    mini-batch ``E_q[e^T]``. The loss returned here has the *value* ``-dv(scores)`` and the
    *gradient* ``-(grad E_p[T] - grad E_q[e^T] / m)``. ``m`` is updated (in training mode only)
    as ``m <- (1 - alpha) m + alpha E_q[e^T]``, kept in log space; it starts at the first
    batch's value.

    Args:
        alpha: moving-average rate in (0, 1]; ``1`` disables the correction (plain DV gradient).
    """

    name = "dv"
    log_ema: Tensor
    initialized: Tensor

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = check_probability("alpha", alpha, open_right=False)
        self.register_buffer("log_ema", torch.zeros(()))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def forward(self, scores: Tensor, offset: int = 0) -> BoundOutput:
        scores, offset = _check_scores(scores, offset)
        pos = _positives(scores, offset).mean()
        log_mean = _log_mean_exp_negatives(scores, offset)
        surrogate = self.corrected(log_mean)
        mi = pos - log_mean
        loss = -(pos - surrogate)
        return BoundOutput(loss, mi.detach())

    def combine_ranks(self, scores: Tensor, offset: int, gather: Gather) -> BoundOutput:
        """DV/MINE with the log-mean-exp of the negatives taken over all ranks (differentiable,
        through ``gather``); the moving average is updated with the *global* value, so
        ``log_ema`` stays identical on every rank."""
        scores, offset = _check_scores(scores, offset)
        b, n = scores.shape
        pos = _positives(scores, offset).mean()
        neg = scores.masked_fill(~_negative_mask(scores, offset), -math.inf)
        lse = gather(torch.logsumexp(neg.reshape(-1), dim=0).reshape(1))  # (W,)
        log_mean = torch.logsumexp(lse, dim=0) - math.log(lse.shape[0] * b * (n - 1))
        loss = -(pos - self.corrected(log_mean))
        with torch.no_grad():
            parts = gather(torch.stack([loss.detach(), pos.detach().to(loss.dtype)]).unsqueeze(0))  # (W, 2)
            mi = parts[:, 1].mean() - log_mean.detach().to(loss.dtype)
            value = parts[:, 0].mean()
        return BoundOutput(loss + (value - loss.detach()), mi)

    def corrected(self, log_mean: Tensor) -> Tensor:
        """Update the moving average with ``log_mean`` (training mode) and return MINE's
        surrogate: the value of ``log_mean`` with the gradient of ``E_q[e^T] / ema``."""
        if self.training:
            with torch.no_grad():
                new = log_mean.detach().to(self.log_ema.dtype)
                if not bool(self.initialized) or self.alpha == 1.0:
                    self.log_ema.copy_(new)
                    self.initialized.fill_(True)
                else:
                    decayed = self.log_ema + math.log1p(-self.alpha)
                    self.log_ema.copy_(torch.logaddexp(decayed, new + math.log(self.alpha)))
        ratio = torch.exp(log_mean - self.log_ema.to(log_mean.dtype))  # E_q[e^T] / m
        return log_mean.detach() + ratio - ratio.detach()

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


_BOUNDS: dict[str, type[Bound]] = {
    "infonce": InfoNCEBound,
    "jsd": JSDBound,
    "dv": DVBound,
    "nwj": NWJBound,
}


def make_bound(name: str, **kwargs: Any) -> Bound:
    """Build a bound module by name: ``infonce``, ``jsd``, ``dv`` (alias ``mine``), ``nwj``.

    Example:
        >>> make_bound("dv", alpha=0.1)
        DVBound(alpha=0.1)
    """
    if name == "mine":
        name = "dv"
    check_choice("bound", name, BOUND_NAMES)
    cls = _BOUNDS[name]
    allowed = set(keyword_names(cls.__init__))
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "no options"
        raise ValueError(f"bound_kwargs of the {name} bound accept {accepted}; got {unknown[0]!r}")
    return cls(**kwargs)
