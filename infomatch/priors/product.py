"""Product priors reached from the base representation by the inverse CDF."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from infomatch._checks import check_choice, check_positive_int
from infomatch.priors.base import Prior, _check_rows
from infomatch.priors.capacity import BASES
from infomatch.priors.families import (
    _FAMILIES,
    PRIOR_NAMES,
    _as_float,
    _clamp_prob,
    _std_normal_tails,
)


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
