"""Run-directory files and the output write policy: strict JSON, refusals, restart after a failed start."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from infomatch._io import check_output, write_output
from infomatch.training.config import TrainConfig
from infomatch.training.rundir import RunDir, RunLock


def test_non_finite_metrics_are_stored_as_null(tmp_path: Path) -> None:
    """``--sigma 0`` gives an infinite capacity: metrics.json must stay valid (strict) JSON."""
    run = RunDir(tmp_path)
    run.write_json("metrics.json", {"capacity": float("inf"), "mi": float("nan"), "nested": [1.0, -float("inf")]})
    text = (tmp_path / "metrics.json").read_text()
    loaded = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert loaded == {"capacity": None, "mi": None, "nested": [1.0, None]}


def test_write_policy(tmp_path: Path) -> None:
    existing = tmp_path / "a.json"
    existing.write_text("keep")
    with pytest.raises(FileExistsError, match="--force"):
        write_output(existing, "new", flag="--json")
    assert existing.read_text() == "keep"
    write_output(existing, "new", force=True)
    assert existing.read_text() == "new"
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        check_output(fifo, force=True)
    with pytest.raises(ValueError, match="directory"):
        check_output(tmp_path, force=True)
    with pytest.raises(ValueError, match="inputs"):
        check_output(existing, force=True, protected=(tmp_path / "." / "a.json",))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_output(tmp_path / "missing" / "x.json")
    if Path("/dev/full").exists():
        with pytest.raises(ValueError, match="not a regular file"):
            check_output("/dev/full", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "f.json"]  # no temporary files left


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    from infomatch.errors import RunBusyError

    with RunLock(tmp_path):
        assert RunDir(tmp_path).lock_holder() == os.getpid()
        with pytest.raises(RunBusyError, match="in use"):
            RunLock(tmp_path).acquire()
    assert RunDir(tmp_path).lock_holder() is None


def test_failed_start_can_be_retried(tmp_path: Path) -> None:
    """A run that failed before its first checkpoint holds no trained state: a retry starts it over."""
    from infomatch.training.engine import train

    out = tmp_path / "run"
    out.mkdir()
    cfg = TrainConfig(dim=2, epochs=1, batch_size=128, progress="none", threads=1)
    (out / "config.yaml").write_text(cfg.replace(dim=3).to_yaml())
    (out / "run.json").write_text(json.dumps({"status": "failed"}))
    result = train(cfg, out, log=lambda msg: None)
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    assert TrainConfig.from_yaml(out / "config.yaml").dim == 2 and result.metrics["epochs_completed"] == 1


def test_run_json_records_the_threads_the_run_uses(tmp_path: Path) -> None:
    """``run.json`` is written before training sets ``--threads``: it must hold that count, not torch's previous one."""
    import torch

    from infomatch.training.engine import train

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train(TrainConfig(dim=2, epochs=1, batch_size=128, progress="none", threads=1), tmp_path / "run",
              log=lambda msg: None)
    finally:
        torch.set_num_threads(before)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["torch_threads"] == 1
