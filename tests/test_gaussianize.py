"""Marginal Gaussianization: normal scores in training, the surrogate's gradient, running
quantiles in evaluation, and its place at the end of the normalization."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _stages import before_stages
from scipy import stats

from infomatch.gaussianize import Gaussianize, reference_ranks, silverman_bandwidth, smooth_scores
from infomatch.model import NINE
from infomatch.normalize import Normalize
from infomatch.training.components import (
    Embedder,
    build_components,
    embed_array,
    recalibrate_normalization,
)
from infomatch.training.config import TrainConfig
from infomatch.whiten import Whiten


def _scores(n: int) -> np.ndarray:
    s = stats.norm.ppf((np.arange(n) + 0.5) / n)
    return s / np.sqrt(np.mean(s**2))


def test_training_values_are_the_normal_scores_in_rank_order() -> None:
    torch.manual_seed(0)
    x = torch.cat([torch.rand(300, 1), torch.randn(300, 1).exp(), torch.randn(300, 1)], dim=1).double()
    z = Gaussianize(3)(x).numpy()
    for j in range(3):
        np.testing.assert_allclose(np.sort(z[:, j]), _scores(300), atol=1e-12)
        # same order as the input: a monotone map of each coordinate
        assert (np.argsort(z[:, j]) == np.argsort(x[:, j].numpy())).all()
    np.testing.assert_allclose((z**2).mean(axis=0), 1.0, atol=1e-12)


@pytest.mark.parametrize(("bandwidth", "n_ref"), [(None, 64), (0.2, 64), (None, 8), (0.5, 13)])
def test_gradient_is_the_smooth_maps(bandwidth: float | None, n_ref: int) -> None:
    rng = np.random.default_rng(2)
    x = torch.from_numpy(np.stack([rng.uniform(size=40) * 3, rng.exponential(size=40)], axis=1))
    c = 1 / float(np.sqrt(np.mean(stats.norm.ppf((np.arange(40) + 0.5) / 40) ** 2)))
    h = silverman_bandwidth(40) if bandwidth is None else bandwidth
    got = torch.autograd.functional.jacobian(Gaussianize(2, bandwidth=bandwidth, n_ref=n_ref), x)  # (40, 2, 40, 2)
    want = torch.autograd.functional.jacobian(lambda v: smooth_scores(v, h, c, n_ref), x)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    for j in range(2):
        assert got[:, j, :, 1 - j].abs().max() == 0  # coordinates do not mix
        torch.testing.assert_close(got[:, j, :, j].sum(dim=1), torch.zeros(40, dtype=torch.float64),
                                   atol=1e-12, rtol=0)  # shifting the batch changes nothing


def test_reference_order_statistics_are_evenly_spaced() -> None:
    assert reference_ranks(256, 64).tolist() == list(range(2, 256, 4))
    assert reference_ranks(10, 64).tolist() == list(range(10))


def test_smooth_map_is_close_to_the_ranks_and_its_gradient_bounded() -> None:
    """For N(0, 1) data the map is near the identity: its Jacobian's diagonal is near 1 in the
    bulk and stays bounded at the batch's extremes."""
    torch.manual_seed(3)
    x = torch.randn(400, 1, dtype=torch.float64)
    h = silverman_bandwidth(400)
    gap = (smooth_scores(x, h) - Gaussianize(1)(x)).abs()
    assert float(gap.median()) < 0.05 and float(gap.max()) < 1.0  # the smoothing shortens the tails
    jac = torch.autograd.functional.jacobian(Gaussianize(1), x)[:, 0, :, 0]
    diag = torch.diagonal(jac)
    bulk = x[:, 0].abs() < 1.0
    assert abs(float(diag[bulk].median()) - 1.0) < 0.1
    assert float(diag.max()) < 3.0


def test_evaluation_is_the_identity_before_any_training() -> None:
    g = Gaussianize(3).eval()
    x = torch.linspace(-6, 6, 301, dtype=torch.float64).unsqueeze(1).repeat(1, 3)
    torch.testing.assert_close(g(x), x, atol=1e-5, rtol=0)


