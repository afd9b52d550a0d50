"""SIGKILL a training process mid-run, resume it: same optimizer steps, every epoch exactly once."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EPOCHS = 24
BATCH = 128
N_TRAIN = 1797 - int(round(0.2 * 1797))


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    try:
        return list(csv.DictReader(path.open()))
    except (OSError, csv.Error):
        return []


def _cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "infomatch", "train", "--out", str(out), "--dim", "4", "--epochs", str(EPOCHS),
            "--batch-size", str(BATCH), "--progress", "none", "--threads", "1", *extra]


def test_sigkill_then_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_cmd(out), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    try:
        while time.time() < deadline and len(_rows(out / "metrics.csv")) < 3 and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "training finished before it could be interrupted: " + proc.stderr.read().decode()[-500:]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    killed_at = len(_rows(out / "metrics.csv"))
    assert 3 <= killed_at < EPOCHS
    assert not (out / "model.safetensors").exists()  # the run really was cut short

    done = subprocess.run(_cmd(out, "--resume"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = _rows(out / "metrics.csv")
    steps_per_epoch = N_TRAIN // BATCH
    assert [int(r["epoch"]) for r in rows] == list(range(EPOCHS))  # no lost, no repeated epoch
    assert [int(r["step"]) for r in rows] == [steps_per_epoch * (e + 1) for e in range(EPOCHS)]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["optimizer_steps"] == EPOCHS * steps_per_epoch
    assert metrics["epochs_completed"] == EPOCHS
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
