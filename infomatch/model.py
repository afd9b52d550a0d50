"""NINE: Noise-Injected Deep InfoMax as one module to drop into a training loop.

``NINE`` wires the blocks together: normalize both views' encoder outputs with shared batch
statistics, add noise to view 2, score the clean view 1 against the noisy view 2 with a critic,
and maximize an MI lower bound. What follows the prior afterwards is the *clean* normalized
output (:meth:`NINE.representation`); :meth:`NINE.to_prior` maps it into the prior's space.

Defaults and why:

- Gaussian base (prior ``"gaussian"``, flows): ``sigma = 1.0``, capacity
  ``(d/2) log 2 ~ 0.35 d`` nats, half a bit per dimension.
- Uniform base (prior ``"uniform"`` and the inverse-CDF priors): ``eps = 0.5``, capacity
  ``d log 2 ~ 0.69 d`` nats, one bit per dimension. A lattice attains this capacity; an exactly
  uniform representation reaches ``infomatch.priors.matched_mi`` = ``d / 2`` nats (72 %) at
  eps = 0.5, so judge the uniform base's MI against ``matched_mi``, not the capacity.
- The capacity must stay below ``log B`` (InfoNCE cannot report more): e.g. with B = 512
  (log B = 6.24) that is d <= 17 at sigma = 1 and d <= 8 at eps = 0.5. Larger noise lowers the
  capacity: ``sigma = 1 / sqrt(exp(2 log(B) / d) - 1)`` puts it exactly at log B. When the
  capacity is ``>= log B`` NINE warns once (``UserWarning``) and sets
  ``capacity_exceeds_ceiling``: the bound then saturates before the representation's
  distribution is pulled to the prior. With noise scale 0 (plain DIM) the capacity is infinite;
  the flag is set but no warning is raised, since no matching was asked for. For the DV, NWJ
  and JSD bounds ``log B`` is not a hard ceiling but the practical limit of sample-based MI
  estimation (McAllester and Stratos, 2020), so the same check applies.

Example:
    >>> import torch
    >>> nine = NINE(dim=4, prior="gaussian", sigma=1.0)
    >>> out = nine(torch.randn(64, 4), torch.randn(64, 4))
    >>> out.loss.backward()
    >>> round(out.capacity, 4), round(out.ceiling, 4)
    (1.3863, 4.1589)
    >>> NINE(**nine.config()).config() == nine.config()
    True
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from infomatch._checks import (
    check_choice,
    check_matrix,
    check_nonnegative,
    check_nonnegative_int,
    check_positive_int,
)
from infomatch.bounds import Bound, make_bound
from infomatch.critics import make_critic
from infomatch.distributed import SyncNormalize, SyncWhiten, cross_scores, global_bound, world_size
from infomatch.noise import NoiseInjection
from infomatch.priors import Prior, get_prior

__all__ = ["DEFAULT_EPS", "DEFAULT_SEPARABLE", "DEFAULT_SIGMA", "NINE", "CapacityWarning", "NINEOutput",
           "capacity_message"]

#: why a capacity at or above ``log N`` cannot pull the representation to the prior (the warning's reason)
CEILING_REASON = ("InfoNCE never reports more than log N, and no MI lower bound certifies much more from "
                  "N samples, so the bound saturates before the representation is pulled to the prior")


class CapacityWarning(UserWarning):
    """The noise capacity is at or above ``log N`` (``N`` candidates per row): filter by this category."""


def capacity_message(capacity: float, negatives: int) -> str:
    """The text of the capacity warning, for a capacity in nats and ``negatives`` candidates per row.

    Example:
        >>> capacity_message(6.92, 128).split(":")[0]
        'capacity 6.920 nats >= log(batch size 128) = 4.852'
    """
    return (f"capacity {capacity:.3f} nats >= log(batch size {negatives}) = {math.log(negatives):.3f}: "
            f"{CEILING_REASON}; increase the noise (sigma/eps), lower dim or enlarge the batch")

NORMALIZATIONS = ("standardize", "whiten")
DEFAULT_SIGMA = 1.0
DEFAULT_EPS = 0.5
#: critic_kwargs used for ``critic="separable"`` when none are given: ``-|s_a a - s_b b|^2 / (2 t)``
#: with learnable scales and temperature contains the optimal InfoNCE critic of the Gaussian
#: channel (a plain dot product does not: it lacks the ``-|b|^2`` term).
DEFAULT_SEPARABLE: dict[str, Any] = {"similarity": "euclidean", "head": "scale", "learn_temperature": True}


def _noise_variance(base: str, scale: float) -> float:
    """Variance of one noise coordinate (sigma^2, or eps^2 / 3 for uniform noise); for scale 0
    the variance of one representation coordinate (1, or 1/12 on [0, 1])."""
    if scale == 0:
        return 1.0 if base == "gaussian" else 1.0 / 12.0
    return scale**2 if base == "gaussian" else scale**2 / 3.0


@dataclass(frozen=True)
class NINEOutput:
    """What one NINE step returns.

    Attributes:
        loss: the differentiable loss (negative bound) to minimize.
        mi: the detached MI estimate in nats (0-dim float tensor).
        capacity: capacity of the noisy channel in nats (``inf`` without noise).
        ceiling: the bound's ceiling ``log N`` (InfoNCE) or ``None``.
        z: the clean normalized representation of view 1, ``(B, d)`` (with gradient).
        capacity_exceeds_ceiling: ``capacity >= log N``: the bound cannot pull the
            representation to the prior.
    """

    loss: Tensor
    mi: Tensor
    capacity: float
    ceiling: float | None
    z: Tensor
    capacity_exceeds_ceiling: bool


def _resolve_prior(prior: Any) -> Prior:
    if isinstance(prior, Prior):
        return prior
    if isinstance(prior, dict):
        if "name" not in prior:
            raise ValueError(f"prior must be a name, a Prior or a dict with a 'name' key; got {prior!r}")
        return get_prior(**prior)
    if isinstance(prior, str):
        return get_prior(prior)
    raise ValueError(f"prior must be a name, a Prior or a dict; got {type(prior).__name__}")


class NINE(nn.Module):
    """Normalize + noise + critic + bound: the Noise-Injected Deep InfoMax objective.

    Args:
        dim: dimension ``d`` of the encoder output.
        prior: a prior name (``gaussian``, ``uniform``, ``laplace``, ``logistic``,
            ``exponential``, ``student_t``, ``beta``), a ``dict`` from ``Prior.to_dict()``, or a
            :class:`~infomatch.priors.Prior` (e.g. a ``FlowPrior``). Its ``base`` picks the
            normalization mode and the noise family.
        sigma: std of the Gaussian noise (Gaussian base only); default ``1.0``; ``0`` = DIM.
        eps: half-width of the uniform noise (uniform base only); default ``0.5``; ``0`` = DIM.
        bound: ``infonce``, ``jsd``, ``dv`` or ``nwj``.
        critic: ``separable``, ``bilinear`` or ``concat``.
        critic_kwargs: extra arguments of the critic (see :mod:`infomatch.critics`); ``None``
            with ``critic="separable"`` means :data:`DEFAULT_SEPARABLE` (Euclidean similarity,
            learnable scales, temperature starting at the noise variance), otherwise the critic's own defaults.
        momentum: running-statistics momentum of the normalization (``None``: cumulative).
        squash: ``ndtr`` or ``sigmoid`` (uniform base only).
        bound_kwargs: extra arguments of the bound (e.g. ``alpha`` for ``dv``).
        normalization: ``"standardize"`` (per-coordinate, the paper's) or ``"whiten"``
            (full-covariance batch whitening, :class:`~infomatch.whiten.Whiten`: every training
            batch has covariance exactly ``I``; the bound still holds since the Gaussian is the
            maximum-entropy law at unit covariance).
        whiten_method: ``"cholesky"`` or ``"zca"`` (``normalization="whiten"`` only).
        branch_statistics: ``"shared"`` normalizes both views with the statistics of their
            union; ``"separate"`` normalizes each view with its own batch statistics and keeps
            running statistics of view 2 only. Use ``"separate"`` when the two views come from
            different distributions (e.g. view 2 is the clean input): the capacity bound needs
            the noised view itself to have unit variance.
        symmetric: also score clean view 2 against noisy view 1 (independent noise) and
            average the two directional losses; the reported MI is their mean.
        gaussianize: end the normalization with :class:`~infomatch.gaussianize.Gaussianize`:
            each coordinate mapped to N(0, 1) through its empirical CDF (batch ranks in
            training, running quantiles in evaluation).
        radialize: end the normalization (after ``gaussianize``) with
            :class:`~infomatch.radialize.Radialize`: each row's norm mapped to the chi(d) law through
            its empirical CDF, its direction kept.
        final_whiten: end the normalization (after the stages above) with a
            :class:`~infomatch.whiten.Whiten` of their output: the stages keep each variance at 1
            but not the correlations; this sets the covariance back to ``I`` (batch statistics in
            training, running ones in evaluation).
        final_whiten_method: that whitening's matrix, ``"cholesky"`` or ``"zca"`` (the whitening
            closest to the identity: each coordinate moves least from the stages' N(0, 1) law).
        queue: size of a memory of past noisy view-2 representations used as extra negatives
            (one process only); the InfoNCE ceiling becomes ``log(B + queue)``.
    """

    def __init__(
        self,
        dim: int,
        prior: str | dict[str, Any] | Prior = "gaussian",
        sigma: float | None = None,
        eps: float | None = None,
        bound: str = "infonce",
        critic: str = "separable",
        critic_kwargs: dict[str, Any] | None = None,
        momentum: float | None = 0.1,
        squash: str = "ndtr",
        bound_kwargs: dict[str, Any] | None = None,
        normalization: str = "standardize",
        whiten_method: str = "cholesky",
        branch_statistics: str = "shared",
        symmetric: bool = False,
        queue: int = 0,
        gaussianize: bool = False,
        radialize: bool = False,
        final_whiten: bool = False,
        final_whiten_method: str = "cholesky",
    ) -> None:
        super().__init__()
        self.dim = check_positive_int("dim", dim)
        self.prior = _resolve_prior(prior)
        base = self.prior.base
        if base == "gaussian":
            if eps is not None:
                raise ValueError(
                    f"eps must be None for a prior on the gaussian base (use sigma); got {eps!r}"
                )
            scale = DEFAULT_SIGMA if sigma is None else check_nonnegative("sigma", sigma)
        else:
            if sigma is not None:
                raise ValueError(
                    f"sigma must be None for a prior on the uniform base (use eps); got {sigma!r}"
                )
            scale = DEFAULT_EPS if eps is None else check_nonnegative("eps", eps)
        self.scale = scale
        if critic_kwargs is not None and not isinstance(critic_kwargs, dict):
            raise ValueError(f"critic_kwargs must be a dict or None; got {critic_kwargs!r}")
        if bound_kwargs is not None and not isinstance(bound_kwargs, dict):
            raise ValueError(f"bound_kwargs must be a dict or None; got {bound_kwargs!r}")
        if critic_kwargs is None:
            critic_kwargs = dict(DEFAULT_SEPARABLE) if critic == "separable" else {}
            if critic == "separable":
                # start the temperature at the noise variance (the optimal value for the
                # Gaussian channel): with a fixed start of 1, large noise makes the first
                # scores overconfident and the MI estimate starts far below zero
                critic_kwargs["temperature"] = _noise_variance(base, scale)
        self.critic_kwargs = copy.deepcopy(critic_kwargs)
        self.bound_kwargs = copy.deepcopy(bound_kwargs or {})
        self.normalization = check_choice("normalization", normalization, NORMALIZATIONS)
        self.branch_statistics = check_choice("branch_statistics", branch_statistics, ("shared", "separate"))
        if not isinstance(symmetric, bool):
            raise ValueError(f"symmetric must be True or False; got {symmetric!r}")
        self.symmetric = symmetric
        self.queue_size = check_nonnegative_int("queue", queue)
        # the Sync* layers are the plain ones on one process; with several they use global-batch statistics
        if self.normalization == "whiten":
            self.normalize: SyncNormalize | SyncWhiten = SyncWhiten(
                dim, mode=base, squash=squash, momentum=momentum, method=whiten_method, gaussianize=gaussianize,
                radialize=radialize, final_whiten=final_whiten, final_whiten_method=final_whiten_method)
        else:
            self.normalize = SyncNormalize(dim, mode=base, squash=squash, momentum=momentum, gaussianize=gaussianize,
                                           radialize=radialize, final_whiten=final_whiten,
                                           final_whiten_method=final_whiten_method)
        self.register_buffer("queue", torch.zeros(0, dim), persistent=False)
        self.noise = NoiseInjection(kind=base, scale=scale)
        self.critic = make_critic(critic, dim, **self.critic_kwargs)
        self.bound: Bound = make_bound(bound, **self.bound_kwargs)
        self.critic_name = critic
        self.bound_name = self.bound.name
        self.capacity = self.prior.capacity(dim, scale)
        self.capacity_exceeds_ceiling = False
        self._warned = False

    @property
    def sigma(self) -> float | None:
        return self.scale if self.prior.base == "gaussian" else None

    @property
    def eps(self) -> float | None:
        return self.scale if self.prior.base == "uniform" else None

    def config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-serializable dict: ``NINE(**nine.config())``
        rebuilds the module (a flow prior is described, not stored: pass the flow again)."""
        return {
            "dim": self.dim,
            "prior": self.prior.to_dict(),
            "sigma": self.sigma,
            "eps": self.eps,
            "bound": self.bound_name,
            "critic": self.critic_name,
            "critic_kwargs": copy.deepcopy(self.critic_kwargs),
            "momentum": self.normalize.momentum,
            "squash": self.normalize.squash,
            "bound_kwargs": copy.deepcopy(self.bound_kwargs),
            "normalization": self.normalization,
            "whiten_method": getattr(self.normalize, "method", "cholesky"),
            "branch_statistics": self.branch_statistics,
            "symmetric": self.symmetric,
            "queue": self.queue_size,
            "gaussianize": self.normalize.marginal is not None,
            "radialize": self.normalize.radial is not None,
            "final_whiten": self.normalize.final is not None,
            "final_whiten_method": self.normalize.final.method if self.normalize.final is not None else "cholesky",
        }

    def representation(self, h: Tensor) -> Tensor:
        """The clean normalized representation ``f(X)`` of encoder outputs ``h (B, d)``.

        Uses the module's mode: call ``.eval()`` first to use the running statistics (in
        training mode this uses and updates the batch statistics).
        """
        return self.normalize(h)

    def to_prior(self, h: Tensor) -> Tensor:
        """The representation mapped into the prior's space (``prior.from_representation``)."""
        return self.prior.from_representation(self.representation(h))

    def _check_views(self, h1: Any, h2: Any) -> None:
        check_matrix("h1", h1, dim=self.dim)
        check_matrix("h2", h2, dim=self.dim)
        if h1.shape[0] != h2.shape[0]:
            raise ValueError(
                f"h2 must have the batch size of h1 ({h1.shape[0]}); got shape {tuple(h2.shape)}"
            )
        if h1.dtype != h2.dtype:
            raise ValueError(f"h2 must have the dtype of h1 ({h1.dtype}); got dtype {h2.dtype}")

    def forward(self, h1: Tensor, h2: Tensor, generator: torch.Generator | None = None) -> NINEOutput:
        """One step: ``h1``, ``h2`` are encoder outputs ``(B, d)`` of two views of a batch.

        View 1 stays clean (``a = f(X')``), view 2 gets the noise (``b = f(X) + Z``); the
        critic scores ``a`` against ``b``. ``generator`` fixes the noise draw.

        Under ``torch.distributed`` with several processes (:mod:`infomatch.distributed`), the
        normalization uses global-batch statistics, each rank's rows are scored against the
        noisy view 2 of *all* ranks (``(B_local, B_global)`` scores, positives at column
        ``rank * B_local + i``), ``loss`` and ``mi`` have the values of the global batch, and
        DDP's averaged gradient equals the 1-process gradient of the global batch.
        """
        self._check_views(h1, h2)
        b = h1.shape[0]
        if self.branch_statistics == "shared":
            z = self.normalize(torch.cat([h1, h2], dim=0))
            z1, z2 = z[:b], z[b:]
        else:
            z2 = self.normalize(h2)
            z1 = self.normalize(h1, update=False)
        noisy2 = self.noise(z2, generator=generator)
        columns = noisy2
        use_queue = self.queue_size > 0 and self.training
        if use_queue:
            if world_size() > 1:
                raise ValueError(f"queue must be 0 with several processes (negatives are gathered across ranks instead); got {self.queue_size}")
            columns = torch.cat([noisy2, self.queue.to(noisy2.dtype)], dim=0)
        scores, offset = cross_scores(self.critic, z1, columns)
        out = global_bound(self.bound, scores, offset)
        loss, mi = out.loss, out.mi
        if self.symmetric:
            scores_r, offset_r = cross_scores(self.critic, z2, self.noise(z1, generator=generator))
            out_r = global_bound(self.bound, scores_r, offset_r)
            loss, mi = 0.5 * (loss + out_r.loss), 0.5 * (mi + out_r.mi)
        if use_queue:
            with torch.no_grad():
                self.queue = torch.cat([noisy2.detach().float(), self.queue], dim=0)[: self.queue_size]
        n = scores.shape[1]
        exceeds = self.capacity >= math.log(n)
        self.capacity_exceeds_ceiling = exceeds
        if exceeds and self.scale > 0 and not self._warned:
            self._warned = True
            warnings.warn(capacity_message(self.capacity, n), CapacityWarning, stacklevel=2)
        return NINEOutput(
            loss=loss,
            mi=mi,
            capacity=self.capacity,
            ceiling=self.bound.ceiling(n),
            z=z1,
            capacity_exceeds_ceiling=exceeds,
        )

    def extra_repr(self) -> str:
        return f"dim={self.dim}, prior={self.prior.name!r}, scale={self.scale}, capacity={self.capacity:.4g}"
