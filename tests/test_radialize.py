"""Radial Gaussianization: chi(d) radii in rank order in training, directions kept, the smooth
surrogate's gradient, running radius quantiles in evaluation, and its place in the normalization."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _stages import before_stages
from scipy import stats

from infomatch.gaussianize import normal_scores, silverman_bandwidth, smooth_scores
from infomatch.model import NINE
from infomatch.radialize import Radialize, chi_table, normal_to_chi
from infomatch.training.components import (
    Embedder,
    build_components,
    embed_array,
    recalibrate_normalization,
)
from infomatch.training.config import TrainConfig
from infomatch.whiten import Whiten


def _shell(n: int, d: int, seed: int, spread: float = 0.1) -> torch.Tensor:
    """Directions uniform on the sphere, radius sqrt(d) (1 +- spread): the law InfoNCE drifts to."""
    g = torch.Generator().manual_seed(seed)
    u = torch.nn.functional.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)
    r = d ** 0.5 * (1 + spread * (2 * torch.rand(n, 1, generator=g, dtype=torch.float64) - 1))
    return u * r


def test_table_is_the_chi_quantile_of_the_normal_cdf() -> None:
    grid, values = chi_table(8)
    w = torch.linspace(-6, 6, 997, dtype=torch.float64)
    want = stats.chi.ppf(stats.norm.cdf(w.numpy()), 8)
    np.testing.assert_allclose(normal_to_chi(w, grid, values).numpy(), want, rtol=2e-4, atol=1e-4)
    assert (values.diff() > 0).all()  # monotone: ranks of the radius are kept


def test_training_radii_are_chi_scores_in_rank_order_and_directions_are_kept() -> None:
    s = _shell(300, 5, 0)
    out = Radialize(5).double()(s)
    radius, r_out = s.norm(dim=1), out.norm(dim=1)
    scores, _ = normal_scores(300)
    grid, values = chi_table(5)
    want = normal_to_chi(scores, grid, values)
    np.testing.assert_allclose(np.sort(r_out.numpy()), want.numpy(), atol=1e-12)
    assert (np.argsort(r_out.numpy()) == np.argsort(radius.numpy())).all()
    torch.testing.assert_close(out / r_out[:, None], s / radius[:, None], rtol=0, atol=1e-12)
    # the radius law is chi(5) and the second moment d, so each coordinate keeps unit variance on average
    assert stats.kstest(r_out.numpy(), "chi", args=(5,)).pvalue > 0.9
    assert abs(float(r_out.pow(2).mean()) - 5.0) < 0.05


def test_gradient_is_the_smooth_maps() -> None:
    s = _shell(200, 4, 1, spread=0.3).requires_grad_(True)
    weights = torch.randn(200, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    (Radialize(4).double()(s) * weights).sum().backward()
    assert s.grad is not None
    got = s.grad.clone()
    # hand-written reference: the direction times chi(w), w the radius's normal score in rank
    # order whose gradient is that of the smoothed radius CDF's score (a straight-through sum)
    x = s.detach().clone().requires_grad_(True)
    r = x.norm(dim=1, keepdim=True)
    scores, c = normal_scores(200)
    smooth = smooth_scores(r, silverman_bandwidth(200), c)
    exact = torch.empty_like(smooth)
    exact[r.detach().argsort(dim=0)[:, 0], 0] = scores
    w = smooth + (exact - smooth).detach()
    grid, values = chi_table(4)
    ((x * normal_to_chi(w, grid, values) / r) * weights).sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(got, x.grad, rtol=1e-9, atol=1e-9)


def test_evaluation_is_the_identity_on_chi_radii_before_training() -> None:
    z = torch.randn(4000, 6, generator=torch.Generator().manual_seed(3))
    rad = Radialize(6).eval()
    out = rad(z)
    r, q = z.norm(dim=1), rad.radius.running_quantiles[:, 0]
    inside = (r > q[0]) & (r < q[-1])  # within the outermost of the 1024 quantile levels
    assert int(inside.sum()) >= 3990
    assert float((out - z)[inside].abs().max()) < 2e-3
    order = r.argsort()  # beyond them the map extrapolates, still monotone in the radius
    assert (out.norm(dim=1)[order].diff() >= 0).all()


def test_held_out_sample_of_the_fitted_shell_comes_out_with_chi_radii() -> None:
    rad = Radialize(8).double()
    rad.set_quantiles(_shell(2000, 8, 4))
    held = _shell(500, 8, 5)
    assert stats.kstest(held.norm(dim=1).numpy(), "chi", args=(8,)).pvalue < 1e-6
    out = rad.eval()(held)
    assert stats.kstest(out.norm(dim=1).numpy(), "chi", args=(8,)).pvalue > 0.01
    torch.testing.assert_close(out / out.norm(dim=1, keepdim=True), held / held.norm(dim=1, keepdim=True))
    # a shell of N(0, I_8) rows with chi(8) radii is N(0, I_8): its coordinates are normal
    for j in range(8):
        assert stats.kstest(out[:, j].numpy(), "norm").pvalue > 0.001


def test_bad_arguments_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        Radialize(0)
    with pytest.raises(ValueError, match="radialize must be True or False; got 'yes'"):
        Whiten(3, radialize="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch size must be at least 2"):
        Radialize(3)(torch.randn(1, 3))


def test_state_dict_round_trip_keeps_the_radius_quantiles() -> None:
    rad = Radialize(3)
    rad.set_quantiles(_shell(500, 3, 6).float())
    other = Radialize(3)
    other.load_state_dict(rad.state_dict())
    z = torch.randn(50, 3)
    torch.testing.assert_close(other.eval()(z), rad.eval()(z))
    assert "grid" not in rad.state_dict()  # the table is rebuilt from d, not stored


def test_last_stage_of_whitening_after_the_marginal_stage() -> None:
    torch.manual_seed(7)
    h = torch.randn(512, 4, dtype=torch.float64) @ torch.tensor(
        [[2.0, 0, 0, 0], [1, 1, 0, 0], [0, 3, 0.5, 0], [0, 0, 1, 1]], dtype=torch.float64)
    both = Whiten(4, gaussianize=True, radialize=True).double()
    marginal_only = Whiten(4, gaussianize=True).double()
    radial = Radialize(4).double()
    torch.testing.assert_close(both(h), radial(marginal_only(h)))
    assert [type(m).__name__ for m in both.stages()] == ["Gaussianize", "Radialize"]
    both.eval()
    torch.testing.assert_close(both(h), both.stages_eval(before_stages(both, h)))


def test_nine_records_the_option_and_keeps_the_bound() -> None:
    nine = NINE(4, sigma=1.0, normalization="whiten", radialize=True)
    assert nine.config()["radialize"] is True and NINE(4, sigma=1.0).config()["radialize"] is False
    out = nine(torch.rand(128, 4), torch.rand(128, 4))
    assert out.mi.item() <= out.ceiling + 1e-6


def _small_model(seed: int, **options: object) -> Embedder:
    torch.manual_seed(seed)
    views, enc, nine = build_components(TrainConfig(dim=3, radialize=True, **options), (1, 8, 8), "image")
    return Embedder(views, enc, nine)


@pytest.mark.parametrize("gaussianize", [False, True])
def test_recalibration_sets_the_radius_quantiles_of_the_clean_outputs(gaussianize: bool) -> None:
    model = _small_model(8, gaussianize=gaussianize)
    x = torch.rand(700, 1, 8, 8)
    for _ in range(3):  # training-mode batches first, so the running statistics are not the clean ones
        model.nine.normalize.train()(model.encoder(model.views(x[:256])))
    recalibrate_normalization(model, x, batch_size=300)
    norm = model.nine.normalize
    assert norm.radial is not None and (norm.marginal is not None) is gaussianize
    model.eval()
    with torch.no_grad():
        s = before_stages(norm, model.encoder(model.views.eval_transform(x)))
        if norm.marginal is not None:
            s = norm.marginal._eval_map(s)
    radius = norm.radial.radius
    torch.testing.assert_close(radius.running_quantiles,
                               torch.quantile(s.double().norm(dim=1, keepdim=True), radius.levels, dim=0).float())
    z = embed_array(model, x).numpy()
    assert stats.kstest(np.linalg.norm(z, axis=1), "chi", args=(3,)).pvalue > 0.5


def test_config_default_follows_the_base() -> None:
    # auto: on for the Gaussian base, off for the uniform base (its uniform marginals)
    assert TrainConfig().radialize is None and TrainConfig().uses_radialize is True
    assert TrainConfig(prior="laplace", prior_params={"base": "gaussian"}).uses_radialize is True
    for prior in ("uniform", "laplace"):
        assert TrainConfig(prior=prior).uses_radialize is True  # the Gaussian base is every prior's default
        assert TrainConfig(prior=prior, prior_params={"base": "uniform"}).uses_radialize is False
        assert TrainConfig(prior=prior, prior_params={"base": "uniform"}).resolved().radialize is False
        assert TrainConfig(prior=prior, eps=0.4).resolved().radialize is False
    assert TrainConfig().resolved().radialize is True
    assert TrainConfig(radialize=False).uses_radialize is False
