"""NoiseInjection: requested std / range, training only, reproducible with a generator."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from infomatch.noise import NoiseInjection


@pytest.mark.parametrize("sigma", [0.1, 1.0, 3.0])
def test_gaussian_noise_has_requested_std(sigma: float) -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.full((200_000, 2), 5.0)
    n = NoiseInjection("gaussian", sigma)(z, generator=g) - z
    # std of the sample std: sigma / sqrt(2 n) ~ 0.0016 sigma
    assert abs(float(n.std()) - sigma) < 0.01 * sigma
    assert abs(float(n.mean())) < 0.01 * sigma
    assert stats.kstest(n[:5000, 0].numpy() / sigma, "norm").pvalue > 0.01
    # independent coordinates
    assert abs(float(torch.corrcoef(n.T)[0, 1])) < 0.01


@pytest.mark.parametrize("eps", [0.05, 0.5, 2.0])
def test_uniform_noise_has_requested_range(eps: float) -> None:
    g = torch.Generator().manual_seed(1)
    z = torch.zeros(100_000, 3)
    n = NoiseInjection("uniform", eps)(z, generator=g)
    assert float(n.abs().max()) <= eps
    assert float(n.max()) > 0.999 * eps and float(n.min()) < -0.999 * eps
    assert abs(float(n.std()) - eps / math.sqrt(3)) < 0.01 * eps
    assert stats.kstest(n[:5000, 0].numpy(), stats.uniform(-eps, 2 * eps).cdf).pvalue > 0.01


def test_eval_mode_and_zero_scale_add_nothing() -> None:
    z = torch.randn(10, 4)
    noise = NoiseInjection("gaussian", 1.0).eval()
    assert noise(z) is z
    assert NoiseInjection("uniform", 0.0).train()(z) is z


def test_generator_makes_noise_reproducible_and_differentiable() -> None:
    noise = NoiseInjection("gaussian", 0.5)
    z = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    a = noise(z, generator=torch.Generator().manual_seed(7))
    b = noise(z, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and a.dtype == torch.float64
    a.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))


def test_bfloat16_keeps_dtype() -> None:
    z = torch.zeros(1000, 2, dtype=torch.bfloat16)
    n = NoiseInjection("gaussian", 2.0)(z)
    assert n.dtype == torch.bfloat16 and 1.8 < float(n.float().std()) < 2.2


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [({"kind": "laplace"}, "kind"), ({"scale": -0.1}, "scale"), ({"scale": float("inf")}, "scale")],
)
def test_bad_arguments(kwargs: dict, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        NoiseInjection(**kwargs)


def test_bad_input_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        NoiseInjection()(torch.zeros(3))
