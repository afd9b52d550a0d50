"""TrainConfig: defaults, validation naming the bad field, YAML round trip, unknown keys."""

from __future__ import annotations

import math

import pytest
import torch

from infomatch.training.config import TrainConfig


def test_defaults_resolve_noise_per_prior() -> None:
    # the advisor: capacity (d / 2) log(1 + 1 / sigma^2) at half of log(256) for the default d = 16,
    # on the Gaussian base for every prior
    d = TrainConfig().dim
    sigma = 1 / math.sqrt(math.exp(2 * 0.5 * math.log(256) / d) - 1)
    assert d == 16 and TrainConfig().resolved().sigma == pytest.approx(sigma)
    assert TrainConfig(dim=8).resolved().sigma == pytest.approx(1.0)  # 4 log 2 = half of log 256 exactly
    for prior in ("uniform", "laplace"):
        r = TrainConfig(prior=prior).resolved()
        assert r.base == "gaussian" and r.sigma == pytest.approx(sigma) and r.eps is None
        assert r.prior_params == {"base": "gaussian"} and r.radialize is True
    eps = d / (4 * (0.72 * math.log(256)))  # uniform base: matched_mi = d / (4 eps) = 0.72 log(256)
    u = TrainConfig(prior="uniform", prior_params={"base": "uniform"}).resolved()
    assert u.base == "uniform" and u.eps == pytest.approx(eps) and u.sigma is None and u.radialize is False
    lap = TrainConfig(prior="laplace", eps=0.3).resolved()  # giving eps selects the uniform base
    assert lap.base == "uniform" and lap.eps == 0.3 and lap.prior_params == {"base": "uniform"}
    # a resolved config names its base, so storing and reloading it keeps the same run
    assert TrainConfig.from_dict(lap.to_dict()).resolved() == lap


def test_base_choice_errors_name_the_value() -> None:
    with pytest.raises(ValueError, match="eps applies to a uniform base.*got eps=0.3"):
        TrainConfig(prior="uniform", prior_params={"base": "gaussian"}, eps=0.3).validate()
    with pytest.raises(ValueError, match="sigma applies to a Gaussian base.*got sigma=0.5"):
        TrainConfig(prior="uniform", prior_params={"base": "uniform"}, sigma=0.5).validate()
    with pytest.raises(ValueError, match="eps applies to a uniform base"):
        TrainConfig(prior="gaussian", eps=0.3).validate()
    with pytest.raises(ValueError, match="base must be one of.*'lattice'"):
        TrainConfig(prior="uniform", prior_params={"base": "lattice"}).validate()


def test_yaml_round_trip(tmp_path) -> None:
    cfg = TrainConfig(dim=8, sigma=0.5, epochs=3, prior_params={}, critic_params={"temperature": 0.5})
    p = tmp_path / "c.yaml"
    p.write_text(cfg.to_yaml())
    assert TrainConfig.from_yaml(p) == cfg


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"dim": 0}, "dim"),
        ({"sigma": -1.0}, "sigma"),
        ({"sigma": math.nan}, "sigma"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 1}, "batch_size"),
        ({"prior": "cauchy"}, "prior"),
        ({"bound": "mine2"}, "bound"),
        ({"critic": "mlp"}, "critic"),
        ({"held_out": 1.5}, "held_out"),
        ({"lr": 0}, "lr"),
        ({"prior": "uniform", "prior_params": {"base": "uniform"}, "sigma": 1.0}, "sigma"),
        ({"eps": 0.1}, "eps"),
        ({"precision": "16"}, "precision"),
    ],
)
def test_bad_values_name_the_field(changes, needle) -> None:
    with pytest.raises(ValueError, match=needle) as info:
        TrainConfig.from_dict(changes)
    assert "\n" not in str(info.value)


def test_unknown_key_is_named() -> None:
    with pytest.raises(ValueError, match="unknown config key 'sigmaa'"):
        TrainConfig.from_dict({"sigmaa": 1.0})


def test_yaml_ints_become_floats(tmp_path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("lr: 1\nsigma: 2\n")
    cfg = TrainConfig.from_yaml(p)
    assert isinstance(cfg.lr, float) and cfg.sigma == 2.0


def test_invalid_yaml_is_one_line(tmp_path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("dim: [1, 2\n")
    with pytest.raises(ValueError, match="not valid YAML") as info:
        TrainConfig.from_yaml(p)
    assert "\n" not in str(info.value)


def test_components_follow_the_configs_base() -> None:
    from infomatch.training.components import build_components, build_prior

    cfg = TrainConfig(prior="uniform", dim=3)
    assert build_prior(cfg).base == "gaussian"
    _, _, nine = build_components(cfg, (1, 8, 8), "image")
    assert nine.prior.base == "gaussian" and nine.sigma == pytest.approx(cfg.noise_scale) and nine.eps is None
    # the uniform prior on the Gaussian base is Phi of the representation
    r = torch.randn(5, 3, dtype=torch.float64)
    assert torch.allclose(nine.prior.from_representation(r), torch.special.ndtr(r))
    cfg = TrainConfig(prior="laplace", eps=0.3, dim=3)
    _, _, nine = build_components(cfg, (1, 8, 8), "image")
    assert nine.prior.base == "uniform" and nine.eps == 0.3 and nine.sigma is None
