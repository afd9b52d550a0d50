"""``infomatch train --method``: every method trains end to end through the same engine."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from infomatch.cli import main
from infomatch.training.config import TrainConfig

FAST = ["--dim", "3", "--epochs", "1", "--batch-size", "128", "--threads", "1", "--progress", "none"]


@pytest.mark.parametrize("method,params", [("vicreg", []), ("sigreg", ["--method-param", "weight=0.5"]),
                                           ("dim-adv", ["--method-param", "weight=0.2"])])
def test_train_with_method(tmp_path: Path, method: str, params: list[str]) -> None:
    out = tmp_path / method
    assert main(["train", "--out", str(out), "--method", method, *params, *FAST]) == 0
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["method"] == method and cfg["sigma"] == 0.0  # other methods train without noise
    assert cfg["method_params"] == ({} if not params else {"weight": float(params[1].split("=")[1])})
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["optimizer_steps"] == 11 and metrics["linear_probe_accuracy"] > 0.2


def test_method_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args, needle in ((["--method", "vicreg", "--sigma", "1.0"], "sigma applies to method 'nine'"),
                         (["--method", "sigreg", "--method-param", "lam=1"], "unknown method_params ['lam']")):
        assert main(["train", "--out", str(tmp_path / "x"), *args, *FAST]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "x").exists()


def test_nine_is_the_default_method_and_others_train_without_noise() -> None:
    cfg = TrainConfig()
    assert cfg.method == "nine" and cfg.method_params == {}
    assert cfg.noise_scale == pytest.approx(1 / math.sqrt(256 ** (1 / cfg.dim) - 1))  # capacity = log(256) / 2
    assert TrainConfig(method="plain").resolved().sigma == 0.0
