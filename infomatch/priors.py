"""Priors the representation can be matched to, and the capacity of the noisy channel.

NINE learns one of two *base* representations (see ``method.md``):

- base ``"gaussian"``: standardized output, trained with N(0, sigma^2) noise; matched to N(0, I).
- base ``"uniform"``: output squashed into [0, 1], trained with U[-eps, eps] noise; matched to
  U([0, 1]^d).

Mutual information is invariant under invertible maps, so any other absolutely continuous
product prior is reached by mapping the base representation coordinate-wise through the
probability integral transform: ``z = F^{-1}(r)`` for base uniform, ``z = F^{-1}(Phi(r))`` for
base gaussian. A non-product prior is reached by a normalizing flow whose base is N(0, I)
(:class:`FlowPrior`, needs the optional dependency ``zuko``).

Inverse CDFs are closed forms in torch where they exist (normal, uniform, Laplace, logistic,
exponential) and ``scipy.stats``'s ``ppf``/``isf`` otherwise (Student-t, beta); the scipy path has
an exact autograd backward (``d F^{-1}(p) / dp = 1 / f(F^{-1}(p))``). Every map goes through the
*tail* probabilities ``min(P(Z <= z), P(Z > z))`` in float64, so both tails keep full precision
(``torch.distributions``' ``icdf`` of ``1 - p`` and even ``torch.special.ndtr`` in float64 lose the
tails beyond about 8 standard deviations); results come back in the input's dtype. Tail
probabilities are clamped to ``[tiny, 1/2]``, so outputs are always finite.

Example:
    >>> import torch
    >>> from infomatch.priors import get_prior
    >>> prior = get_prior("laplace", scale=2.0)          # learned on the uniform base
    >>> prior.base
    'uniform'
    >>> z = prior.from_representation(torch.rand(5, 3))  # U[0,1]^3 -> Laplace(0, 2)^3
    >>> prior.log_prob(z).shape
    torch.Size([5])
    >>> round(get_prior("gaussian").capacity(16, 1.0), 4)   # (16/2) log 2
    5.5452
    >>> get_prior(**prior.to_dict()).to_dict() == prior.to_dict()
    True
"""

from __future__ import annotations

import abc
import math
from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import Tensor, nn

from infomatch._checks import check_choice, check_nonnegative, check_positive, check_positive_int

__all__ = [
    "BASES",
    "PRIOR_NAMES",
    "FlowPrior",
    "Prior",
    "ProductPrior",
    "capacity",
    "get_prior",
    "make_flow_prior",
    "matched_mi",
]

BASES = ("gaussian", "uniform")
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def capacity(base: str, d: int, scale: float) -> float:
    """Capacity in nats of the noisy channel ``r -> r + noise`` for a ``d``-dim base representation.

    Gaussian base with N(0, scale^2) noise: ``(d/2) log(1 + 1/scale^2)``.
    Uniform base with U[-scale, scale] noise: ``d log(1 + 1/(2 scale))``.
    ``inf`` when ``scale == 0`` (no noise: plain DIM, nothing bounds the MI).

    Example:
        >>> round(capacity("uniform", 4, 0.5), 4)   # 4 log 2
        2.7726
    """
    check_choice("base", base, BASES)
    d = check_positive_int("d", d)
    scale = check_nonnegative("scale", scale)
    if scale == 0:
        return math.inf
    if base == "gaussian":
        return 0.5 * d * math.log1p(1.0 / scale**2)
    return d * math.log1p(1.0 / (2.0 * scale))


