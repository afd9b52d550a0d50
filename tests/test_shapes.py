"""The procedural shapes dataset: seeded, factors drawn from grids, images follow their factors."""

from __future__ import annotations

import numpy as np
import pytest

from infomatch.data import load_dataset
from infomatch.data.shapes import FACTOR_SIZES, POSITIONS, make_shapes, render


def test_full_grid_is_every_combination_once() -> None:
    ds, f = make_shapes(None, size=12, seed=3)
    assert len(ds) == np.prod(FACTOR_SIZES) == 6912
    assert len({tuple(r) for r in f}) == 6912
    assert ds.x.shape == (6912, 1, 12, 12) and ds.kind == "image" and ds.classes == ("square", "ellipse", "triangle")
    assert np.array_equal(ds.labels.numpy(), f[:, 0])
    assert 0.0 <= float(ds.x.min()) and float(ds.x.max()) <= 1.0


def test_seeded_and_random_draws() -> None:
    a, fa = make_shapes(50, seed=1)
    b, fb = make_shapes(50, seed=1)
    c, fc = make_shapes(50, seed=2)
    assert np.array_equal(fa, fb) and bool((a.x == b.x).all())
    assert not np.array_equal(fa, fc)
    for j, m in enumerate(FACTOR_SIZES):
        assert fa[:, j].min() >= 0 and fa[:, j].max() < m


def test_images_follow_their_factors() -> None:
    base = np.array([[0, 5, 0, 4, 4]] * 1)
    size = 32
    full = render(base, size)[0, 0]
    half = render(np.array([[0, 0, 0, 4, 4]]), size)[0, 0]
    # square area ~ scale^2: scale index 5 is 1.0, index 0 is 0.5
    assert full.sum() / half.sum() == pytest.approx(4.0, rel=0.1)
    # centre of mass follows x (right) and y (up)
    for xi in (0, 7):
        img = render(np.array([[1, 3, 0, xi, 2]]), size)[0, 0]
        cols = (img.sum(0) * np.arange(size)).sum() / img.sum()
        expect = (POSITIONS[xi] + 1) / 2 * size - 0.5
        assert cols == pytest.approx(expect, abs=0.3)
    img = render(np.array([[1, 3, 0, 3, 7]]), size)[0, 0]
    rows = (img.sum(1) * np.arange(size)).sum() / img.sum()
    assert rows == pytest.approx((1 - POSITIONS[7]) / 2 * size - 0.5, abs=0.3)
    # rotation and shape change the picture; a square is symmetric under the mirror at rotation 0
    assert not np.allclose(render(np.array([[0, 5, 3, 4, 4]]), size), render(np.array([[0, 5, 0, 4, 4]]), size))
    assert not np.allclose(render(np.array([[1, 5, 0, 4, 4]]), size), full[None, None])
    # an axis-aligned square at mirrored positions gives mirrored images
    left, right = render(np.array([[0, 5, 0, 0, 3], [0, 5, 0, 7, 3]]), size)[:, 0]
    assert np.allclose(left[:, ::-1], right, atol=1e-6)


def test_load_dataset_shapes_and_bad_input() -> None:
    ds = load_dataset("shapes")
    assert ds.x.shape == (6912, 1, 24, 24) and ds.name == "shapes"
    with pytest.raises(ValueError, match="n must be"):
        make_shapes(0)
    with pytest.raises(ValueError, match="factor 'x'"):
        render(np.array([[0, 0, 0, 8, 0]]))
    with pytest.raises(ValueError, match="size"):
        render(np.array([[0, 0, 0, 0, 0]]), size=4)
