"""TrainConfig: defaults, validation naming the bad field, YAML round trip, unknown keys."""

from __future__ import annotations

import math

import pytest

from infomatch.training.config import TrainConfig


def test_defaults_resolve_noise_per_prior() -> None:
    # the advisor: capacity at half of log(256) for d = 8
    assert TrainConfig().resolved().sigma == pytest.approx(1.0)
    u = TrainConfig(prior="uniform").resolved()
    eps = 8 / (4 * (0.72 * math.log(256)))  # uniform base: matched_mi = d / (4 eps) = 0.72 log(256)
    assert u.eps == pytest.approx(eps) and u.sigma is None
    lap = TrainConfig(prior="laplace").resolved()
    assert lap.base == "uniform" and lap.eps == pytest.approx(eps)
    g = TrainConfig(prior="laplace", prior_params={"base": "gaussian"}).resolved()
    assert g.base == "gaussian" and g.sigma == pytest.approx(1.0)


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
        ({"prior": "uniform", "sigma": 1.0}, "sigma"),
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