def matched_mi(base: str, d: int, scale: float) -> float:
    """MI in nats of the noisy channel when the representation follows the base law *exactly*.

    Gaussian base (N(0, I) plus N(0, sigma^2) noise): equal to the capacity. Uniform base
    (U[0, 1]^d plus U[-eps, eps] noise): ``d (eps - log(2 eps))`` for ``eps <= 1/2`` and
    ``d / (4 eps)`` above, *below* the capacity ``d log(1 + 1/(2 eps))`` (a lattice, not the
    uniform law, attains the capacity at finite eps): 72 % of it at eps = 0.5, 95 % at eps = 0.1.
    This is the value a perfectly matched uniform representation reaches.

    Example:
        >>> round(matched_mi("uniform", 4, 0.5), 4), round(capacity("uniform", 4, 0.5), 4)
        (2.0, 2.7726)
    """
    cap = capacity(base, d, scale)
    if base == "gaussian" or math.isinf(cap):
        return cap
    if scale <= 0.5:
        return d * (scale - math.log(2.0 * scale))
    return d / (4.0 * scale)


def _clamp_prob(p: Tensor) -> Tensor:
    """Keep tail probabilities strictly inside (0, 1/2] so that inverse CDFs stay finite."""
    return p.clamp(min=torch.finfo(torch.float64).tiny, max=0.5)


