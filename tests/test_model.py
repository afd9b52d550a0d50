"""NINE: wiring, validation, warnings, config round trip, and the method end to end on toy data."""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch
from torch import nn

from infomatch.model import DEFAULT_EPS, DEFAULT_SIGMA, NINE, NINEOutput
from infomatch.priors import get_prior


def test_output_fields_and_wiring() -> None:
    torch.manual_seed(0)
    nine = NINE(dim=3, sigma=0.5, critic="bilinear")
    h1, h2 = torch.randn(16, 3) * 4 + 1, torch.randn(16, 3) * 2
    g = torch.Generator().manual_seed(3)
    out = nine(h1, h2, generator=g)
    assert isinstance(out, NINEOutput)
    assert out.loss.requires_grad and not out.mi.requires_grad and out.mi.shape == ()
    assert out.capacity == pytest.approx(1.5 * math.log(5)) and out.ceiling == pytest.approx(math.log(16))
    assert out.capacity_exceeds_ceiling is False
    # shared statistics over both views, noise on view 2 only, critic(clean 1, noisy 2)
    both = torch.cat([h1, h2])
    z = (both - both.mean(0)) / torch.sqrt(both.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(out.z, z[:16], rtol=1e-5, atol=1e-5)
    noise = torch.randn(16, 3, generator=torch.Generator().manual_seed(3)) * 0.5
    scores = z[:16] @ (z[16:] + noise).T  # bilinear starts at the identity
    from infomatch.bounds import infonce

    assert float(out.mi) == pytest.approx(float(infonce(scores)), abs=1e-5)
    assert int(nine.normalize.num_batches_tracked) == 1


def test_defaults_and_bases() -> None:
    g = NINE(dim=4)
    assert g.sigma == DEFAULT_SIGMA and g.eps is None and g.normalize.mode == "gaussian"
    assert g.noise.kind == "gaussian" and g.capacity == pytest.approx(2 * math.log(2))
    u = NINE(dim=4, prior="laplace")
    assert u.eps == DEFAULT_EPS and u.sigma is None and u.normalize.mode == "uniform"
    assert u.noise.kind == "uniform" and u.capacity == pytest.approx(4 * math.log(2))
    lg = NINE(dim=2, prior={"name": "laplace", "base": "gaussian"}, sigma=2.0)
    assert lg.normalize.mode == "gaussian" and lg.capacity == pytest.approx(math.log(1.25))
    assert NINE(dim=2, sigma=0.0).capacity == math.inf


def test_eval_mode_uses_running_stats_and_no_noise() -> None:
    nine = NINE(dim=2)
    for _ in range(30):
        nine(torch.randn(64, 2) * 3 + 5, torch.randn(64, 2) * 3 + 5)
    nine.eval()
    h = torch.randn(8, 2) * 3 + 5
    r = nine.representation(h)
    torch.testing.assert_close(r, (h - nine.normalize.running_mean) / torch.sqrt(nine.normalize.running_var + 1e-5))
    out1, out2 = nine(h, h), nine(h, h)
    assert torch.equal(out1.mi, out2.mi)  # no noise in eval: deterministic
    prior_nine = NINE(dim=2, prior="exponential").eval()
    z = prior_nine.to_prior(torch.randn(5, 2))
    assert bool((z >= 0).all())


def test_capacity_warning_once_and_flag() -> None:
    nine = NINE(dim=32, sigma=0.5)  # capacity 16 log 5 = 25.8 >> log 64
    with pytest.warns(UserWarning, match="capacity"):
        out = nine(torch.randn(64, 32), torch.randn(64, 32))
    assert out.capacity_exceeds_ceiling and nine.capacity_exceeds_ceiling
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nine(torch.randn(64, 32), torch.randn(64, 32))  # warned once only
        NINE(dim=32, sigma=0.0)(torch.randn(8, 32), torch.randn(8, 32))  # plain DIM: no warning
        small = NINE(dim=2)(torch.randn(64, 2), torch.randn(64, 2))
    assert small.capacity_exceeds_ceiling is False


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dim": 4, "prior": "student_t", "eps": 0.2, "bound": "dv", "critic": "concat",
         "critic_kwargs": {"hidden": 8, "chunk_size": 4}, "momentum": None, "squash": "sigmoid",
         "bound_kwargs": {"alpha": 0.05}},
        {"dim": 3, "prior": get_prior("logistic", base="gaussian", scale=2.0), "sigma": 0.3, "bound": "nwj"},
        {"dim": 2},
    ],
)
def test_config_round_trip(kwargs: dict) -> None:
    nine = NINE(**kwargs)
    cfg = json.loads(json.dumps(nine.config()))
    again = NINE(**cfg)
    assert again.config() == nine.config()
    again.load_state_dict(nine.state_dict())  # same parameters and buffers
    assert again.prior.to_dict() == nine.prior.to_dict()


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"sigma": -0.1}, "sigma"),
        ({"sigma": float("nan")}, "sigma"),
        ({"eps": 0.1}, "eps"),
        ({"prior": "uniform", "sigma": 1.0}, "sigma"),
        ({"prior": "uniform", "eps": -1.0}, "eps"),
        ({"prior": "cauchy"}, "prior"),
        ({"prior": 3}, "prior"),
        ({"bound": "wasserstein"}, "bound"),
        ({"critic": "transformer"}, "critic"),
        ({"critic_kwargs": {"nope": 1}}, "critic_kwargs"),
        ({"critic_kwargs": [1]}, "critic_kwargs"),
        ({"dim": 0}, "dim"),
        ({"squash": "tanh"}, "squash"),
    ],
)
def test_bad_arguments(kwargs: dict, word: str) -> None:
    kwargs = {"dim": 4, **kwargs}
    with pytest.raises(ValueError, match=word):
        NINE(**kwargs)


