"""Random one-dimensional slices on the Gaussianized scale: KS per slice and sliced Wasserstein-2.

Under the prior the Gaussianized sample ``g`` is N(0, I), so its projection on any unit vector is
N(0, 1). The slices see joint structure (dependence, non-Gaussian mixtures of coordinates) that
per-coordinate tests miss. Directions are drawn uniformly on the sphere from a fixed seed, so
the same directions are used for the sample and for its references.

The sliced W2 is measured against the prior's exact slice law N(0, 1) (the limit of an
infinitely large prior sample): a finite prior sample would add its own noise, shared by every
evaluation that reuses it. :func:`sliced_wasserstein2` gives the two-sample version.

Example:
    >>> import numpy as np
    >>> g = np.random.default_rng(0).standard_normal((1000, 8))
    >>> out = slice_stats(g)
    >>> bool(out["sliced_w2"] < 0.1), bool(out["slice_ks_min_p_bonferroni"] > 0.01)
    (True, True)
"""

from __future__ import annotations

import numpy as np
from scipy import special

from infomatch.metrics.marginals import ks_columns

__all__ = ["random_directions", "slice_stats", "sliced_wasserstein2", "w2_to_standard_normal"]


def random_directions(d: int, n_slices: int, seed: int = 0) -> np.ndarray:
    """``(d, n_slices)`` unit vectors uniform on the sphere (normalized Gaussian draws).

    Example:
        >>> np.allclose(np.linalg.norm(random_directions(5, 3), axis=0), 1.0)
        True
    """
    v = np.random.default_rng(seed).standard_normal((d, n_slices))
    return v / np.linalg.norm(v, axis=0, keepdims=True)


def _quantiles_at(sorted_x: np.ndarray, m: int) -> np.ndarray:
    """Empirical quantile functions of sorted columns evaluated at ``m`` mid-point levels."""
    n = sorted_x.shape[0]
    if n == m:
        return sorted_x
    levels = (np.arange(m) + 0.5) / m * n - 0.5
    idx = np.clip(np.round(levels).astype(np.int64), 0, n - 1)
    return sorted_x[idx]


def sliced_wasserstein2(x: np.ndarray, y: np.ndarray, directions: np.ndarray) -> float:
    """Sliced W2 between two samples: ``sqrt(mean over slices of W2^2 of the projections)``.

    The 1-D W2 of each slice compares sorted projections (quantile functions, matched at
    ``max(n_x, n_y)`` levels when sizes differ).

    Example:
        >>> x = np.zeros((4, 1)); y = np.ones((4, 1))
        >>> sliced_wasserstein2(x, y, np.ones((1, 1)))
        1.0
    """
    px = np.sort(x @ directions, axis=0)
    py = np.sort(y @ directions, axis=0)
    m = max(px.shape[0], py.shape[0])
    qx, qy = _quantiles_at(px, m), _quantiles_at(py, m)
    return float(np.sqrt(np.mean((qx - qy) ** 2)))


def w2_to_standard_normal(x: np.ndarray, *, assume_sorted: bool = False) -> np.ndarray:
    """Exact squared W2 between the empirical law of each column of ``x`` and N(0, 1).

    With sorted values ``x_(i)`` and ``q_i = Phi^{-1}(i/n)``:
    ``W2^2 = mean(x^2) - 2 sum_i x_(i) (phi(q_{i-1}) - phi(q_i)) + 1``.

    Example:
        >>> x = np.random.default_rng(0).standard_normal((20000, 1))
        >>> bool(w2_to_standard_normal(x)[0] < 1e-3)
        True
    """
    n = x.shape[0]
    s = x if assume_sorted else np.sort(x, axis=0)
    q = special.ndtri(np.arange(n + 1) / n)          # -inf, ..., +inf
    dens = np.exp(-0.5 * q * q) / np.sqrt(2.0 * np.pi)  # phi(+-inf) = 0
    weights = (dens[:-1] - dens[1:])[:, None]          # integral of Phi^{-1} over each cell
    return np.clip((s * s).mean(axis=0) - 2.0 * (s * weights).sum(axis=0) + 1.0, 0.0, None)


def slice_stats(g: np.ndarray, n_slices: int = 64, alpha: float = 0.05,
                seed: int = 0) -> dict[str, float]:
    """KS and W2 against N(0, 1) on ``n_slices`` random projections of ``g`` (Gaussianized scale).

    Returns ``slice_ks_reject_rate`` (fraction of slices with KS p < ``alpha``),
    ``slice_ks_max`` (largest KS distance), ``slice_ks_min_p_bonferroni``
    (``min(1, n_slices * min p)``: valid however dependent the slices are) and ``sliced_w2``
    (``sqrt`` of the mean squared W2 over slices).

    Example:
        >>> g = np.random.default_rng(0).standard_normal((2000, 2)); g[:, 1] = g[:, 0]
        >>> slice_stats(g)["slice_ks_reject_rate"] > 0.5       # fully dependent pair
        True
    """
    dirs = random_directions(g.shape[1], n_slices, seed)
    proj = np.sort(g @ dirs, axis=0)
    d_ks, p = ks_columns(special.ndtr(proj), assume_sorted=True)  # ndtr keeps the order
    return {
        "slice_ks_reject_rate": float((p < alpha).mean()),
        "slice_ks_max": float(d_ks.max()),
        "slice_ks_min_p_bonferroni": float(min(1.0, n_slices * p.min())),
        "sliced_w2": float(np.sqrt(w2_to_standard_normal(proj, assume_sorted=True).mean())),
    }