def _as_float(z: Any, name: str) -> Tensor:
    if not isinstance(z, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor; got {type(z).__name__}")
    if not z.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor; got dtype {z.dtype}")
    return z


def _std_normal_tails(r: Tensor) -> tuple[Tensor, Tensor]:
    """``(P(N < r), P(N > r))`` accurate in both tails (``torch.special.ndtr`` underflows to 0
    below r = -8.3 even in float64, so use ``log_ndtr``)."""
    return torch.special.log_ndtr(r).exp(), torch.special.log_ndtr(-r).exp()


# --------------------------------------------------------------------------------------------
# One-dimensional marginal families
# --------------------------------------------------------------------------------------------


class _Family:
    """A one-dimensional continuous law: torch log-density and two-sided tail maps, scipy twin.

    Every map works on tail probabilities so that both tails keep full relative precision:
    ``cdf(z) = P(Z <= z)``, ``sf(z) = P(Z > z)``, ``icdf(p)`` solves ``cdf(z) = p`` and
    ``isf(p)`` solves ``sf(z) = p``, for ``p`` in (0, 1/2]. Subclasses implement ``log_pdf`` and
    ``scipy``; the maps default to scipy (``cdf``/``sf``/``ppf``/``isf``) with an exact autograd
    backward and are overridden by closed forms in torch where one exists. All tensors handled
    here are float64.
    """

    name: str = ""
    defaults: dict[str, float] = {}

    def __init__(self, **params: float) -> None:
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"{unknown[0]} is not a parameter of the {self.name} prior "
                f"(parameters: {', '.join(self.defaults) or 'none'}); got {params[unknown[0]]!r}"
            )
        merged = {**self.defaults, **params}
        self.params: dict[str, float] = {}
        for key, value in merged.items():
            if key == "loc":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise ValueError(f"loc must be a finite number; got {value!r}")
                self.params[key] = float(value)
            else:
                self.params[key] = check_positive(key, value)

    @property
    def scipy(self) -> Any:  # scipy.stats frozen distribution
        raise NotImplementedError

    def log_pdf(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def cdf(self, z: Tensor) -> Tensor:
        return _ScipyMap.apply(z, self, "cdf")

    def sf(self, z: Tensor) -> Tensor:
        return _ScipyMap.apply(z, self, "sf")

    def icdf(self, p: Tensor) -> Tensor:
        return _ScipyMap.apply(p, self, "ppf")

    def isf(self, p: Tensor) -> Tensor:
        return _ScipyMap.apply(p, self, "isf")


class _ScipyMap(torch.autograd.Function):
    """scipy ``cdf``/``sf``/``ppf``/``isf`` with the exact derivative from the torch density."""

    _SIGN = {"cdf": 1.0, "sf": -1.0, "ppf": 1.0, "isf": -1.0}

    @staticmethod
    def forward(ctx: Any, x: Tensor, family: _Family, method: str) -> Tensor:  # type: ignore[override]
        fn = getattr(family.scipy, method)
        out = torch.from_numpy(np.asarray(fn(x.detach().cpu().numpy()), dtype=np.float64))
        out = out.to(device=x.device, dtype=x.dtype)
        ctx.family = family
        ctx.method = method
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
        x, out = ctx.saved_tensors
        sign = _ScipyMap._SIGN[ctx.method]
        if ctx.method in ("cdf", "sf"):  # d/dz = +-f(z)
            deriv = ctx.family.log_pdf(x).exp()
        else:  # d/dp = +-1 / f(z(p))
            deriv = (-ctx.family.log_pdf(out)).exp()
        return sign * grad * deriv, None, None


class _Normal(_Family):
    name = "gaussian"
    defaults = {"loc": 0.0, "scale": 1.0}

    @property
    def scipy(self) -> Any:
        return stats.norm(loc=self.params["loc"], scale=self.params["scale"])

    def _x(self, z: Tensor) -> Tensor:
        return (z - self.params["loc"]) / self.params["scale"]

    def log_pdf(self, z: Tensor) -> Tensor:
        x = self._x(z)
        return -0.5 * x * x - _LOG_SQRT_2PI - math.log(self.params["scale"])

    def cdf(self, z: Tensor) -> Tensor:
        return torch.special.log_ndtr(self._x(z)).exp()

    def sf(self, z: Tensor) -> Tensor:
        return torch.special.log_ndtr(-self._x(z)).exp()

    def icdf(self, p: Tensor) -> Tensor:
        return self.params["loc"] + self.params["scale"] * torch.special.ndtri(p)

    def isf(self, p: Tensor) -> Tensor:
        return self.params["loc"] - self.params["scale"] * torch.special.ndtri(p)


class _Uniform(_Family):
    name = "uniform"
    defaults: dict[str, float] = {}

    @property
    def scipy(self) -> Any:
        return stats.uniform(loc=0.0, scale=1.0)

    def log_pdf(self, z: Tensor) -> Tensor:
        inside = (z >= 0) & (z <= 1)
        return torch.where(inside, torch.zeros_like(z), torch.full_like(z, -math.inf))

    def cdf(self, z: Tensor) -> Tensor:
        return z.clamp(0.0, 1.0)

    def sf(self, z: Tensor) -> Tensor:
        return (1.0 - z).clamp(0.0, 1.0)

    def icdf(self, p: Tensor) -> Tensor:
        return p

    def isf(self, p: Tensor) -> Tensor:
        return 1.0 - p


class _Laplace(_Family):
    name = "laplace"
    defaults = {"loc": 0.0, "scale": 1.0}

    @property
    def scipy(self) -> Any:
        return stats.laplace(loc=self.params["loc"], scale=self.params["scale"])

    def _x(self, z: Tensor) -> Tensor:
        return (z - self.params["loc"]) / self.params["scale"]

    def log_pdf(self, z: Tensor) -> Tensor:
        b = self.params["scale"]
        return -self._x(z).abs() - math.log(2.0 * b)

    def cdf(self, z: Tensor) -> Tensor:
        x = self._x(z)
        return torch.where(x < 0, 0.5 * x.clamp(max=0).exp(), 1.0 - 0.5 * (-x.clamp(min=0)).exp())

    def sf(self, z: Tensor) -> Tensor:
        return self.cdf(2.0 * self.params["loc"] - z)

    # torch.distributions.Laplace.icdf computes log1p(-2|p - 1/2|), which is -inf for p < 1e-17:
    # the closed forms below keep the tails.
    def icdf(self, p: Tensor) -> Tensor:
        return self.params["loc"] + self.params["scale"] * torch.log(2.0 * p)

    def isf(self, p: Tensor) -> Tensor:
        return self.params["loc"] - self.params["scale"] * torch.log(2.0 * p)


class _Logistic(_Family):
    name = "logistic"
    defaults = {"loc": 0.0, "scale": 1.0}

    @property
    def scipy(self) -> Any:
        return stats.logistic(loc=self.params["loc"], scale=self.params["scale"])

    def _x(self, z: Tensor) -> Tensor:
        return (z - self.params["loc"]) / self.params["scale"]

    def log_pdf(self, z: Tensor) -> Tensor:
        x = self._x(z)
        return -x - 2.0 * nn.functional.softplus(-x) - math.log(self.params["scale"])

    def cdf(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self._x(z))

    def sf(self, z: Tensor) -> Tensor:
        return torch.sigmoid(-self._x(z))

    def icdf(self, p: Tensor) -> Tensor:  # torch has no Logistic distribution: closed form
        return self.params["loc"] + self.params["scale"] * (torch.log(p) - torch.log1p(-p))

    def isf(self, p: Tensor) -> Tensor:
        return self.params["loc"] - self.params["scale"] * (torch.log(p) - torch.log1p(-p))


class _Exponential(_Family):
    name = "exponential"
    defaults = {"rate": 1.0}

    @property
    def scipy(self) -> Any:
        return stats.expon(scale=1.0 / self.params["rate"])

    def log_pdf(self, z: Tensor) -> Tensor:
        rate = self.params["rate"]
        dens = math.log(rate) - rate * z
        return torch.where(z >= 0, dens, torch.full_like(z, -math.inf))

    def cdf(self, z: Tensor) -> Tensor:
        return -torch.expm1(-self.params["rate"] * z.clamp(min=0.0))

    def sf(self, z: Tensor) -> Tensor:
        return torch.exp(-self.params["rate"] * z.clamp(min=0.0))

    def icdf(self, p: Tensor) -> Tensor:  # = torch.distributions.Exponential.icdf
        return -torch.log1p(-p) / self.params["rate"]

    def isf(self, p: Tensor) -> Tensor:
        return -torch.log(p) / self.params["rate"]


class _StudentT(_Family):
    """Student-t: torch has no CDF or inverse CDF, so the maps use scipy (exact backward)."""

    name = "student_t"
    defaults = {"df": 5.0, "loc": 0.0, "scale": 1.0}

    @property
    def scipy(self) -> Any:
        p = self.params
        return stats.t(df=p["df"], loc=p["loc"], scale=p["scale"])

    def log_pdf(self, z: Tensor) -> Tensor:
        nu, s = self.params["df"], self.params["scale"]
        x = (z - self.params["loc"]) / s
        const = (
            math.lgamma(0.5 * (nu + 1.0))
            - math.lgamma(0.5 * nu)
            - 0.5 * math.log(nu * math.pi)
            - math.log(s)
        )
        return const - 0.5 * (nu + 1.0) * torch.log1p(x * x / nu)


class _Beta(_Family):
    """Beta(a, b) on [0, 1]: maps through scipy (exact backward)."""

    name = "beta"
    defaults = {"a": 2.0, "b": 2.0}

    @property
    def scipy(self) -> Any:
        return stats.beta(self.params["a"], self.params["b"])

    def log_pdf(self, z: Tensor) -> Tensor:
        a, b = self.params["a"], self.params["b"]
        lbeta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
        inside = (z > 0) & (z < 1)
        zc = z.clamp(1e-300, 1.0 - 2.0**-53)
        dens = (a - 1.0) * torch.log(zc) + (b - 1.0) * torch.log1p(-zc) - lbeta
        return torch.where(inside, dens, torch.full_like(z, -math.inf))


_FAMILIES: dict[str, type[_Family]] = {
    f.name: f for f in (_Normal, _Uniform, _Laplace, _Logistic, _Exponential, _StudentT, _Beta)
}
PRIOR_NAMES: tuple[str, ...] = tuple(_FAMILIES)


# --------------------------------------------------------------------------------------------
# Priors
# --------------------------------------------------------------------------------------------


class Prior(abc.ABC):
    """A target law for the clean representation and the maps to and from the learned base.

    Attributes:
        name: the prior's registry name (``"gaussian"``, ``"laplace"``, ..., ``"flow"``).
        base: ``"gaussian"`` or ``"uniform"``: which normalization mode and noise family NINE
            trains with; the learned representation then follows N(0, I) or U([0, 1]^d).
        marginal: the ``scipy.stats`` frozen distribution of one coordinate (None for a flow).
    """

    name: str
    base: str
    marginal: Any

    @abc.abstractmethod
    def sample(self, n: int, d: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw an i.i.d. sample of shape ``(n, d)`` (float32) from the prior."""

    @abc.abstractmethod
    def log_prob(self, z: Tensor) -> Tensor:
        """Joint log-density of each row of ``z`` ``(n, d)``; returns ``(n,)``."""

    @abc.abstractmethod
    def from_representation(self, r: Tensor) -> Tensor:
        """Map the learned clean representation (base scale) into the prior's space."""

    @abc.abstractmethod
    def to_representation(self, z: Tensor) -> Tensor:
        """Inverse of :meth:`from_representation`."""

    @abc.abstractmethod
    def gaussianize(self, z: Tensor) -> Tensor:
        """Map prior-space values to the N(0, I) scale (identity for the Gaussian prior)."""

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable description; ``get_prior(**prior.to_dict())`` rebuilds it."""

    def capacity(self, d: int, scale: float) -> float:
        """Capacity in nats of the training channel for this prior's base (see :func:`capacity`)."""
        return capacity(self.base, d, scale)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "name")
        return f"{type(self).__name__}({self.name!r}, {args})"


def _check_rows(z: Any, name: str) -> Tensor:
    z = _as_float(z, name)
    if z.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d); got shape {tuple(z.shape)}")
    return z


