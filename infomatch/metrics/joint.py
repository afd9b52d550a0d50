"""Joint tests for moderate sizes: Henze–Zirkler, Mardia, and an energy-distance permutation test.

All work on the Gaussianized sample ``g`` ``(n, d)``. Henze–Zirkler and Mardia are the classical
affine-invariant tests of multivariate normality (they whiten by the sample covariance, so they
test the *shape* of the joint law; mean and covariance are the moment family's job). The energy
distance compares ``g`` with an independent Gaussianized prior sample and gets an exact
permutation p-value. Their cost grows as ``n^2`` and their null approximations degrade with
``d``, hence the battery runs them only for ``d <= 32`` and ``n <= 4,000``.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> out = joint_stats(rng.standard_normal((300, 3)), rng.standard_normal((300, 3)),
    ...                   n_permutations=99)
    >>> sorted(out)  # doctest: +NORMALIZE_WHITESPACE
    ['energy_distance', 'energy_perm_p', 'hz', 'hz_p', 'mardia_kurtosis_abs_z', 'mardia_kurtosis_p',
     'mardia_skewness', 'mardia_skewness_p']
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["energy_distance", "energy_test", "henze_zirkler", "joint_stats", "mardia"]

_CHUNK = 1024


def _whiten(x: np.ndarray) -> np.ndarray:
    """Center and whiten by the biased sample covariance (eigenvalues floored for stability)."""
    xc = x - x.mean(axis=0)
    cov = np.atleast_2d(np.cov(xc, rowvar=False, bias=True))
    evals, evecs = np.linalg.eigh(cov)
    evals = np.clip(evals, max(evals.max(), 1e-300) * 1e-12, None)
    return xc @ (evecs / np.sqrt(evals))


def _hz_mardia(x: np.ndarray) -> tuple[float, float, float, float]:
    """Henze-Zirkler (statistic, p) and Mardia (skewness n b1 / 6, kurtosis |z|) in one pass.

    Both need the whitened Gram matrix ``Y Y^T``; it is formed in row blocks of ``_CHUNK`` rows
    so memory stays ``O(_CHUNK * n)``.
    """
    n, d = x.shape
    y = _whiten(x)
    sq = np.einsum("ij,ij->i", y, y)
    beta = ((2 * d + 1) / 4.0) ** (1.0 / (d + 4)) * n ** (1.0 / (d + 4)) / math.sqrt(2.0)
    b2 = beta * beta
    pair = 0.0
    cubes = 0.0
    for start in range(0, n, _CHUNK):
        gram = y[start:start + _CHUNK] @ y.T
        cubes += float(np.einsum("ij,ij,ij->", gram, gram, gram))
        dist = sq[start:start + gram.shape[0], None] + sq[None, :] - 2.0 * gram
        np.clip(dist, 0.0, None, out=dist)
        dist *= -0.5 * b2
        pair += float(np.exp(dist, out=dist).sum())
    hz = (pair / n
          - 2.0 * (1 + b2) ** (-d / 2) * float(np.exp(-b2 / (2 * (1 + b2)) * sq).sum())
          + n * (1 + 2 * b2) ** (-d / 2))
    a = 1 + 2 * b2
    wb = (1 + b2) * (1 + 3 * b2)
    mu = 1 - a ** (-d / 2) * (1 + d * b2 / a + d * (d + 2) * b2**2 / (2 * a**2))
    si2 = (2 * (1 + 4 * b2) ** (-d / 2)
           + 2 * a ** (-d) * (1 + 2 * d * b2**2 / a**2 + 3 * d * (d + 2) * b2**4 / (4 * a**4))
           - 4 * wb ** (-d / 2) * (1 + 3 * d * b2**2 / (2 * wb) + d * (d + 2) * b2**4 / (2 * wb**2)))
    pmu = math.log(math.sqrt(mu**4 / (si2 + mu**2)))
    psi = math.sqrt(math.log((si2 + mu**2) / mu**2))
    hz_p = float(stats.lognorm.sf(hz, psi, scale=math.exp(pmu)))
    skew = n * (cubes / (n * n)) / 6.0
    b2_stat = float((sq**2).mean())
    mean_b2 = d * (d + 2) * (n - 1) / (n + 1)
    var_b2 = 8.0 * d * (d + 2) * (n - 3) * (n - d - 1) * (n - d + 1) / ((n + 1) ** 2 * (n + 3) * (n + 5))
    kurt_z = abs(b2_stat - mean_b2) / math.sqrt(max(var_b2, 1e-300))
    return float(hz), hz_p, float(skew), float(kurt_z)


def henze_zirkler(x: np.ndarray) -> tuple[float, float]:
    """Henze-Zirkler statistic and its log-normal p-value (Henze & Zirkler 1990).

    Smoothing ``beta = ((2d + 1) n / 4)^(1/(d+4)) / sqrt(2)``; the null moments of the
    statistic are the closed forms of the paper (as in pingouin / MVN).

    Example:
        >>> x = np.random.default_rng(0).standard_normal((500, 2))
        >>> hz, p = henze_zirkler(x)
        >>> bool(p > 0.01)
        True
    """
    hz, p, _, _ = _hz_mardia(x)
    return hz, p


def mardia(x: np.ndarray) -> tuple[float, float]:
    """Mardia's skewness statistic ``n b1 / 6`` and kurtosis z-score ``|b2 - E b2| / sd(b2)``.

    Under normality the first is asymptotically chi-square with ``d(d+1)(d+2)/6`` degrees of
    freedom; the second uses the exact finite-sample mean ``d(d+2)(n-1)/(n+1)`` and variance
    ``8d(d+2)(n-3)(n-d-1)(n-d+1) / ((n+1)^2 (n+3)(n+5))`` of ``b2`` and is asymptotically
    |N(0, 1)|.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> skew, kz = mardia(rng.standard_t(5, size=(2000, 4)))   # heavy tails
        >>> bool(kz > 5)
        True
    """
    _, _, skew, kurt_z = _hz_mardia(x)
    return skew, kurt_z


def _pairwise_distances(x: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", x, x)
    dist = x @ x.T
    dist *= -2.0
    dist += sq[:, None]
    dist += sq[None, :]
    np.clip(dist, 0.0, None, out=dist)
    return np.sqrt(dist, out=dist)


def energy_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` (V-statistic) between two samples.

    Example:
        >>> energy_distance(np.zeros((3, 1)), np.ones((3, 1)))
        2.0
    """
    return energy_test(x, y, n_permutations=0)[0]


