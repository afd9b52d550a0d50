"""Normalize: batch/running statistics, uniform squashing, edge cases, dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from infomatch.normalize import Normalize


def test_training_standardizes_gaussian_data_per_coordinate() -> None:
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([3.0, -2.0, 0.5, 10.0])
    std = torch.tensor([0.5, 2.0, 5.0, 1.0])
    h = torch.randn(4096, 4, generator=g) * std + mu
    z = Normalize(4).train()(h)
    np.testing.assert_allclose(z.mean(0).numpy(), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.var(0, unbiased=False).numpy(), 1.0, atol=1e-4)
    # numpy reference of (h - mean) / sqrt(var + eps)
    hn = h.double().numpy()
    ref = (hn - hn.mean(0)) / np.sqrt(hn.var(0) + 1e-5)
    np.testing.assert_allclose(z.numpy(), ref, rtol=1e-4, atol=1e-5)


def test_running_stats_follow_batchnorm_and_are_used_in_eval() -> None:
    g = torch.Generator().manual_seed(1)
    ours = Normalize(3, momentum=0.1)
    ref = torch.nn.BatchNorm1d(3, affine=False, momentum=0.1)
    for _ in range(5):
        h = torch.randn(32, 3, generator=g) * 3 + 1
        torch.testing.assert_close(ours(h), ref(h), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    torch.testing.assert_close(ours.running_var, ref.running_var)
    assert int(ours.num_batches_tracked) == 5
    ours.eval()
    ref.eval()
    h = torch.randn(7, 3, generator=g)
    z = ours(h)
    torch.testing.assert_close(z, ref(h), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(z, (h - ours.running_mean) / torch.sqrt(ours.running_var + 1e-5))
    before = ours.running_mean.clone()
    ours(h)
    assert torch.equal(before, ours.running_mean)  # eval does not update


def test_cumulative_average_with_momentum_none() -> None:
    g = torch.Generator().manual_seed(2)
    norm = Normalize(2, momentum=None)
    batches = [torch.randn(50, 2, generator=g) * (k + 1) + k for k in range(4)]
    for b in batches:
        norm(b)
    torch.testing.assert_close(norm.running_mean, torch.stack([b.mean(0) for b in batches]).mean(0))
    torch.testing.assert_close(norm.running_var, torch.stack([b.var(0) for b in batches]).mean(0))
    norm.reset_running_stats()
    assert int(norm.num_batches_tracked) == 0 and torch.equal(norm.running_var, torch.ones(2))


def test_eval_before_any_statistics_is_identity() -> None:
    h = torch.randn(5, 3)
    z = Normalize(3).eval()(h)
    torch.testing.assert_close(z, h / (1 + 1e-5) ** 0.5)
    u = Normalize(3, mode="uniform").eval()(h)
    torch.testing.assert_close(u, torch.special.ndtr(h), rtol=1e-5, atol=1e-6)


def test_batch_size_one() -> None:
    with pytest.raises(ValueError, match="batch size must be at least 2"):
        Normalize(3).train()(torch.randn(1, 3))
    assert Normalize(3).eval()(torch.randn(1, 3)).shape == (1, 3)


@pytest.mark.parametrize("squash", ["ndtr", "sigmoid"])
def test_uniform_mode(squash: str) -> None:
    g = torch.Generator().manual_seed(3)
    h = torch.randn(20_000, 2, generator=g) * 4 - 1
    u = Normalize(2, mode="uniform", squash=squash)(h)
    assert bool(((u >= 0) & (u <= 1)).all())
    s = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + 1e-5)
    expected = torch.special.ndtr(s) if squash == "ndtr" else torch.sigmoid(s)
    torch.testing.assert_close(u, expected, rtol=1e-4, atol=1e-5)
    if squash == "ndtr":  # Gaussian input -> uniform output
        from scipy import stats

        assert stats.kstest(u[:, 0].numpy(), "uniform").pvalue > 0.01


def test_bfloat16_input_uses_float32_statistics() -> None:
    g = torch.Generator().manual_seed(4)
    h = torch.randn(256, 4, generator=g) * 100 + 1000
    z = Normalize(4)(h.bfloat16())
    assert z.dtype == torch.bfloat16
    ref = Normalize(4)(h.bfloat16().float())
    torch.testing.assert_close(z.float(), ref, rtol=1e-2, atol=1e-2)


@settings(max_examples=25, deadline=None)
@given(
    b=st.integers(2, 64),
    d=st.integers(1, 6),
    loc=st.floats(-1e3, 1e3),
    scale=st.floats(1e-2, 1e2),
    seed=st.integers(0, 2**16),
)
def test_property_zero_mean_unit_variance(b: int, d: int, loc: float, scale: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    h = (torch.randn(b, d, generator=g, dtype=torch.float64) * scale + loc)
    z = Normalize(d)(h)
    assert z.dtype == torch.float64
    assert float(z.mean(0).abs().max()) < 1e-8
    var = h.var(0, unbiased=False)
    np.testing.assert_allclose(z.var(0, unbiased=False).numpy(), (var / (var + 1e-5)).numpy(), rtol=1e-8)


@pytest.mark.parametrize(
    ("make", "word"),
    [
        (lambda: Normalize(0), "dim"),
        (lambda: Normalize(3, mode="beta"), "mode"),
        (lambda: Normalize(3, squash="tanh"), "squash"),
        (lambda: Normalize(3, momentum=1.5), "momentum"),
        (lambda: Normalize(3, momentum=-0.1), "momentum"),
        (lambda: Normalize(3, eps=0.0), "eps"),
    ],
)
def test_bad_arguments(make, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        make()


@pytest.mark.parametrize(
    ("h", "word"),
    [
        (torch.zeros(4, 2), "3 columns"),
        (torch.zeros(4), "shape"),
        (torch.zeros(4, 3, dtype=torch.long), "dtype"),
        (torch.tensor([[0.0, float("nan"), 1.0]] * 3), "NaN"),
        (torch.zeros(0, 3), "empty"),
    ],
)
def test_bad_inputs(h: torch.Tensor, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        Normalize(3)(h)