def test_evaluation_interpolates_the_running_quantiles() -> None:
    rng = np.random.default_rng(3)
    fit = rng.exponential(size=(2000, 2))
    g = Gaussianize(2, n_quantiles=64)
    g.set_quantiles(torch.from_numpy(fit))
    g.eval()
    levels = (np.arange(64) + 0.5) / 64
    q = np.quantile(fit, levels, axis=0)
    x = np.concatenate([rng.exponential(size=(500, 2)), [[-1.0, 20.0]]])
    got = g(torch.from_numpy(x)).numpy()
    y = stats.norm.ppf(levels)
    for j in range(2):
        want = np.interp(x[:, j], q[:, j], y)
        below, above = x[:, j] < q[0, j], x[:, j] > q[-1, j]
        want[below] = y[0] + x[below, j] - q[0, j]
        want[above] = y[-1] + x[above, j] - q[-1, j]
        np.testing.assert_allclose(got[:, j], want, rtol=0, atol=1e-5)  # quantiles kept in float32


@pytest.mark.parametrize("law", ["uniform", "exponential", "lognormal"])
def test_held_out_sample_of_the_fitted_law_comes_out_normal(law: str) -> None:
    rng = np.random.default_rng(4)
    draw = {"uniform": lambda n: rng.uniform(size=(n, 3)), "exponential": lambda n: rng.exponential(size=(n, 3)),
            "lognormal": lambda n: rng.lognormal(size=(n, 3))}[law]
    g = Gaussianize(3)
    g.set_quantiles(torch.from_numpy(draw(20000)))
    g.eval()
    z = g(torch.from_numpy(draw(2000))).numpy()
    for j in range(3):
        assert stats.kstest(z[:, j], "norm").pvalue > 0.01
        # the raw law is far from normal at this size: the test has power
        assert stats.kstest(draw(2000)[:, j], "norm").pvalue < 1e-6


def test_running_quantiles_average_batch_quantiles() -> None:
    torch.manual_seed(5)
    g = Gaussianize(2, n_quantiles=16, momentum=None)
    batches = [torch.rand(100, 2, dtype=torch.float64) for _ in range(3)]
    for b in batches:
        g(b)
    levels = (torch.arange(16, dtype=torch.float64) + 0.5) / 16
    want = torch.stack([torch.quantile(b, levels, dim=0) for b in batches]).mean(0)
    torch.testing.assert_close(g.running_quantiles, want.float())
    g2 = Gaussianize(2, n_quantiles=16, momentum=0.1)
    g2(batches[0])
    start = torch.special.ndtri(levels).unsqueeze(1).repeat(1, 2)
    torch.testing.assert_close(g2.running_quantiles, (0.9 * start + 0.1 * torch.quantile(batches[0], levels, dim=0)).float())
    g2(batches[1], update=False)
    assert int(g2.num_batches_tracked) == 1
    g2.reset_running_stats()
    torch.testing.assert_close(g2.running_quantiles, start.float())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_quantiles": 1}, "n_quantiles must be at least 2; got 1"),
    ({"momentum": 2.0}, "momentum must lie in (0, 1] or be None; got 2.0"),
    ({"bandwidth": -1.0}, "bandwidth"),
])
def test_bad_arguments_are_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("]", r"\]")):
        Gaussianize(2, **kwargs)


def test_training_batch_of_one_is_refused() -> None:
    with pytest.raises(ValueError, match="batch size must be at least 2.*got 1"):
        Gaussianize(2)(torch.randn(1, 2))


@pytest.mark.parametrize("cls", [Normalize, Whiten])
def test_last_stage_of_the_normalization(cls: type) -> None:
    torch.manual_seed(6)
    h = torch.randn(256, 3, dtype=torch.float64) @ torch.tensor([[2.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.7]],
                                                                dtype=torch.float64)
    h = h + h.pow(3) / 5  # heavier tails than any normal
    norm = cls(3, gaussianize=True)
    plain = cls(3)
    z = norm(h)
    for j in range(3):  # the normalized values, mapped to the normal scores in their order
        np.testing.assert_allclose(np.sort(z[:, j].numpy()), _scores(256), atol=1e-12)
        assert (z[:, j].argsort() == plain(h)[:, j].argsort()).all()
    uniform = cls(3, mode="uniform", gaussianize=True)(h)
    np.testing.assert_allclose(np.sort(uniform[:, 0].numpy()), stats.norm.cdf(_scores(256)), atol=1e-12)
    state = norm.state_dict()
    assert "marginal.running_quantiles" in state and "marginal.running_quantiles" not in plain.state_dict()
    fresh = cls(3, gaussianize=True)
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.eval()(h), norm.eval()(h))
    norm.reset_running_stats()
    assert int(norm.marginal.num_batches_tracked) == 0


