"""Priors: probability integral transform against scipy, densities, capacity, round trips."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats

from infomatch.priors import PRIOR_NAMES, FlowPrior, ProductPrior, capacity, get_prior, matched_mi

INVERSE_CDF = [
    ("gaussian", {}),
    ("gaussian", {"loc": 1.5, "scale": 0.5}),
    ("uniform", {}),
    ("laplace", {}),
    ("laplace", {"loc": -1.0, "scale": 2.0}),
    ("logistic", {"scale": 0.7}),
    ("exponential", {"rate": 2.0}),
    ("student_t", {"df": 3.0}),
    ("student_t", {"df": 7.5, "loc": 0.3, "scale": 1.5}),
    ("beta", {"a": 2.0, "b": 5.0}),
]
IDS = [f"{n}-{'-'.join(f'{k}{v}' for k, v in p.items())}" for n, p in INVERSE_CDF]


@pytest.mark.parametrize(("name", "params"), INVERSE_CDF, ids=IDS)
@pytest.mark.parametrize("base", ["uniform", "gaussian"])
def test_pit_of_base_sample_passes_ks(name: str, params: dict, base: str) -> None:
    prior = get_prior(name, base=base, **params)
    g = torch.Generator().manual_seed(1234)
    n = 20_000
    u = torch.rand(n, 2, generator=g, dtype=torch.float64)
    r = u if base == "uniform" else torch.special.ndtri(u)
    z = prior.from_representation(r)
    assert z.shape == (n, 2) and z.dtype == torch.float64
    for k in range(2):
        p = stats.kstest(z[:, k].numpy(), prior.marginal.cdf).pvalue
        assert p > 0.01, (name, base, k, p)


@pytest.mark.parametrize(("name", "params"), INVERSE_CDF, ids=IDS)
def test_sample_follows_marginal(name: str, params: dict) -> None:
    prior = get_prior(name, **params)
    z = prior.sample(20_000, 1, generator=torch.Generator().manual_seed(7))
    assert z.dtype == torch.float32 and z.shape == (20_000, 1)
    assert stats.kstest(z[:, 0].double().numpy(), prior.marginal.cdf).pvalue > 0.01


def test_ks_detects_a_wrong_prior() -> None:
    """The KS check above can fail: a Laplace sample is rejected as logistic."""
    z = get_prior("laplace").sample(20_000, 1, generator=torch.Generator().manual_seed(0))
    assert stats.kstest(z[:, 0].double().numpy(), stats.norm().cdf).pvalue < 0.01


@pytest.mark.parametrize(("name", "params"), INVERSE_CDF, ids=IDS)
def test_log_prob_matches_scipy(name: str, params: dict) -> None:
    prior = get_prior(name, **params)
    z = prior.sample(500, 3, generator=torch.Generator().manual_seed(3)).double()
    ref = prior.marginal.logpdf(z.numpy()).sum(axis=1)
    got = prior.log_prob(z).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-8)


def test_log_prob_outside_support_is_minus_inf() -> None:
    z = torch.tensor([[-0.5], [0.5], [1.5]], dtype=torch.float64)
    assert get_prior("exponential").log_prob(z)[0] == -math.inf
    lp_u = get_prior("uniform").log_prob(z)
    assert lp_u[0] == -math.inf and lp_u[1] == 0.0 and lp_u[2] == -math.inf


@pytest.mark.parametrize(("name", "params"), INVERSE_CDF, ids=IDS)
@pytest.mark.parametrize("base", ["uniform", "gaussian"])
def test_round_trip_and_gaussianize(name: str, params: dict, base: str) -> None:
    prior = get_prior(name, base=base, **params)
    g = torch.Generator().manual_seed(5)
    u = torch.rand(300, 4, generator=g, dtype=torch.float64) * 0.98 + 0.01
    r = u if base == "uniform" else torch.special.ndtri(u)
    z = prior.from_representation(r)
    torch.testing.assert_close(prior.to_representation(z), r, rtol=1e-7, atol=1e-8)
    torch.testing.assert_close(prior.gaussianize(z), torch.special.ndtri(u), rtol=1e-7, atol=1e-8)


def test_from_representation_is_differentiable_including_scipy_path() -> None:
    for name in ("student_t", "laplace", "beta"):
        prior = get_prior(name)
        u = (torch.rand(6, 2, dtype=torch.float64) * 0.9 + 0.05).requires_grad_()
        assert torch.autograd.gradcheck(prior.from_representation, (u,))
        z = prior.from_representation(u).detach().requires_grad_()
        assert torch.autograd.gradcheck(prior.to_representation, (z,))


def test_float32_maps_stay_finite_in_the_tails() -> None:
    prior = get_prior("student_t", df=3.0, base="gaussian")
    r = torch.tensor([[-9.0, 9.0, 0.0]])
    z = prior.from_representation(r)
    assert z.dtype == torch.float32 and bool(torch.isfinite(z).all())
    assert z[0, 0] < -50 and z[0, 1] > 50
    # both tails are computed to full precision: the map is exactly odd for a symmetric prior
    ref = get_prior("student_t", df=3.0).marginal.isf(torch.special.log_ndtr(torch.tensor(-9.0, dtype=torch.float64)).exp().item())
    assert z[0, 1].item() == pytest.approx(ref, rel=1e-5) and z[0, 0].item() == pytest.approx(-ref, rel=1e-5)
    back = prior.to_representation(z.double())
    torch.testing.assert_close(back, r.double(), rtol=1e-6, atol=1e-6)
    u = get_prior("laplace").from_representation(torch.tensor([[0.0, 1.0]]))
    assert bool(torch.isfinite(u).all())


def test_capacity_closed_forms() -> None:
    assert get_prior("gaussian").capacity(16, 1.0) == pytest.approx(8 * math.log(2))
    assert get_prior("gaussian").capacity(2, 0.5) == pytest.approx(math.log(5))
    assert get_prior("uniform").capacity(3, 0.25) == pytest.approx(3 * math.log(3))
    assert get_prior("laplace").capacity(3, 0.25) == pytest.approx(3 * math.log(3))
    assert get_prior("laplace", base="gaussian").capacity(2, 0.5) == pytest.approx(math.log(5))
    assert capacity("gaussian", 4, 0.0) == math.inf
    with pytest.raises(ValueError, match="scale"):
        capacity("gaussian", 4, -1.0)
    with pytest.raises(ValueError, match="d must"):
        capacity("gaussian", 0, 1.0)


@pytest.mark.parametrize(("name", "params"), INVERSE_CDF, ids=IDS)
def test_to_dict_round_trip_through_json(name: str, params: dict) -> None:
    prior = get_prior(name, base="gaussian", **params)
    d = json.loads(json.dumps(prior.to_dict()))
    again = get_prior(**d)
    assert again.to_dict() == prior.to_dict() and again.base == "gaussian"
    r = torch.randn(10, 2, dtype=torch.float64)
    torch.testing.assert_close(again.from_representation(r), prior.from_representation(r))


def test_default_bases() -> None:
    assert get_prior("gaussian").base == "gaussian"
    assert get_prior("uniform").base == "uniform"
    for name in PRIOR_NAMES:
        if name not in ("gaussian", "uniform"):
            assert get_prior(name).base == "uniform"
    # identity maps for the base laws themselves
    r = torch.randn(3, 2)
    assert get_prior("gaussian").from_representation(r) is r
    # a uniform prior learned on the Gaussian base is Phi(r)
    torch.testing.assert_close(get_prior("uniform", base="gaussian").from_representation(r),
                               torch.special.ndtr(r))


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"name": "cauchy"}, "prior"),
        ({"name": "laplace", "base": "beta"}, "base"),
        ({"name": "student_t", "df": -1.0}, "df"),
        ({"name": "laplace", "scale": 0.0}, "scale"),
        ({"name": "laplace", "df": 3.0}, "df"),
        ({"name": "gaussian", "loc": float("nan")}, "loc"),
        ({"name": "flow"}, "prior"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        get_prior(**kwargs)


def test_bad_inputs() -> None:
    prior = get_prior("laplace")
    with pytest.raises(ValueError, match="z"):
        prior.log_prob(torch.zeros(3))
    with pytest.raises(ValueError, match="dtype"):
        prior.from_representation(torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="n must"):
        prior.sample(0, 2)


def test_flow_prior_maps_and_density() -> None:
    zuko = pytest.importorskip("zuko")
    torch.manual_seed(0)
    flow = zuko.flows.NSF(features=2, context=0, transforms=2, hidden_features=(16, 16))
    prior = FlowPrior(flow, dim=2)
    assert prior.base == "gaussian" and prior.marginal is None and prior.name == "flow"
    r = torch.randn(50, 2)
    with torch.no_grad():
        z = prior.from_representation(r)
        torch.testing.assert_close(prior.to_representation(z), r, atol=1e-4, rtol=1e-4)
        assert torch.equal(prior.gaussianize(z), prior.to_representation(z))
        # change of variables: log p(z) = log N(T(z)) + log|det dT/dz|
        _, ladj = flow().transform.call_and_ladj(z)
        ref = torch.distributions.Normal(0.0, 1.0).log_prob(prior.to_representation(z)).sum(1) + ladj
        torch.testing.assert_close(prior.log_prob(z), ref, atol=1e-4, rtol=1e-4)
    s = prior.sample(7, 2, generator=torch.Generator().manual_seed(0))
    assert s.shape == (7, 2) and s.dtype == torch.float32
    with pytest.raises(ValueError, match="d must"):
        prior.sample(7, 3)
    with pytest.raises(ValueError, match="columns"):
        prior.log_prob(torch.zeros(4, 3))


def test_flow_prior_fit_learns_a_non_product_target() -> None:
    pytest.importorskip("zuko")
    from infomatch.priors import make_flow_prior

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 2, generator=g)
    data = torch.stack([x[:, 0], 0.8 * x[:, 0] + 0.6 * x[:, 1]], dim=1)  # correlation 0.8
    prior = make_flow_prior(2, transforms=1, hidden=(16,), kind="maf")
    before = -prior.log_prob(data).mean().item()
    prior.fit(data, steps=150, lr=1e-2, generator=g)
    after = -prior.log_prob(data).mean().item()
    true_nll = 0.5 * 2 * math.log(2 * math.pi * math.e) + 0.5 * math.log(1 - 0.8**2)
    assert after < before and after < true_nll + 0.1
    s = prior.sample(4000, 2, generator=g).numpy()
    assert abs(np.corrcoef(s.T)[0, 1] - 0.8) < 0.05


def test_product_prior_class_is_public() -> None:
    p = ProductPrior("logistic", loc=1.0)
    assert p.params == {"loc": 1.0, "scale": 1.0}
    assert "logistic" in repr(p)


@pytest.mark.parametrize("eps", [0.05, 0.2, 0.5, 0.8, 2.0])
def test_matched_mi_of_uniform_channel_by_numerical_integration(eps: float) -> None:
    """I(U; U + Z) = h(U + Z) - log(2 eps), with the density of U + Z (a trapezoid)
    obtained by numerically convolving the two uniform densities."""
    x = np.linspace(-eps - 1e-9, 1 + eps + 1e-9, 400_001)
    dens = (np.clip(np.minimum(x + eps, 1.0) - np.maximum(x - eps, 0.0), 0, None)) / (2 * eps)
    dx = x[1] - x[0]
    assert abs(dens.sum() * dx - 1) < 1e-4
    mask = dens > 0
    h = -(dens[mask] * np.log(dens[mask])).sum() * dx
    numeric = 3 * (h - math.log(2 * eps))
    assert matched_mi("uniform", 3, eps) == pytest.approx(numeric, abs=1e-3)
    assert matched_mi("uniform", 3, eps) < capacity("uniform", 3, eps)
    assert matched_mi("gaussian", 3, eps) == capacity("gaussian", 3, eps)
