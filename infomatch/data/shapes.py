"""A procedural shapes dataset with known factors of variation, generated in memory (no download).

Each image is one white shape on black, drawn with 4 x 4 supersampling (anti-aliased). Its five
factors are drawn from fixed grids:

==========  =====================================================
shape       square, ellipse, triangle (3 values; also the class label)
scale       6 values, 0.5 .. 1.0 of the largest size
rotation    6 values, 0 .. 37.5 degrees (within every shape's symmetry period)
x, y        8 values each, centre positions across the middle of the image
==========  =====================================================

``make_shapes()`` with ``n=None`` renders every combination once (3 x 6 x 6 x 8 x 8 = 6,912
images: the factors are then exactly independent); ``n=k`` draws k combinations at random with
``seed``. ``load_dataset("shapes")`` (``--data shapes``) gives the full grid at 24 x 24.

Example:
    >>> ds, factors = make_shapes(n=10, size=16, seed=0)
    >>> ds.x.shape, factors.shape, FACTOR_NAMES
    (torch.Size([10, 1, 16, 16]), (10, 5), ('shape', 'scale', 'rotation', 'x', 'y'))
    >>> bool((ds.labels.numpy() == factors[:, 0]).all())
    True
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from infomatch.data.dataset import ArrayDataset

SHAPES = ("square", "ellipse", "triangle")
FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y")
SCALES = np.linspace(0.5, 1.0, 6)
ROTATIONS = np.deg2rad(np.arange(6) * 7.5)
POSITIONS = np.linspace(-0.45, 0.45, 8)
FACTOR_SIZES = (len(SHAPES), len(SCALES), len(ROTATIONS), len(POSITIONS), len(POSITIONS))
SIZE = 24
_HALF = 0.42  # half-width of the largest shape, in units of the half image
_SUPER = 4


def factor_values(factors: np.ndarray) -> np.ndarray:
    """Factor indices ``(n, 5)`` -> the values they stand for (shape index, scale, rotation in
    radians, x, y in [-1, 1] image units), float64."""
    f = np.asarray(factors)
    return np.stack([f[:, 0].astype(np.float64), SCALES[f[:, 1]], ROTATIONS[f[:, 2]],
                     POSITIONS[f[:, 3]], POSITIONS[f[:, 4]]], axis=1)


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Membership of shape-frame points ``(u, v)`` (unit size) in shape number ``shape``."""
    if shape == 0:  # square
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if shape == 1:  # ellipse, axes 1 and 0.55
        return u * u + (v / 0.55) ** 2 <= 1.0
    # equilateral triangle, circumradius 1, one vertex pointing up (+v)
    r3 = np.float32(np.sqrt(3.0))
    return (v >= -0.5) & (r3 * u + v <= 1.0) & (-r3 * u + v <= 1.0)


def render(factors: np.ndarray, size: int = SIZE, batch: int = 512) -> np.ndarray:
    """Render factor indices ``(n, 5)`` into float32 images ``(n, 1, size, size)`` in [0, 1]."""
    f = np.asarray(factors, dtype=np.int64)
    if f.ndim != 2 or f.shape[1] != 5:
        raise ValueError(f"factors must have shape (n, 5); got {f.shape}")
    for j, (name, m) in enumerate(zip(FACTOR_NAMES, FACTOR_SIZES, strict=True)):
        if len(f) and (f[:, j].min() < 0 or f[:, j].max() >= m):
            raise ValueError(f"factor {name!r} indices must lie in 0..{m - 1}; got {f[:, j].min()}..{f[:, j].max()}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer >= 8; got {size!r}")
    vals = factor_values(f).astype(np.float32)
    s = size * _SUPER
    grid = ((np.arange(s) + 0.5) / s * 2.0 - 1.0).astype(np.float32)
    px, py = np.meshgrid(grid, -grid)  # y up
    out = np.empty((len(f), 1, size, size), dtype=np.float32)
    for k in range(len(SHAPES)):
        rows = np.flatnonzero(f[:, 0] == k)
        for a in range(0, len(rows), batch):
            idx = rows[a:a + batch]
            v = vals[idx]
            dx, dy = px[None] - v[:, 3, None, None], py[None] - v[:, 4, None, None]
            c, sn = np.cos(v[:, 2])[:, None, None], np.sin(v[:, 2])[:, None, None]
            r = (_HALF * v[:, 1])[:, None, None]
            u, w = (c * dx + sn * dy) / r, (-sn * dx + c * dy) / r
            hit = _inside(k, u, w).astype(np.float32)
            out[idx, 0] = hit.reshape(len(idx), size, _SUPER, size, _SUPER).mean(axis=(2, 4))
    return out


def make_shapes(n: int | None = None, size: int = SIZE, seed: int = 0) -> tuple[ArrayDataset, np.ndarray]:
    """The dataset (labels = shape) and its factor indices ``(n, 5)`` in :data:`FACTOR_NAMES` order.

    ``n=None``: the full grid, every combination once, in a seeded shuffled order; else ``n``
    combinations drawn uniformly (with replacement) with ``seed``.
    """
    rng = np.random.default_rng(seed)
    if n is None:
        factors = np.array(list(itertools.product(*[range(m) for m in FACTOR_SIZES])), dtype=np.int64)
        factors = factors[rng.permutation(len(factors))]
    else:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer or None (the full grid); got {n!r}")
        factors = np.stack([rng.integers(0, m, size=int(n)) for m in FACTOR_SIZES], axis=1).astype(np.int64)
    images = render(factors, size)
    ds = ArrayDataset(torch.from_numpy(images), torch.from_numpy(factors[:, 0].copy()), "shapes", "image", SHAPES)
    return ds, factors


def load_shapes_dataset() -> ArrayDataset:
    """``--data shapes``: the full factor grid (6,912 images, 24 x 24), seed 0."""
    return make_shapes(None, SIZE, 0)[0]


def shapes_factors() -> np.ndarray:
    """The factor indices of :func:`load_shapes_dataset`, row for row."""
    return make_shapes(None, SIZE, 0)[1]
