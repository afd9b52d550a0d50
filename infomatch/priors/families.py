"""One-dimensional marginal laws: torch log-densities and two-sided tail maps with scipy twins.

Every inverse CDF goes through the tail probabilities in float64 (see :mod:`infomatch.priors`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy import stats
from torch import Tensor, nn

from infomatch._checks import check_positive
from infomatch.priors.capacity import _LOG_SQRT_2PI


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
