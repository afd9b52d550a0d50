"""``encoder_width``: one number scales every layer width of the encoder. At 1 the encoders are
their defaults; the MLP's parameter count at other widths equals its closed form; the option
reaches the built encoder from the config and the CLI, survives a stored config, and a bad value
is a one-line error."""

from __future__ import annotations

import argparse

import pytest
import torch
from torch import nn

from infomatch.encoders import BASE_WIDTHS, make_encoder, width_kwargs
from infomatch.training.components import build_components
from infomatch.training.config import TrainConfig


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(("name", "shape"), [("mlp", (1, 8, 8)), ("convnet", (1, 24, 24)), ("resnet18", (3, 16, 16))])
def test_width_one_is_the_default_encoder(name: str, shape: tuple) -> None:
    assert _n_params(make_encoder(name, shape, 5, **width_kwargs(name, 1))) == _n_params(make_encoder(name, shape, 5))


@pytest.mark.parametrize("width", [0.25, 0.5, 1.5, 2.0])
def test_mlp_parameter_count_matches_the_closed_form(width: float) -> None:
    # Flatten(64) -> [Linear(64, h) + BatchNorm(h)] -> [Linear(h, h) + BatchNorm(h)] -> Linear(h, d)
    h, f, d = round(512 * width), 64, 7
    want = (f * h + h + 2 * h) + (h * h + h + 2 * h) + (h * d + d)
    assert _n_params(make_encoder("mlp", (1, 8, 8), d, **width_kwargs("mlp", width))) == want


def test_scaled_widths_round_and_stay_positive() -> None:
    assert width_kwargs("convnet", 0.5) == {"channels": (16, 32, 64)}
    assert width_kwargs("resnet18", 0.25) == {"width": 16}
    assert width_kwargs("mlp", 1e-6) == {"hidden": (1, 1)}
    assert set(BASE_WIDTHS) == {"mlp", "convnet", "resnet18"}
    for bad in (0, -1.0, float("nan"), float("inf"), True, "2"):
        with pytest.raises(ValueError, match="^width must be a positive number; got "):
            width_kwargs("mlp", bad)  # type: ignore[arg-type]


def test_config_builds_the_scaled_encoder_and_a_stored_run_without_the_key_is_width_one() -> None:
    _, enc, _ = build_components(TrainConfig(dim=4, encoder_width=0.5), (1, 8, 8), "image")
    assert [m.out_features for m in enc.modules() if isinstance(m, nn.Linear)] == [256, 256, 4]
    assert enc(torch.rand(3, 1, 8, 8)).shape == (3, 4)
    stored = TrainConfig(encoder_width=2).resolved().to_dict()
    assert TrainConfig.from_stored(stored).encoder_width == 2
    del stored["encoder_width"]
    assert TrainConfig.from_stored(stored).encoder_width == 1


def test_cli_sets_the_width_and_a_bad_value_is_one_line() -> None:
    from infomatch.commands.train import add_parser, config_from_args

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    assert config_from_args(parser.parse_args(["train"]))[0].encoder_width == 1
    assert config_from_args(parser.parse_args(["train", "--encoder-width", "2"]))[0].encoder_width == 2
    for bad in (0, -2, float("nan"), True):
        with pytest.raises(ValueError, match="^encoder_width must be a positive number; got "):
            TrainConfig(encoder_width=bad)
