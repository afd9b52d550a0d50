"""RandomWarp: the drawn matrices stay in their ranges, the resampling equals a numpy bilinear
reference, a pure integer offset is an exact window, and the views that use it keep their laws."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from infomatch.data import make_views
from infomatch.data.warp import RandomWarp


def numpy_warp(x: np.ndarray, m: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Bilinear inverse mapping with zeros outside, pixel centres at integer coordinates."""
    b, c, h, w = x.shape
    oh, ow = out_hw
    out = np.zeros((b, c, oh, ow))
    for i in range(b):
        full = np.vstack([m[i], [0.0, 0.0, 1.0]])
        inv = np.linalg.inv(full)
        for v in range(oh):
            for u in range(ow):
                sx, sy, _ = inv @ np.array([u, v, 1.0])
                x0, y0 = math.floor(sx), math.floor(sy)
                fx, fy = sx - x0, sy - y0
                acc = np.zeros(c)
                for dy, wy in ((0, 1 - fy), (1, fy)):
                    for dx, wx in ((0, 1 - fx), (1, fx)):
                        yy, xx = y0 + dy, x0 + dx
                        if 0 <= yy < h and 0 <= xx < w:
                            acc += wy * wx * x[i, :, yy, xx]
                out[i, :, v, u] = acc
    return out


def decompose(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(theta, scale, shear angle) of A = R(theta) s [[1, k], [0, 1]]."""
    a = m[:, :, :2]
    s = a[:, :, 0].norm(dim=1)
    theta = torch.atan2(a[:, 1, 0], a[:, 0, 0])
    rt = torch.stack([torch.stack([torch.cos(theta), torch.sin(theta)], 1),
                      torch.stack([-torch.sin(theta), torch.cos(theta)], 1)], 1)
    k = (rt @ a)[:, 0, 1] / s
    return theta, s, torch.atan(k)


def test_matrices_stay_in_their_ranges_and_fix_the_center() -> None:
    torch.manual_seed(0)
    warp = RandomWarp((28, 28), (24, 24), offset="affine", slack=0.5, degrees=10.0, scale=(0.9, 1.1), shear=5.0)
    m = warp.matrices(2000)
    theta, s, shear = decompose(m)
    assert float(theta.abs().max()) <= math.radians(10) + 1e-6 and float(theta.abs().max()) > math.radians(9)
    assert 0.9 - 1e-6 <= float(s.min()) and float(s.max()) <= 1.1 + 1e-6 and float(s.std()) > 0.05
    assert float(shear.abs().max()) <= math.radians(5) + 1e-6 and float(shear.abs().max()) > math.radians(4.5)
    # the source point offset + c goes to the output centre c; offsets within slack x margin of the centre
    c = torch.tensor([11.5, 11.5])
    src = torch.linalg.solve(m[:, :, :2], c - m[:, :, 2])  # A src + t = c
    offset = src - c
    assert float((offset - 2.0).abs().max()) <= 1.0 + 1e-4 and float(offset.std()) > 0.3


@pytest.mark.parametrize("offset", ["random", "affine", "center"])
def test_forward_equals_a_numpy_bilinear_reference(offset: str) -> None:
    x = torch.rand(5, 2, 9, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    warp = RandomWarp((9, 10), (7, 8), padding=1, offset=offset, degrees=20.0, scale=(0.8, 1.2), shear=8.0)
    torch.manual_seed(3)
    m = warp.matrices(5).double()
    torch.manual_seed(3)
    got = warp(x)
    assert got.shape == (5, 2, 7, 8)
    np.testing.assert_allclose(got.numpy(), numpy_warp(x.numpy(), m.numpy(), (7, 8)), atol=1e-6)


def test_integer_offset_alone_is_an_exact_window_of_the_padded_image() -> None:
    x = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    v = RandomWarp((8, 8), (8, 8), padding=1, offset="random")(x)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    seen = set()
    for i in range(40):
        hits = [(t, left) for t in range(3) for left in range(3)
                if torch.allclose(v[i], padded[i, :, t:t + 8, left:left + 8], atol=1e-6)]
        assert len(hits) == 1
        seen.add(hits[0])
    assert len(seen) >= 7  # all nine offsets are possible; per-sample draws


def test_rotation_keeps_the_mass_of_a_centred_blob() -> None:
    x = torch.zeros(64, 1, 15, 15)
    x[..., 5:10, 5:10] = 1.0
    torch.manual_seed(0)
    v = RandomWarp((15, 15), (15, 15), degrees=45.0)(x)
    mass = v.flatten(1).sum(1)
    assert torch.allclose(mass, torch.full_like(mass, 25.0), atol=0.75)
    ys, xs = torch.meshgrid(torch.arange(15.0), torch.arange(15.0), indexing="ij")
    cx = (v[:, 0] * xs).flatten(1).sum(1) / mass
    cy = (v[:, 0] * ys).flatten(1).sum(1) / mass
    assert float((cx - 7).abs().max()) < 0.05 and float((cy - 7).abs().max()) < 0.05
    assert not torch.allclose(v[0], v[1])  # per-sample angles


def test_digits_and_mnist_views_use_one_warp_and_stay_seeded() -> None:
    for shape, preset in (((1, 8, 8), "digits"), ((1, 28, 28), "mnist")):
        vm = make_views("image", preset, shape, seed=4)
        warps = [op for op in vm.pipeline if isinstance(op, RandomWarp)]
        assert len(warps) == 1 and len(vm.pipeline) == 1
        x = torch.rand(16, *shape)
        again = make_views("image", preset, shape, seed=4)
        assert torch.equal(vm(x), again(x))


@pytest.mark.parametrize("kwargs, match", [
    (dict(offset="left"), "offset"),
    (dict(degrees=-1.0), "degrees"),
    (dict(slack=2.0), "slack"),
    (dict(scale=(1.2, 0.8)), "scale"),
])
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RandomWarp((8, 8), (8, 8), **kwargs)
    with pytest.raises(ValueError, match="does not fit"):
        RandomWarp((8, 8), (12, 12), padding=1)


def test_zero_slack_is_the_evaluation_center_crop_also_for_an_odd_margin() -> None:
    x = torch.rand(6, 3, 20, 20, generator=torch.Generator().manual_seed(2))
    vm = make_views("image", "none", (3, 20, 20), crop=(17, 17), crop_mode="affine", crop_slack=0.0, seed=0)
    assert torch.allclose(vm(x), vm.eval_transform(x), atol=1e-6)
    assert torch.allclose(vm.eval_transform(x), x[..., 1:18, 1:18])