class ProductPrior(Prior):
    """A product prior ``prod_k F`` reached from the base representation by the inverse CDF.

    ``from_representation(r) = F^{-1}(r)`` for base ``"uniform"`` and ``F^{-1}(Phi(r))`` for base
    ``"gaussian"``; when the prior *is* the base law (Gaussian on base gaussian, uniform on base
    uniform) the map is the identity.

    Args:
        name: one of :data:`PRIOR_NAMES`.
        base: ``"gaussian"`` or ``"uniform"``; default: the prior itself for ``gaussian`` and
            ``uniform``, ``"uniform"`` for every other prior.
        **params: the family's parameters: ``loc``/``scale`` (gaussian, laplace, logistic,
            student_t), ``rate`` (exponential), ``df`` (student_t, default 5), ``a``/``b`` (beta).

    Example:
        >>> import torch
        >>> prior = ProductPrior("student_t", df=3.0, base="gaussian")
        >>> r = torch.randn(4, 2, dtype=torch.float64)
        >>> torch.allclose(prior.to_representation(prior.from_representation(r)), r)
        True
    """

    def __init__(self, name: str, base: str | None = None, **params: float) -> None:
        check_choice("prior", name, PRIOR_NAMES)
        self._family = _FAMILIES[name](**params)
        if base is None:
            base = "gaussian" if name == "gaussian" else "uniform"
        self.base = check_choice("base", base, BASES)
        self.name = name
        self.marginal = self._family.scipy
        standard = self._family.params in ({}, {"loc": 0.0, "scale": 1.0})
        self._identity = standard and name == base

    @property
    def params(self) -> dict[str, float]:
        """The family's parameters (defaults filled in)."""
        return dict(self._family.params)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "base": self.base, **self._family.params}

    # Maps go through the two tail probabilities (lower, upper) so that both tails keep full
    # precision: z = icdf(p) when the base value is in the lower half, isf(p) otherwise.
    def _base_tails(self, r: Tensor) -> tuple[Tensor, Tensor]:
        if self.base == "gaussian":
            return _std_normal_tails(r)
        u = r.clamp(0.0, 1.0)
        return u, 1.0 - u

    def _from_tails(self, lower: Tensor, upper: Tensor) -> Tensor:
        low_side = lower <= upper
        p = _clamp_prob(torch.where(low_side, lower, upper))
        return torch.where(low_side, self._family.icdf(p), self._family.isf(p))

    def _prior_tails_to_base(self, z: Tensor, base: str) -> Tensor:
        lower, upper = self._family.cdf(z), self._family.sf(z)
        if base == "uniform":
            return torch.where(lower <= upper, lower, 1.0 - upper)
        low_side = lower <= upper
        p = _clamp_prob(torch.where(low_side, lower, upper))
        q = torch.special.ndtri(p)
        return torch.where(low_side, q, -q)

    def from_representation(self, r: Tensor) -> Tensor:
        r = _as_float(r, "r")
        if self._identity:
            return r
        return self._from_tails(*self._base_tails(r.double())).to(r.dtype)

    def to_representation(self, z: Tensor) -> Tensor:
        z = _as_float(z, "z")
        if self._identity:
            return z
        return self._prior_tails_to_base(z.double(), self.base).to(z.dtype)

    def gaussianize(self, z: Tensor) -> Tensor:
        z = _as_float(z, "z")
        if self.name == "gaussian":
            p = self._family.params
            return (z - p["loc"]) / p["scale"]
        return self._prior_tails_to_base(z.double(), "gaussian").to(z.dtype)

    def log_prob(self, z: Tensor) -> Tensor:
        z = _check_rows(z, "z")
        return self._family.log_pdf(z.double()).sum(dim=1).to(z.dtype)

    def sample(self, n: int, d: int, generator: torch.Generator | None = None) -> Tensor:
        n = check_positive_int("n", n)
        d = check_positive_int("d", d)
        device = generator.device if generator is not None else None
        if self.base == "gaussian":
            r = torch.randn(n, d, generator=generator, dtype=torch.float64, device=device)
        else:
            r = torch.rand(n, d, generator=generator, dtype=torch.float64, device=device)
        return self.from_representation(r).float()


