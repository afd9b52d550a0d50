"""Priors the representation can be matched to, and the capacity of the noisy channel.

Modules: :mod:`~infomatch.priors.capacity` (capacity, matched MI), :mod:`~infomatch.priors.families`
(one-dimensional laws), :mod:`~infomatch.priors.base` (the :class:`Prior` interface),
:mod:`~infomatch.priors.product` (inverse-CDF product priors), :mod:`~infomatch.priors.flow`
(flow priors); this module builds them by name (:func:`get_prior`).

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

from typing import Any

from infomatch._checks import check_choice
from infomatch.priors.base import Prior, _check_rows  # noqa: F401 - private names kept importable
from infomatch.priors.capacity import BASES, capacity, matched_mi
from infomatch.priors.families import (  # noqa: F401 - private names kept importable
    _FAMILIES,
    PRIOR_NAMES,
    _as_float,
    _clamp_prob,
    _Family,
    _std_normal_tails,
)
from infomatch.priors.flow import FlowPrior, make_flow_prior
from infomatch.priors.product import ProductPrior

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
