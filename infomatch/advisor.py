"""The noise advisor: pick sigma (or eps) so the capacity sits at a chosen fraction of the
bound's ceiling.

NINE pulls the representation to the prior only while the capacity of the noisy channel is
below what the bound can report: InfoNCE never reports more than ``log N`` (``N`` the number
of candidates each row is scored against: the batch, plus a queue of past negatives). A
capacity at or above ``log N`` is a dead configuration; one far below it wastes accuracy. The
advisor solves the capacity formula for the noise scale:

- Gaussian base: ``(d/2) log(1 + 1/sigma^2) = f log N``  ->  ``sigma = 1 / sqrt(exp(2 f log N / d) - 1)``;
- uniform base: ``d log(1 + 1/(2 eps)) = f log N``  ->  ``eps = 1 / (2 (exp(f log N / d) - 1))``.

With ``d = 8``, ``N = 256`` and ``f = 0.5`` this gives ``sigma = 1`` exactly.

Example:
    >>> round(advise_noise("gaussian", dim=8, negatives=256, fraction=0.5), 6)
    1.0
    >>> from infomatch.priors import get_prior
    >>> eps = advise_noise("uniform", dim=8, negatives=256, fraction=0.5)
    >>> round(get_prior("uniform").capacity(8, eps) / math.log(256), 6)
    0.5
"""

from __future__ import annotations

import math

from infomatch._checks import check_choice, check_positive_int, check_probability

__all__ = ["DEFAULT_CAPACITY_FRACTION", "advise_noise"]

#: the capacity / log(N) ratio used when no noise scale is given (measured on digits and MNIST;
#: see BENCHMARKS.md, "Reaching the prior")
DEFAULT_CAPACITY_FRACTION = 0.5


def advise_noise(base: str, dim: int, negatives: int, fraction: float = DEFAULT_CAPACITY_FRACTION) -> float:
    """The noise scale (sigma for the Gaussian base, eps for the uniform base) that puts the
    capacity at ``fraction * log(negatives)`` nats.

    Args:
        base: ``"gaussian"`` or ``"uniform"`` (a prior's ``base``).
        dim: representation dimension ``d``.
        negatives: candidates per row of the bound (batch size + queue), at least 2.
        fraction: target capacity as a fraction of ``log(negatives)``, in (0, 1).

    Raises:
        ValueError: a bad base, dimension, count or fraction (named with its value).
    """
    check_choice("base", base, ("gaussian", "uniform"))
    dim = check_positive_int("dim", dim)
    negatives = check_positive_int("negatives", negatives)
    if negatives < 2:
        raise ValueError(f"negatives must be at least 2; got {negatives}")
    fraction = check_probability("capacity_fraction", fraction)
    target = fraction * math.log(negatives)
    if base == "gaussian":
        return 1.0 / math.sqrt(math.expm1(2.0 * target / dim))
    return 1.0 / (2.0 * math.expm1(target / dim))
