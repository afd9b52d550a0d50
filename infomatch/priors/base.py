"""The :class:`Prior` interface every prior implements."""

from __future__ import annotations

import abc
from typing import Any

import torch
from torch import Tensor

from infomatch.priors.capacity import capacity
from infomatch.priors.families import _as_float

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
