"""A seeded train / held-out split by permutation (never by position)."""

from __future__ import annotations

import numpy as np

from infomatch._checks import check_positive_int, check_probability


def split_indices(n: int, held_out: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into sorted train and held-out index arrays by a seeded permutation.

    ``round(held_out * n)`` indices are held out (at least 1 and at most ``n - 1`` when
    ``0 < held_out``). The same ``(n, held_out, seed)`` always gives the same split, so saving the
    three numbers is enough to reproduce it; the arrays can also be saved as they are.

    Example:
        >>> train, held = split_indices(10, held_out=0.2, seed=0)
        >>> len(train), len(held), sorted(set(train) | set(held)) == list(range(10))
        (8, 2, True)
    """
    n = check_positive_int("n", n)
    if held_out == 0:
        return np.arange(n, dtype=np.int64), np.empty(0, dtype=np.int64)
    held_out = check_probability("held_out", held_out)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if n < 2:
        raise ValueError(f"n must be >= 2 to hold out a part; got {n}")
    n_held = min(max(int(round(held_out * n)), 1), n - 1)
    perm = np.random.default_rng(int(seed)).permutation(n)
    return np.sort(perm[n_held:]).astype(np.int64), np.sort(perm[:n_held]).astype(np.int64)
