"""End to end on the bundled digits: run directory, embed, export, safe checkpoints, API."""

from __future__ import annotations

import csv
import json
import math
import pickle

import numpy as np
import pytest
import torch
import yaml

from infomatch.cli import main
from infomatch.data import load_dataset
from infomatch.training import TrainConfig
from infomatch.training.components import build_prior, embed_array
from infomatch.training.engine import train

EPOCHS = 3


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e") / "run"
    cfg = TrainConfig(dim=4, sigma=1.0, epochs=EPOCHS, batch_size=128, progress="none", seed=1)
    result = train(cfg, out, log=lambda m: None)
    return result


def test_run_directory_layout(trained) -> None:
    run = trained.run_dir
    for name in ("config.yaml", "run.json", "metrics.csv", "metrics.json", "split.json", "model.safetensors",
                 "checkpoints/last.ckpt", "checkpoints/best.ckpt", "embeddings/train.npy", "embeddings/heldout.npy",
                 "embeddings/heldout_labels.npy", "encoder.pt2"):
        assert (run / name).is_file(), name
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["sigma"] == 1.0 and cfg["dim"] == 4 and cfg["seed"] == 1
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["seed"] == 1
    assert info["versions"]["torch"] == torch.__version__.split("+")[0] or info["versions"]["torch"].startswith(torch.__version__.split("+")[0])
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == list(range(EPOCHS))
    metrics = json.loads((run / "metrics.json").read_text())
    steps = (1797 - int(round(0.2 * 1797))) // 128
    assert metrics["optimizer_steps"] == EPOCHS * steps
    assert 0 < metrics["mi_estimate"] <= metrics["capacity"] + 0.5
    # epoch means are logged once per epoch; held-out MI on the validated epochs only (here
    # the last: 3 epochs of 11 steps, validation about every 50 steps and always at the end)
    assert float(rows[-1]["mi"]) == pytest.approx(metrics["mi_estimate"], rel=1e-6)
    assert float(rows[-1]["loss"]) == pytest.approx(-metrics["mi_estimate"], rel=1e-6)
    assert [math.isnan(float(r["val_mi"])) for r in rows] == [True] * (EPOCHS - 1) + [False]
    assert float(rows[-1]["val_mi"]) == pytest.approx(metrics["heldout_mi_estimate"], rel=1e-6)
    assert metrics["recalibrated_normalization"] is True
    held = np.load(run / "embeddings" / "heldout.npy")
    labels = np.load(run / "embeddings" / "heldout_labels.npy")
    assert held.shape == (len(labels), 4) and np.isfinite(held).all()


def test_embed_reproduces_in_memory_model(trained, tmp_path) -> None:
    out = tmp_path / "z.npy"
    assert main(["embed", str(trained.run_dir), "--data", "digits", "--out", str(out)]) == 0
    ds = load_dataset("digits")
    cfg = TrainConfig.from_yaml(trained.run_dir / "config.yaml")
    expected = build_prior(cfg).from_representation(embed_array(trained.model, ds.x)).numpy()
    np.testing.assert_array_equal(np.load(out), expected)
    # refuses to overwrite
    assert main(["embed", str(trained.run_dir), "--data", "digits", "--out", str(out)]) == 2


def test_heldout_embeddings_match_embed(trained) -> None:
    ds = load_dataset("digits")
    from infomatch.data import load_split

    _, held = load_split(trained.run_dir / "split.json")
    z = embed_array(trained.model, ds.x[torch.as_tensor(held)]).numpy()
    np.testing.assert_array_equal(np.load(trained.run_dir / "embeddings" / "heldout.npy"), z)


def test_encoder_export_loads_in_plain_pytorch(trained) -> None:
    program = torch.export.load(str(trained.run_dir / "encoder.pt2"))
    ds = load_dataset("digits")
    x = ds.x[:37]
    got = program.module()(x)
    want = embed_array(trained.model, x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_checkpoint_last_loads(trained, tmp_path) -> None:
    out = tmp_path / "z_last.npy"
    assert main(["embed", str(trained.run_dir), "--checkpoint", "last", "--out", str(out)]) == 0
    assert np.load(out).shape == (1797, 4)


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {_Payload.marker}",))


def test_malicious_checkpoint_is_refused(trained, tmp_path, capsys) -> None:
    marker = tmp_path / "PWNED"
    _Payload.marker = str(marker)
    ckpt = torch.load(trained.run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    ckpt["hyper_parameters"]["evil"] = _Payload()
    evil = tmp_path / "evil.ckpt"
    with evil.open("wb") as fh:
        torch.save(ckpt, fh, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    assert main(["embed", str(trained.run_dir), "--checkpoint", str(evil), "--out", str(tmp_path / "z.npy")]) == 2
    err = capsys.readouterr().err
    assert "refusing to load checkpoint" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()
    assert not (tmp_path / "z.npy").exists()


@pytest.mark.slow
def test_compile_and_bf16_options_train(tmp_path) -> None:
    """--compile and --precision bf16 run end to end and keep the state dict plain."""
    cfg = TrainConfig(dim=4, epochs=1, batch_size=256, progress="none", compile=True, precision="bf16")
    result = train(cfg, tmp_path / "run", log=lambda m: None)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert metrics["optimizer_steps"] == (1797 - int(round(0.2 * 1797))) // 256
    assert all("_orig_mod" not in k for k in result.model.state_dict())
    assert np.isfinite(np.load(result.run_dir / "embeddings" / "heldout.npy")).all()


def test_printed_verdict_equals_evaluate(trained) -> None:
    """metrics.json's held-out DM verdict is the verdict ``infomatch evaluate RUN`` gives."""
    from infomatch.metrics.runs import evaluate_run
    from infomatch.training.verdict import format_verdict

    metrics = json.loads((trained.run_dir / "metrics.json").read_text())
    dm = evaluate_run(trained.run_dir)["dm"]
    assert metrics["dm"]["families"] == {name: fam["pass"] for name, fam in dm["families"].items()}
    assert metrics["dm"]["pass"] == dm["pass"] and metrics["dm"]["n"] == dm["n"]
    line = format_verdict(metrics["dm"])
    assert all(name in line for name in dm["families"])