def test_nine_records_the_option_and_keeps_the_bound() -> None:
    nine = NINE(4, sigma=1.0, normalization="whiten", gaussianize=True)
    cfg = nine.config()
    assert cfg["gaussianize"] is True
    again = NINE(**cfg)
    assert again.normalize.marginal is not None
    torch.manual_seed(7)
    out = nine(torch.rand(128, 4), torch.rand(128, 4))
    assert out.mi.item() <= out.ceiling + 1e-6
    assert nine.config() == NINE(4, sigma=1.0, normalization="whiten", gaussianize=True).config()
    assert NINE(4, sigma=1.0).config()["gaussianize"] is False


def _small_model(prior: str, seed: int) -> Embedder:
    """An untrained 8x8-image model with the marginal stage only, d = 3."""
    torch.manual_seed(seed)
    params = {"base": "uniform"} if prior == "uniform" else {}  # the uniform base: outputs in (0, 1)
    cfg = TrainConfig(dim=3, gaussianize=True, radialize=False, prior=prior, prior_params=params)
    views, enc, nine = build_components(cfg, (1, 8, 8), "image")
    return Embedder(views, enc, nine)


@pytest.mark.parametrize("prior", ["gaussian", "uniform"])
def test_recalibration_sets_the_quantiles_of_the_clean_outputs(prior: str) -> None:
    model = _small_model(prior, 8)
    x = torch.rand(700, 1, 8, 8)
    for _ in range(3):  # a few training-mode batches, so the running statistics are not the clean ones
        model.nine.normalize.train()(model.encoder(model.views(x[:256])))
    recalibrate_normalization(model, x, batch_size=300)
    norm = model.nine.normalize
    assert norm.marginal is not None and norm.momentum == 0.1 and norm.marginal.momentum == 0.1
    model.eval()
    with torch.no_grad():
        plain = norm.marginal
        s = before_stages(norm, model.encoder(model.views.eval_transform(x)))
    torch.testing.assert_close(plain.running_quantiles, torch.quantile(s.double(), plain.levels, dim=0).float())
    z = embed_array(model, x).numpy()
    g = stats.norm.ppf(z) if prior == "uniform" else z
    if prior == "uniform":
        assert ((z > 0) & (z < 1)).all()
    for j in range(3):  # the training set itself comes out with normal marginals
        assert stats.kstest(g[:, j], "norm").pvalue > 0.5


def test_config_default_is_on_for_every_prior() -> None:
    assert TrainConfig().gaussianize is None
    for prior, params in (("gaussian", {}), ("uniform", {}), ("laplace", {}), ("laplace", {"base": "gaussian"})):
        assert TrainConfig(prior=prior, prior_params=params).uses_gaussianize is True
        assert TrainConfig(prior=prior, prior_params=params).resolved().gaussianize is True
    assert TrainConfig(prior="uniform", gaussianize=False).uses_gaussianize is False
    assert TrainConfig(gaussianize=False).resolved().gaussianize is False


def test_a_stored_config_without_the_key_predates_the_option(tmp_path) -> None:
    old = TrainConfig(prior="uniform").resolved().to_dict()
    del old["gaussianize"], old["radialize"]
    assert TrainConfig.from_stored(old).uses_gaussianize is False
    assert TrainConfig.from_dict(old).uses_gaussianize is True  # a user's file: missing means auto
    (tmp_path / "config.yaml").write_text(TrainConfig(prior="uniform").resolved().to_yaml())
    assert TrainConfig.from_stored_yaml(tmp_path / "config.yaml").gaussianize is True
