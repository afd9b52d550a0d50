"""A seeded train / held-out split by permutation (never by position), saved as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from infomatch._checks import check_positive_int, check_probability
from infomatch._io import atomic_write_text


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


def save_split(path: str | Path, train_idx: np.ndarray, held_idx: np.ndarray, **meta: Any) -> Path:
    """Write a split (and JSON-serializable ``meta`` such as ``seed``, ``held_out``) atomically.

    The file is JSON: ``{"train": [...], "held_out": [...], "meta": {...}}``; it is written to a
    temporary file in the same directory and moved into place with ``os.replace``.

    Example:
        >>> import tempfile, os
        >>> train, held = split_indices(10, 0.3, seed=1)
        >>> path = save_split(os.path.join(tempfile.mkdtemp(), "split.json"), train, held, seed=1)
        >>> [a.tolist() for a in load_split(path)] == [train.tolist(), held.tolist()]
        True
    """
    path = Path(path)
    train = np.asarray(train_idx, dtype=np.int64)
    held = np.asarray(held_idx, dtype=np.int64)
    if np.intersect1d(train, held).size:
        raise ValueError("train_idx and held_idx must be disjoint; got shared indices")
    payload = {"train": train.tolist(), "held_out": held.tolist(), "meta": meta}
    atomic_write_text(path, json.dumps(payload))
    return path


def load_split(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a split written by :func:`save_split` as ``(train_idx, held_idx)`` int64 arrays."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        payload = json.loads(path.read_text())
        train = np.asarray(payload["train"], dtype=np.int64)
        held = np.asarray(payload["held_out"], dtype=np.int64)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a split file ({type(err).__name__}: {err})") from None
    if train.ndim != 1 or held.ndim != 1:
        raise ValueError(f"{path}: not a split file (index lists must be flat)")
    return train, held