@pytest.mark.parametrize(
    ("h1", "h2", "word"),
    [
        (torch.zeros(8, 3), torch.zeros(8, 4), "h1"),
        (torch.zeros(8, 4), torch.zeros(6, 4), "batch size"),
        (torch.zeros(8, 4), torch.zeros(8, 4, dtype=torch.float64), "dtype"),
        (torch.zeros(8, 4, dtype=torch.int64), torch.zeros(8, 4, dtype=torch.int64), "dtype"),
        (torch.full((8, 4), float("inf")), torch.zeros(8, 4), "NaN or inf"),
        (torch.zeros(8), torch.zeros(8), "shape"),
        (torch.zeros(1, 4), torch.zeros(1, 4), "2 columns"),
    ],
)
def test_bad_inputs(h1: torch.Tensor, h2: torch.Tensor, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        NINE(dim=4)(h1, h2)


def test_bfloat16_views() -> None:
    nine = NINE(dim=4)
    out = nine(torch.randn(32, 4, dtype=torch.bfloat16), torch.randn(32, 4, dtype=torch.bfloat16))
    assert math.isfinite(float(out.mi)) and out.z.dtype == torch.bfloat16
    out.loss.backward()


# --------------------------------------------------------------------- end to end on toy data


@pytest.mark.slow
def test_toy_model_reaches_capacity_and_matches_the_gaussian_prior() -> None:
    """Latent s ~ U[-sqrt3, sqrt3]^8 (not Gaussian), observed through a random linear map and a
    tanh (32 features), two views with N(0, 0.05^2) jitter. NINE (Gaussian, sigma = 1, d = 8,
    capacity 4 log 2 = 2.77 < log 256 = 5.55) trains a small MLP encoder; the MI estimate must
    reach >= 85 % of the capacity without exceeding it, and the clean representation must
    have covariance within 0.15 of the identity."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    d, feat, batch, steps = 8, 16, 256, 500
    mix = torch.randn(d, feat, generator=g) / math.sqrt(d)

    def data(n: int) -> torch.Tensor:
        s = (torch.rand(n, d, generator=g) * 2 - 1) * math.sqrt(3)
        return torch.cat([s @ mix, torch.tanh(s @ mix)], dim=1)

    def jitter(x: torch.Tensor) -> torch.Tensor:
        return x + 0.05 * torch.randn(x.shape, generator=g)

    encoder = nn.Sequential(nn.Linear(2 * feat, 128), nn.LeakyReLU(0.01), nn.Linear(128, 128),
                            nn.LeakyReLU(0.01), nn.Linear(128, d))
    nine = NINE(dim=d, prior="gaussian", sigma=1.0)
    assert nine.capacity < math.log(batch)
    opt = torch.optim.Adam([*encoder.parameters(), *nine.parameters()], lr=1e-3)
    for _ in range(steps):
        x = data(batch)
        out = nine(encoder(jitter(x)), encoder(jitter(x)))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    # MI estimate on fresh batches of the training size (noise on, no parameter updates)
    with torch.no_grad():
        mis = torch.tensor([float(nine(encoder(jitter(x)), encoder(jitter(x))).mi)
                            for x in (data(batch) for _ in range(8))])
    mi, se = float(mis.mean()), float(mis.std() / math.sqrt(len(mis)))
    assert 0.85 * nine.capacity <= mi <= nine.capacity + se, (mi, se, nine.capacity)
    nine.eval()
    encoder.eval()
    with torch.no_grad():
        z = nine.representation(encoder(data(8192)))
    cov = torch.cov(z.T)
    assert float((cov - torch.eye(d)).abs().max()) < 0.15
    assert float(z.mean(0).abs().max()) < 0.15
