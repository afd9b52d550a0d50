"""What the three optional stages of the normalization (``gaussianize``, ``radialize``,
``final_whiten``) share as options: the export carries them, the CLI flags set them, a bad value is a
one-line error, and a stored run that predates an option trained without it."""

from __future__ import annotations

import argparse

import pytest
import torch

from infomatch.training.components import (
    Embedder,
    build_components,
    embed_array,
    recalibrate_normalization,
)
from infomatch.training.config import TrainConfig
from infomatch.training.engine import export_encoder

OPTIONS = ("gaussianize", "radialize", "final_whiten")


@pytest.mark.parametrize("options", [
    {"gaussianize": True, "radialize": False},
    {"gaussianize": True, "radialize": False, "prior": "uniform"},
    {"gaussianize": True, "radialize": True},
    {"gaussianize": True, "radialize": True, "final_whiten": True},
    {"gaussianize": False, "radialize": False, "final_whiten": True},
    {"gaussianize": True, "radialize": True, "final_whiten": True, "final_whiten_method": "zca"},
])
def test_exported_encoder_applies_the_stages(options: dict, tmp_path) -> None:
    torch.manual_seed(9)
    views, enc, nine = build_components(TrainConfig(dim=3, **options), (1, 8, 8), "image")
    model = Embedder(views, enc, nine)
    want = [name for name, key in (("Gaussianize", "gaussianize"), ("Radialize", "radialize"), ("Whiten", "final_whiten"))
            if options.get(key)]
    assert [type(m).__name__ for m in nine.normalize.stages()] == want
    x = torch.rand(400, 1, 8, 8)
    recalibrate_normalization(model, x)
    assert export_encoder(model, x[:4], tmp_path / "enc.pt2")
    got = torch.export.load(str(tmp_path / "enc.pt2")).module()(x[:50])
    torch.testing.assert_close(got, embed_array(model, x[:50]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("option", OPTIONS)
def test_cli_flags_set_the_option(option: str) -> None:
    from infomatch.commands.train import add_parser, config_from_args

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    flag = option.replace("_", "-")
    for flags, want in (([], None), ([f"--{flag}"], True), ([f"--no-{flag}"], False)):
        cfg, _, _ = config_from_args(parser.parse_args(["train", *flags]))
        assert getattr(cfg, option) is want


@pytest.mark.parametrize("option", OPTIONS)
def test_bad_value_is_a_one_line_error(option: str) -> None:
    assert getattr(TrainConfig(), option) is None  # auto
    with pytest.raises(ValueError, match=f"^{option} must be true, false or null \\(auto\\); got 'yes'$"):
        TrainConfig(**{option: "yes"})
    assert getattr(TrainConfig(**{option: True}).resolved(), option) is True


@pytest.mark.parametrize("option", OPTIONS)
def test_a_stored_run_without_the_key_trained_without_the_stage(option: str) -> None:
    old = TrainConfig(**{option: True}).resolved().to_dict()
    del old[option]
    assert getattr(TrainConfig.from_stored(old), f"uses_{option}") is False
