"""Views: shapes, value ranges, determinism under a seed, and what each transform does."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from infomatch.data import ViewMaker, make_views
from infomatch.data.views import default_preset

CASES = [  # (kind, preset, input_shape, expected output_shape)
    ("image", "mnist", (1, 28, 28), (1, 24, 24)),
    ("image", "cifar", (3, 32, 32), (3, 32, 32)),
    ("image", "digits", (1, 8, 8), (1, 8, 8)),
    ("image", "image", (1, 20, 20), (1, 17, 17)),
    ("image", "image", (3, 40, 30), (3, 34, 26)),
    ("image", "none", (1, 10, 10), (1, 10, 10)),
    ("tabular", "tabular", (7,), (7,)),
    ("tabular", "none", (7,), (7,)),
]


def batch(shape: tuple[int, ...], n: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand((n, *shape), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("kind", "preset", "shape", "out"), CASES)
def test_shapes_ranges_and_seed(kind: str, preset: str, shape: tuple, out: tuple) -> None:
    x = batch(shape)
    vm = make_views(kind, preset, shape, seed=5)
    assert isinstance(vm, ViewMaker) and vm.output_shape == out
    v = vm(x)
    assert v.shape == (16, *out) and v.dtype == torch.float32
    assert bool(torch.isfinite(v).all())
    if kind == "image":
        assert float(v.min()) >= 0.0 and float(v.max()) <= 1.0
    same = make_views(kind, preset, shape, seed=5)(x)
    assert torch.equal(v, same)
    ev = vm.eval_transform(x)
    assert ev.shape == (16, *out) and torch.equal(ev, vm.eval_transform(x))
    if preset != "none":
        assert not torch.equal(v, make_views(kind, preset, shape, seed=6)(x))


@pytest.mark.parametrize(("kind", "preset", "shape", "out"), [c for c in CASES if c[1] != "none"])
def test_pair_views_differ(kind: str, preset: str, shape: tuple, out: tuple) -> None:
    x = batch(shape, n=8)
    v1, v2 = make_views(kind, preset, shape, seed=0).pair(x)
    assert v1.shape == v2.shape == (8, *out)
    per_row = (v1 - v2).flatten(1).abs().amax(dim=1)
    assert bool((per_row > 0).all())  # every image's two views differ


def test_seed_sequence_and_global_rng_untouched() -> None:
    x = batch((1, 28, 28))
    a, b = make_views("image", "mnist", (1, 28, 28), seed=1), make_views("image", "mnist", (1, 28, 28), seed=1)
    state = torch.get_rng_state()
    a1, a2 = a(x), a(x)
    assert torch.equal(torch.get_rng_state(), state)  # seeded calls leave the global RNG alone
    assert not torch.equal(a1, a2)  # successive calls move on
    assert torch.equal(b(x), a1) and torch.equal(b(x), a2)  # same seed, same sequence
    a.reseed(1)
    assert torch.equal(a(x), a1)


def test_generator_argument_and_global_seeding() -> None:
    x = batch((1, 8, 8))
    vm = make_views("image", "digits", (1, 8, 8))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(vm(x, generator=g1), vm(x, generator=g2))
    torch.manual_seed(11)
    first = vm(x)
    torch.manual_seed(11)
    assert torch.equal(vm(x), first)  # no seed: torch.manual_seed controls the views


def test_mnist_eval_transform_is_center_crop() -> None:
    x = batch((1, 28, 28), n=3)
    vm = make_views("image", None, (1, 28, 28))
    assert vm.preset == "mnist"
    assert torch.equal(vm.eval_transform(x), x[..., 2:26, 2:26])
    assert torch.equal(make_views("image", "cifar", (3, 32, 32)).eval_transform(batch((3, 32, 32))), batch((3, 32, 32)))


def test_random_crop_is_an_exact_window() -> None:
    x = batch((1, 12, 12), n=10)
    vm = make_views("image", "none", (1, 12, 12), crop=9, seed=0)
    v = vm(x)
    assert v.shape == (10, 1, 9, 9)
    offsets = set()
    for i in range(10):
        hits = [(t, left) for t in range(4) for left in range(4) if torch.equal(v[i], x[i, :, t:t + 9, left:left + 9])]
        assert len(hits) == 1
        offsets.add(hits[0])
    assert len(offsets) > 1  # per-sample parameters, not one crop for the whole batch


def test_noise_only_matches_its_standard_deviation() -> None:
    x = torch.full((64, 1, 16, 16), 0.5)
    vm = make_views("image", "none", (1, 16, 16), noise_std=0.2, clamp=False, seed=0)
    d = vm(x) - x
    assert abs(float(d.mean())) < 0.005 and abs(float(d.std()) - 0.2) < 0.005
    clamped = make_views("image", "none", (1, 16, 16), noise_std=0.2, seed=0)(x)
    assert torch.equal(clamped, (x + d).clamp(0, 1))


def test_flip_only_gives_image_or_its_mirror() -> None:
    x = batch((3, 6, 6), n=32)
    v = make_views("image", "none", (3, 6, 6), flip=True, seed=0)(x)
    same = (v == x).flatten(1).all(1)
    mirrored = (v == x.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all()) and bool(same.any()) and bool(mirrored.any())


TRANSFORMS = [
    dict(crop_mode="resized", crop=(12, 12)),
    dict(crop=(10, 10)),
    dict(padding=2, crop=(12, 12), crop_mode="random"),
    dict(degrees=30.0),
    dict(shear=10.0, scale=(0.8, 1.2)),
    dict(flip=True),
    dict(brightness=0.5, contrast=0.5),
    dict(saturation=0.5, hue=0.2),
    dict(grayscale_p=1.0),
    dict(noise_std=0.5),
]


@pytest.mark.parametrize("overrides", TRANSFORMS, ids=lambda d: "-".join(d))
def test_every_transform_keeps_a_plausible_image(overrides: dict) -> None:
    x = batch((3, 12, 12), n=16)
    vm = make_views("image", "none", (3, 12, 12), seed=0, **overrides)
    v = vm(x)
    assert v.shape == (16, *vm.output_shape)
    assert bool(torch.isfinite(v).all()) and float(v.min()) >= 0.0 and float(v.max()) <= 1.0
    assert not torch.equal(v, x if v.shape == x.shape else vm.eval_transform(x))
    if overrides == {"grayscale_p": 1.0}:
        assert torch.allclose(v[:, 0], v[:, 1]) and torch.allclose(v[:, 1], v[:, 2])


def test_tabular_noise_is_relative_and_masking_uses_batch_mean() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 3, generator=g) * torch.tensor([1.0, 100.0, 0.01])
    d = make_views("tabular", "tabular", (3,), mask_prob=0.0, seed=0)(x) - x
    rel = d.std(0) / x.std(0)
    assert torch.allclose(rel, torch.full((3,), 0.1), rtol=0.08)
    masked = make_views("tabular", "tabular", (3,), noise_std=0.0, mask_prob=1.0)(x)
    assert torch.allclose(masked, x.mean(0, keepdim=True).expand_as(x))
    part = make_views("tabular", "tabular", (3,), noise_std=0.0, mask_prob=0.3, seed=0)(x)
    frac = float((part != x).float().mean())
    assert 0.27 < frac < 0.33


def test_default_presets() -> None:
    assert default_preset("image", (1, 28, 28)) == "mnist"
    assert default_preset("image", (3, 32, 32)) == "cifar"
    assert default_preset("image", (1, 8, 8)) == "digits"
    assert default_preset("image", (1, 32, 32)) == "image"
    assert default_preset("tabular", (9,)) == "tabular"


def test_view_maker_copies_and_pickles() -> None:
    vm = make_views("image", "mnist", (1, 28, 28), seed=2)
    x = batch((1, 28, 28), n=4)
    clone = copy.deepcopy(vm)
    assert torch.equal(clone(x), vm(x))
    assert pickle.loads(pickle.dumps(vm)).output_shape == (1, 24, 24)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("image", "mnist", (1, 28, 28)), {"blur": 1}, r"overrides must be ViewConfig fields"),
        (("image", "none", (1, 28, 28)), {"saturation": 0.3}, r"need 3 channels"),
        (("image", "mnist", (1, 16, 16)), {}, r"at least 24x24"),
        (("image", "cifar", (3, 32)), {}, r"input_shape must be \(C, H, W\)"),
        (("tabular", "cifar", (5,)), {}, r"preset must be 'tabular' or 'none'"),
        (("video", None, (5,)), {}, r"kind must be one of"),
        (("image", "mnist", (1, 28, 28)), {"noise_std": -1.0}, r"noise_std must be"),
        (("image", "none", (1, 8, 8)), {"crop": 9}, r"crop must fit"),
    ],
)
def test_bad_arguments(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_views(*args, **kwargs)


def test_wrong_input_batch() -> None:
    vm = make_views("image", "mnist", (1, 28, 28))
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 28, 28\); got \(2, 1, 24, 24\)"):
        vm(torch.rand(2, 1, 24, 24))
    with pytest.raises(ValueError, match="floating-point"):
        vm(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))


def test_affine_crop_mode_is_a_warp_then_center_crop() -> None:
    x = batch((1, 28, 28), n=32)
    vm = make_views("image", "mnist", (1, 28, 28), crop_mode="affine", degrees=0.0, shear=0.0,
                    scale=None, noise_std=0.0, seed=0)
    assert vm.output_shape == (1, 24, 24)
    v = vm(x)
    assert v.shape == (32, 1, 24, 24) and float(v.min()) >= 0 and float(v.max()) <= 1
    # A pure translation of at most 2 pixels: the mass of a bright square placed in the center
    # stays fully inside the 24x24 window, and offsets vary between samples.
    sq = torch.zeros(32, 1, 28, 28)
    sq[..., 10:18, 10:18] = 1.0
    out = vm(sq)
    mass = out.flatten(1).sum(1)
    assert torch.allclose(mass, torch.full_like(mass, 64.0), atol=1e-3)
    cols = (out.sum(dim=(1, 2)) * torch.arange(24.0)).sum(1) / mass
    assert float((cols - 11.5).abs().max()) <= 2.0 + 1e-4 and float(cols.std()) > 0.3


def test_num_threads_is_restored_and_views_unchanged() -> None:
    x = batch((1, 28, 28), n=4)
    before = torch.get_num_threads()
    one = make_views("image", "mnist", (1, 28, 28), seed=9, num_threads=1)
    ref = make_views("image", "mnist", (1, 28, 28), seed=9)
    assert torch.allclose(one(x), ref(x), atol=1e-5)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="num_threads"):
        make_views("image", "mnist", (1, 28, 28), num_threads=0)
