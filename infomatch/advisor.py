"""The noise advisor: pick sigma (or eps) so the MI a matched representation reaches sits at a
chosen fraction of the bound's ceiling.

NINE pulls the representation to the prior only while the capacity of the noisy channel is
below what the bound can report: InfoNCE never reports more than ``log N`` (``N`` the number
of candidates each row is scored against: the batch, plus a queue of past negatives). A
capacity at or above ``log N`` is a dead configuration; one far below it wastes accuracy. The
advisor solves the capacity formula for the noise scale:

- Gaussian base: ``(d/2) log(1 + 1/sigma^2) = f log N``  ->  ``sigma = 1 / sqrt(exp(2 f log N / d) - 1)``;
- uniform base: the capacity ``d log(1 + 1/(2 eps))`` is attained by a lattice, not by the
  uniform law; a representation that *is* uniform reaches only
  :func:`~infomatch.priors.matched_mi` (``d (eps - log 2 eps)`` for ``eps <= 1/2``,
  ``d / (4 eps)`` above). The advisor solves ``matched_mi = f log N`` for eps, so the target
  is what the matched representation can deliver (solving the capacity instead gave eps = 1.21
  at d = 8, N = 256, noise wider than the signal, and training stalled at 14 % of capacity).

With ``d = 8``, ``N = 256`` and ``f = 0.5`` this gives ``sigma = 1`` and ``eps = 0.72``.

Example:
    >>> round(advise_noise("gaussian", dim=8, negatives=256, fraction=0.5), 6)
    1.0
    >>> from infomatch.priors import matched_mi
    >>> eps = advise_noise("uniform", dim=8, negatives=256, fraction=0.5)
    >>> round(eps, 4), round(matched_mi("uniform", 8, eps) / math.log(256), 6)
    (0.7213, 0.5)
"""

from __future__ import annotations

import math

from infomatch._checks import check_choice, check_positive_int, check_probability

__all__ = ["DEFAULT_CAPACITY_FRACTION", "advise_noise", "default_fraction"]

#: the matched-MI / log(N) ratio used when neither the noise nor the fraction is given, per base
#: (measured on digits, BENCHMARKS.md "Reaching the prior": Gaussian 0.5 gives sigma = 1 at d = 8,
#: batch 256; on the uniform base eps = 1.21, 0.72 and 0.5 gave Henze-Zirkler ratios 7.6, 6.7
#: and 3.1, so the uniform base keeps eps = 0.5 there: 0.72 of log 256)
DEFAULT_CAPACITY_FRACTION = {"gaussian": 0.5, "uniform": 0.72}


def default_fraction(base: str) -> float:
    """The advisor's default target fraction for a base law.

    Example:
        >>> default_fraction("gaussian")
        0.5
    """
    check_choice("base", base, ("gaussian", "uniform"))
    return DEFAULT_CAPACITY_FRACTION[base]


def advise_noise(base: str, dim: int, negatives: int, fraction: float | None = None) -> float:
    """The noise scale (sigma for the Gaussian base, eps for the uniform base) that puts the
    MI of an exactly matched representation (the capacity for the Gaussian base) at
    ``fraction * log(negatives)`` nats.

    Args:
        base: ``"gaussian"`` or ``"uniform"`` (a prior's ``base``).
        dim: representation dimension ``d``.
        negatives: candidates per row of the bound (batch size + queue), at least 2.
        fraction: target as a fraction of ``log(negatives)``, in (0, 1); ``None``: the
            base's default (:data:`DEFAULT_CAPACITY_FRACTION`).

    Raises:
        ValueError: a bad base, dimension, count or fraction (named with its value).
    """
    check_choice("base", base, ("gaussian", "uniform"))
    dim = check_positive_int("dim", dim)
    negatives = check_positive_int("negatives", negatives)
    if negatives < 2:
        raise ValueError(f"negatives must be at least 2; got {negatives}")
    fraction = default_fraction(base) if fraction is None else check_probability("capacity_fraction", fraction)
    target = fraction * math.log(negatives)
    if base == "gaussian":
        return 1.0 / math.sqrt(math.expm1(2.0 * target / dim))
    if target <= dim / 2.0:  # eps >= 1/2: matched_mi = d / (4 eps)
        return dim / (4.0 * target)
    # eps < 1/2: d (eps - log 2 eps) is decreasing in eps; solve by bisection on (0, 1/2)
    from scipy.optimize import brentq

    return float(brentq(lambda e: dim * (e - math.log(2.0 * e)) - target, 1e-12, 0.5, xtol=1e-14))
