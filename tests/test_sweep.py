"""Sweeps: spec checking before any run, capacity fractions, the table, and kill + resume."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from infomatch.cli import main
from infomatch.priors import capacity
from infomatch.sweep import aggregate, noise_for_capacity, pareto_front, parse_spec, plan

BASE = {"data": "digits", "dim": 4, "batch_size": 128, "threads": 1, "progress": "none"}


def _write(tmp_path: Path, spec: dict) -> Path:
    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


@pytest.mark.parametrize("spec,needle", [
    ({"grid": {"sigma": [1.0]}, "bogus": 1}, "unknown key 'bogus'"),
    ({"grid": {"sigmaa": [1.0]}}, "unknown key 'sigmaa' in grid[0]"),
    ({"base": {"lrr": 1e-3}, "grid": {"sigma": [1.0]}}, "unknown key 'lrr' in base"),
    ({"grid": {}}, "empty grid"),
    ({"base": {"dim": 4}}, "empty grid"),
    ({"grid": [{"sigma": [1.0]}, {"sigma": []}]}, "grid[1].sigma: empty list"),
    ({"grid": [{"sigma": [1.0]}, {"sigma": [0.5, -2.0]}]}, "grid[1] (nine-sigma=-2): sigma must be"),
    ({"grid": {"method": ["plain", "pca"]}}, "grid[0] (pca): method must be one of"),
    ({"grid": {"method": ["vicreg"], "capacity_fraction": [0.5]}}, "capacity_fraction applies to method 'nine'"),
    ({"grid": {"method": ["sigreg"], "method_params": [{"weight": -1.0}]}}, "weight must be"),
    ({"grid": {"sigma": [1.0]}, "seeds": []}, "seeds: empty list"),
])
def test_bad_spec_fails_before_any_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: dict, needle: str) -> None:
    path = _write(tmp_path, {"base": BASE, **spec} if "base" not in spec else spec)
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("infomatch: error: ") and needle in err, err
    assert not out.exists()  # nothing started


@pytest.mark.parametrize("base_prior", ["gaussian", "uniform"])
@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75, 1.0])
def test_capacity_fraction_gives_that_capacity(base_prior: str, fraction: float) -> None:
    spec = parse_spec({"base": {"dim": 16, "batch_size": 512, "prior": "uniform", "prior_params": {"base": base_prior}},
                       "grid": {"capacity_fraction": [fraction]}})
    (entry,) = spec.entries()
    scale = entry.config.sigma if base_prior == "gaussian" else entry.config.eps
    assert scale == pytest.approx(noise_for_capacity(base_prior, 16, 512, fraction))
    assert capacity(base_prior, 16, scale) == pytest.approx(fraction * math.log(512), rel=1e-12)


def test_plan_adds_the_plain_run_of_post_hoc_rows() -> None:
    spec = parse_spec({"base": BASE, "grid": [{"sigma": [1.0]}, {"method": ["plain+rbig", "plain+pca"]}], "seeds": [0, 1]})
    ids = [e.run_id for e in plan(spec)]
    assert ids[:2] == ["nine-sigma=1-seed0", "nine-sigma=1-seed1"]
    assert set(ids[2:4]) == {"plain-seed0", "plain-seed1"}  # trained before the transforms
    assert set(ids[4:]) == {"plain+rbig-seed0", "plain+rbig-seed1", "plain+pca-seed0", "plain+pca-seed1"}
    assert all(e.config.method == "plain" and e.config.sigma == 0.0 for e in plan(spec)[2:])


def test_aggregate_mean_and_sample_sd() -> None:
    rng = np.random.default_rng(0)
    vals = rng.uniform(size=(3, 2))
    records = [{"row_id": r, "order": i, "seed": s, "values": {"linear_probe": float(vals[s, i]), "knn": None}}
               for i, r in enumerate(["a", "b"]) for s in range(3)]
    rows = aggregate(records)
    assert [r["row_id"] for r in rows] == ["a", "b"]
    for i, row in enumerate(rows):
        assert row["linear_probe"]["mean"] == pytest.approx(vals[:, i].mean())
        assert row["linear_probe"]["sd"] == pytest.approx(vals[:, i].std(ddof=1))
        assert row["knn"] == {"mean": None, "sd": None, "n": 0}


def test_pareto_front_is_the_set_of_undominated_points() -> None:
    rng = np.random.default_rng(1)
    pts = [tuple(p) for p in rng.uniform(size=(40, 2))]
    front = set(pareto_front(pts))
    for i, (x, y) in enumerate(pts):
        dominated = any(x2 <= x and y2 >= y and (x2, y2) != (x, y) for x2, y2 in pts)
        assert (i in front) == (not dominated)


def _rows(path: Path) -> int:
    try:
        return max(0, len(path.read_text().splitlines()) - 1)
    except OSError:
        return 0


def _table_without_time(path: Path) -> dict:
    table = json.loads(path.read_text())
    for row in table["rows"]:
        row.pop("wall_seconds", None)
    for run in table["runs"]:
        run["values"].pop("wall_seconds", None)
    return table


@pytest.mark.slow
def test_kill_and_rerun_skips_finished_runs_and_equals_uninterrupted(tmp_path: Path) -> None:
    spec = _write(tmp_path, {"base": {**BASE, "epochs": 12}, "grid": [{"sigma": [1.0]}, {"method": ["plain+pca"]}],
                             "seeds": [0], "evaluate": {"seeds": 2}})
    a, b = tmp_path / "a", tmp_path / "b"
    cmd = [sys.executable, "-m", "infomatch", "sweep", str(spec)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first, second = a / "nine-sigma=1-seed0", a / "plain-seed0"
    proc = subprocess.Popen([*cmd, "--out", str(a)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    try:
        while time.time() < deadline and proc.poll() is None and not (
                (first / "sweep.json").is_file() and _rows(second / "metrics.csv") >= 3):
            time.sleep(0.05)
        assert proc.poll() is None, "sweep ended before it could be interrupted: " + proc.stderr.read().decode()[-800:]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert not (second / "sweep.json").exists() and (second / "checkpoints" / "last.ckpt").is_file()
    finished = {p: p.stat().st_mtime_ns for p in (first / "model.safetensors", first / "sweep.json", first / "evaluation.json")}

    again = subprocess.run([*cmd, "--out", str(a)], env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resume plain-seed0" in again.stderr and "nine-sigma=1-seed0" not in again.stderr.replace("table", "")
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # not retrained, not re-evaluated
    record = json.loads((second / "sweep.json").read_text())
    assert record["attempts"] == 2 and record["killed_attempts"] == 1

    clean = subprocess.run([*cmd, "--out", str(b)], env=env, capture_output=True, text=True, timeout=900)
    assert clean.returncode == 0, clean.stderr[-2000:]
    for run in ("nine-sigma=1-seed0", "plain-seed0", "plain+pca-seed0"):
        np.testing.assert_array_equal(np.load(a / run / "embeddings" / "heldout.npy"),
                                      np.load(b / run / "embeddings" / "heldout.npy"))
    assert _table_without_time(a / "table.json") == _table_without_time(b / "table.json")

    # the table is rebuilt from the run directories alone
    before = (a / "table.json").read_bytes()
    (a / "table.json").unlink()
    (a / "table.md").unlink()
    assert main(["sweep", str(a), "--table"]) == 0
    assert (a / "table.json").read_bytes() == before
    assert (a / "tradeoff.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