class FlowPrior(nn.Module, Prior):
    """A non-product prior: a normalizing flow whose base distribution is N(0, I).

    The network learns a Gaussian representation ``r ~ N(0, I)`` (base ``"gaussian"``);
    ``from_representation`` pushes it through the flow's sampling direction (base -> data), so
    the result is distributed as the flow's distribution; ``to_representation`` is the flow's
    normalizing direction (data -> base) and equals :meth:`gaussianize`. ``log_prob`` is the
    flow's density. Works with a ``zuko`` flow (``flow()`` returns a distribution with a
    ``transform`` from data to base and a standard normal ``base``); ``zuko`` is only needed to
    build one (see :func:`make_flow_prior`).

    Args:
        flow: an unconditional ``zuko.flows.Flow`` (any module whose call with no argument
            returns a ``zuko.distributions.NormalizingFlow``) with an N(0, I) base.
        dim: the number of dimensions of the flow.

    Example:
        >>> import torch, zuko
        >>> prior = FlowPrior(zuko.flows.MAF(features=2, transforms=1), dim=2)
        >>> prior.sample(3, 2).shape
        torch.Size([3, 2])
    """

    name = "flow"
    base = "gaussian"
    marginal = None

    def __init__(self, flow: nn.Module, dim: int) -> None:
        super().__init__()
        self.dim = check_positive_int("dim", dim)
        if not callable(flow):
            raise ValueError(f"flow must be a callable zuko flow; got {type(flow).__name__}")
        self.flow = flow

    def _dist(self) -> Any:
        return self.flow()

    def _check(self, z: Any, name: str) -> Tensor:
        z = _check_rows(z, name)
        if z.shape[1] != self.dim:
            raise ValueError(f"{name} must have {self.dim} columns; got shape {tuple(z.shape)}")
        return z

    def from_representation(self, r: Tensor) -> Tensor:
        r = self._check(r, "r")
        return self._dist().transform.inv(r)

    def to_representation(self, z: Tensor) -> Tensor:
        z = self._check(z, "z")
        return self._dist().transform(z)

    def gaussianize(self, z: Tensor) -> Tensor:
        return self.to_representation(z)

    def log_prob(self, z: Tensor) -> Tensor:
        z = self._check(z, "z")
        return self._dist().log_prob(z)

    def sample(self, n: int, d: int, generator: torch.Generator | None = None) -> Tensor:
        n = check_positive_int("n", n)
        d = check_positive_int("d", d)
        if d != self.dim:
            raise ValueError(f"d must equal the flow's dimension {self.dim}; got {d!r}")
        param = next(self.flow.parameters(), None)
        device = param.device if param is not None else None
        r = torch.randn(n, d, generator=generator, device=device)
        with torch.no_grad():
            return self.from_representation(r).float()

    def to_dict(self) -> dict[str, Any]:
        """Description only: the flow's weights live in its ``state_dict``, not in the config."""
        return {"name": "flow", "base": "gaussian", "dim": self.dim}

    def fit(self, data: Tensor, steps: int = 500, lr: float = 1e-3, batch_size: int = 256,
            generator: torch.Generator | None = None) -> FlowPrior:
        """Fit the flow to samples of the target by maximum likelihood (Adam); returns self."""
        data = self._check(data, "data")
        steps = check_positive_int("steps", steps)
        batch_size = check_positive_int("batch_size", batch_size)
        lr = check_positive("lr", lr)
        opt = torch.optim.Adam(self.flow.parameters(), lr=lr)
        for _ in range(steps):
            idx = torch.randint(0, data.shape[0], (min(batch_size, data.shape[0]),), generator=generator)
            loss = -self.log_prob(data[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return self


def make_flow_prior(dim: int, transforms: int = 3, hidden: tuple[int, ...] = (64, 64),
                    kind: str = "nsf") -> FlowPrior:
    """Build a :class:`FlowPrior` around a fresh zuko flow (``kind``: ``"nsf"`` or ``"maf"``).

    Raises ``ImportError`` with install instructions when ``zuko`` is missing.

    Example:
        >>> prior = make_flow_prior(2, transforms=1)
        >>> prior.base
        'gaussian'
    """
    dim = check_positive_int("dim", dim)
    transforms = check_positive_int("transforms", transforms)
    check_choice("kind", kind, ("nsf", "maf"))
    try:
        import zuko  # noqa: PLC0415  (optional dependency, imported lazily)
    except ImportError as exc:  # pragma: no cover - exercised only without zuko
        raise ImportError(
            "flow priors need the optional dependency zuko: pip install 'infomatch[flows]'"
        ) from exc
    cls = zuko.flows.NSF if kind == "nsf" else zuko.flows.MAF
    flow = cls(features=dim, context=0, transforms=transforms, hidden_features=tuple(hidden))
    return FlowPrior(flow, dim)


def get_prior(name: str, **params: Any) -> Prior:
    """Build a prior by name: ``gaussian``, ``uniform``, ``laplace``, ``logistic``,
    ``exponential``, ``student_t`` (``df``), ``beta`` (``a``, ``b``).

    ``base=`` chooses the learned base representation (``"gaussian"`` or ``"uniform"``; default
    ``"uniform"`` for inverse-CDF priors). Flow priors are built in code
    (:class:`FlowPrior` / :func:`make_flow_prior`); ``get_prior("flow")`` raises ValueError.

    Example:
        >>> get_prior("exponential", rate=2.0).to_dict()
        {'name': 'exponential', 'base': 'uniform', 'rate': 2.0}
    """
    if isinstance(name, Prior):
        return name
    if name == "flow":
        raise ValueError(
            "prior must be built in code for flows (FlowPrior(flow, dim) or make_flow_prior(dim)); got 'flow'"
        )
    check_choice("prior", name, PRIOR_NAMES)
    base = params.pop("base", None)
    return ProductPrior(name, base=base, **params)
