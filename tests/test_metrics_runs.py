"""Evaluation of run directories and bare .npy files, and the ``infomatch evaluate`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_digits

from infomatch.cli import main
from infomatch.metrics import evaluate_run, knn_accuracy, linear_probe, load_run


def make_run(root: Path, *, prior: str = "gaussian", dim: int = 6, sigma: float | None = 0.5,
             labels: bool = True, seed: int = 0) -> Path:
    """A fake run directory with the training engine's layout, from digits features."""
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    z = x @ rng.standard_normal((64, dim))
    z = (z - z.mean(0)) / z.std(0)
    if prior == "uniform":
        from scipy.special import ndtr

        z = ndtr(z)
    idx = rng.permutation(len(z))
    tr, te = idx[:1300], idx[1300:]
    emb = root / "embeddings"
    emb.mkdir(parents=True)
    np.save(emb / "train.npy", z[tr].astype(np.float32))
    np.save(emb / "heldout.npy", z[te].astype(np.float32))
    if labels:
        np.save(emb / "train_labels.npy", y[tr])
        np.save(emb / "heldout_labels.npy", y[te])
    cfg = {"prior": prior, "prior_params": {}, "sigma": sigma, "eps": None if sigma is not None else 0.3,
           "dim": dim, "data": "digits", "seed": seed}
    (root / "config.yaml").write_text(yaml.safe_dump(cfg))
    (root / "metrics.json").write_text(json.dumps({"mi_estimate": 2.5, "capacity": 4.8,
                                                   "log_batch_ceiling": 5.5}))
    rows = "".join(f"{e},{10 * e},{-e},{2.5 * (1 - 0.6 ** e)},4.8\n" for e in range(8))
    (root / "metrics.csv").write_text("epoch,step,loss,mi,capacity\n" + rows)
    (root / "run.json").write_text(json.dumps({"seed": seed}))
    return root


def test_evaluate_run_probes_match_direct_calls(tmp_path):
    run = make_run(tmp_path / "r")
    out = evaluate_run(run, seeds=2)
    data = load_run(run)
    assert out["linear_probe_accuracy"] == linear_probe(data.train, data.train_labels, data.heldout,
                                                        data.heldout_labels)
    assert out["knn_accuracy"] == knn_accuracy(data.train, data.train_labels, data.heldout, data.heldout_labels)
    assert out["mi_estimate"] == 2.5 and out["capacity"] == 4.8 and out["sigma"] == 0.5
    assert out["dm"]["n"] == len(data.heldout) and out["dm"]["d"] == 6


def test_evaluate_run_without_labels(tmp_path):
    out = evaluate_run(make_run(tmp_path / "r", labels=False, prior="uniform", sigma=None), seeds=2)
    assert out["linear_probe_accuracy"] is None and out["knn_accuracy"] is None
    assert out["dm"]["prior"]["name"] == "uniform"


def test_cli_evaluate_run_writes_json(tmp_path, capsys):
    run = make_run(tmp_path / "r")
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(run), "--seeds", "2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "DM verdicts:" in printed and "linear probe" in printed
    res = json.loads(out.read_text())
    for key in ("linear_probe_accuracy", "knn_accuracy", "dm", "mi_estimate", "capacity"):
        assert key in res
    for stat in res["dm"]["statistics"].values():
        assert {"value", "reference", "ratio", "pass"} <= set(stat)
    assert set(res["dm"]["families"]) == {"marginals", "moments", "slices", "joint"}


def test_cli_evaluate_npy_with_labels_uses_stratified_split(tmp_path, capsys):
    run = make_run(tmp_path / "r")
    out = tmp_path / "e.json"
    z, y = run / "embeddings" / "heldout.npy", run / "embeddings" / "heldout_labels.npy"
    assert main(["evaluate", str(z), "--prior", "student_t", "--prior-param", "df=5",
                 "--labels", str(y), "--seeds", "2", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["dm"]["prior"]["df"] == 5.0
    assert "stratified 80/20" in res["probe_protocol"]
    assert res["mi_estimate"] is None


@pytest.mark.parametrize("argv_tail,message", [
    ([], "--prior is required for a bare .npy"),
    (["--prior", "gaussian", "--labels", "LABELS_SHORT"], "labels must have one label per embedding row"),
    (["--prior", "gaussian", "--prior-param", "df"], "--prior-param must look like KEY=VALUE"),
])
def test_cli_evaluate_npy_errors(tmp_path, capsys, argv_tail, message):
    z = tmp_path / "z.npy"
    np.save(z, np.random.default_rng(0).standard_normal((50, 3)))
    short = tmp_path / "short.npy"
    np.save(short, np.arange(49) % 2)
    argv = ["evaluate", str(z)] + [str(short) if a == "LABELS_SHORT" else a for a in argv_tail]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("infomatch: error:") and message in err and "\n" not in err


def test_cli_evaluate_bad_embeddings(tmp_path, capsys):
    z = tmp_path / "z.npy"
    bad = np.random.default_rng(0).standard_normal((40, 3))
    bad[7] = np.nan
    np.save(z, bad)
    assert main(["evaluate", str(z), "--prior", "gaussian"]) == 2
    assert "rows with NaN or inf values (first: row 7)" in capsys.readouterr().err
    np.save(z, bad[:5])
    assert main(["evaluate", str(z), "--prior", "gaussian"]) == 2
    assert "at least 10 rows" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.npy"), "--prior", "gaussian"]) == 2
    assert "no run directory or .npy file" in capsys.readouterr().err


def test_run_with_mismatched_dim_is_an_error(tmp_path):
    run = make_run(tmp_path / "r")
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["dim"] = 7
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(ValueError, match="config.yaml says dim=7"):
        evaluate_run(run, seeds=2)


def test_run_with_wrong_label_length_is_an_error(tmp_path):
    run = make_run(tmp_path / "r")
    np.save(run / "embeddings" / "heldout_labels.npy", np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="heldout_labels.npy must have one label per embedding row"):
        evaluate_run(run, seeds=2)