def energy_test(x: np.ndarray, y: np.ndarray, n_permutations: int = 999,
                seed: int = 0) -> tuple[float, float]:
    """Energy distance and its permutation p-value ``(1 + #{E_perm >= E}) / (1 + n_permutations)``.

    All permutations are evaluated at once: with indicator columns ``A`` of the first group,
    the within/between sums are ``A^T D A`` and ``1^T D A - A^T D A`` (one matrix product).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> _, p = energy_test(rng.standard_normal((200, 2)), rng.standard_normal((200, 2)) + 1)
        >>> p
        0.001
    """
    m, k = x.shape[0], y.shape[0]
    dist = _pairwise_distances(np.vstack([x, y]))
    total = float(dist.sum())
    rows = dist.sum(axis=0)

    def stat(a: np.ndarray) -> np.ndarray:  # a: (m + k, P) indicators of group x
        s_xx = np.einsum("ip,ip->p", a, dist @ a)
        r_x = rows @ a
        s_xy = r_x - s_xx
        s_yy = total - 2.0 * r_x + s_xx
        return 2.0 * s_xy / (m * k) - s_xx / m**2 - s_yy / k**2

    observed = np.zeros((m + k, 1))
    observed[:m] = 1.0
    e_obs = float(stat(observed)[0])
    if n_permutations == 0:
        return e_obs, float("nan")
    rng = np.random.default_rng(seed)
    first = np.argsort(rng.random((n_permutations, m + k)), axis=1)[:, :m]   # a random m-subset per column
    perms = np.zeros((m + k, n_permutations))
    perms[first, np.arange(n_permutations)[:, None]] = 1.0
    e_perm = stat(perms)
    p = (1.0 + float((e_perm >= e_obs - 1e-12 * abs(e_obs)).sum())) / (1.0 + n_permutations)
    return e_obs, p


def joint_stats(g: np.ndarray, reference: np.ndarray, n_permutations: int = 999,
                energy_max_n: int = 500, seed: int = 0) -> dict[str, float]:
    """Henze–Zirkler, Mardia and energy statistics of ``g`` (``reference``: an independent prior sample).

    The energy test uses the first ``energy_max_n`` rows of each sample (rows of an i.i.d.
    sample are exchangeable, and the permutation matrix stays small).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> out = joint_stats(rng.standard_normal((400, 2)), rng.standard_normal((400, 2)))
        >>> bool(out["energy_perm_p"] > 0.01)
        True
    """
    d = g.shape[1]
    hz, hz_p, skew, kurt_z = _hz_mardia(g)
    m = min(energy_max_n, g.shape[0], reference.shape[0])
    e, e_p = energy_test(g[:m], reference[:m], n_permutations=n_permutations, seed=seed)
    return {
        "hz": hz,
        "hz_p": hz_p,
        "mardia_skewness": skew,
        "mardia_skewness_p": float(stats.chi2.sf(skew, d * (d + 1) * (d + 2) / 6.0)),
        "mardia_kurtosis_abs_z": kurt_z,
        "mardia_kurtosis_p": float(2.0 * stats.norm.sf(kurt_z)),
        "energy_distance": e,
        "energy_perm_p": e_p,
    }
