"""Ctrl-C (SIGINT) at start-up, in the first epoch and mid-run, and SIGKILL mid-run: each leaves a
run that ``--resume`` finishes with final weights bitwise equal to an uninterrupted run (CPU,
float32). Two trainings into one ``--out``: the second fails at once with one line."""

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
from safetensors.torch import load_file

pytestmark = pytest.mark.slow

EPOCHS = 8
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "infomatch", "train", "--out", str(out), "--dim", "4", "--epochs", str(EPOCHS),
            "--batch-size", "128", "--progress", "none", "--threads", "1", *extra]


def _rows(path: Path) -> int:
    try:
        return len(list(csv.DictReader(path.open())))
    except (OSError, csv.Error):
        return 0


def _run(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_cmd(out, *extra), env=ENV, capture_output=True, text=True, timeout=600, cwd=out.parent)


def _weights(run: Path) -> dict:
    return load_file(run / "model.safetensors")


def _assert_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and bool((a[k] == b[k]).all()), k


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("ref") / "run"
    done = _run(out)
    assert done.returncode == 0, done.stderr[-2000:]
    return _weights(out)


READY = {
    "start-up": lambda out: (out / "run.json").is_file(),
    "first-epoch": lambda out: (out / "logs").is_dir() and _rows(out / "metrics.csv") == 0,
    "mid-run": lambda out: _rows(out / "metrics.csv") >= 3,
}


def _interrupt(out: Path, when: str, sig: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(_cmd(out), env=ENV, cwd=out.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None and not READY[when](out):
            time.sleep(0.01)
        assert proc.poll() is None, "training ended before it could be interrupted: " + proc.stderr.read()[-1000:]
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc, err


@pytest.mark.parametrize(("when", "sig"), [("start-up", signal.SIGINT), ("first-epoch", signal.SIGINT),
                                           ("mid-run", signal.SIGINT), ("mid-run", signal.SIGKILL)],
                         ids=["int-start-up", "int-first-epoch", "int-mid-run", "kill9-mid-run"])
def test_interrupt_then_resume_equals_uninterrupted(when: str, sig: int, reference: dict, tmp_path: Path) -> None:
    # a whole run takes a few seconds on a quiet machine: when the signal lands after the run
    # has finished (exit 0, weights written) the attempt says nothing about interrupts; try
    # again in a new directory (3 attempts; every one ending that way fails the test)
    for attempt in range(3):
        out = tmp_path / f"run{attempt}"
        out.parent.mkdir(parents=True, exist_ok=True)
        proc, err = _interrupt(out, when, sig)
        if not (proc.returncode == 0 and (out / "model.safetensors").exists()):
            break
    assert not (out / "model.safetensors").exists(), f"exit {proc.returncode}: {err[-2000:]}"  # really cut short
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err[-2000:]
        lines = err.strip().splitlines()
        assert lines[-1].startswith("infomatch: interrupted: ") and "--resume" in lines[-1], err[-2000:]
        assert "Traceback" not in err
        assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    else:
        assert proc.returncode == -signal.SIGKILL
    done = _run(out, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == list(range(EPOCHS))
    _assert_equal(_weights(out), reference)


def test_second_training_into_one_out_fails_at_once(tmp_path: Path) -> None:
    out = tmp_path / "run"
    long = [a if a != str(EPOCHS) else "500" for a in _cmd(out)]
    first = subprocess.Popen(long, env=ENV, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and first.poll() is None and not (out / "run.json").is_file():
            time.sleep(0.01)
        assert first.poll() is None
        config_before = (out / "config.yaml").read_bytes()
        t0 = time.time()
        second = _run(out)
        elapsed = time.time() - t0
        assert first.poll() is None, "the first training ended before the second was refused"
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "in use by another training" in lines[0], second.stderr
    assert elapsed < 60  # refused at start-up, not after training
    assert first.returncode == 130, err[-2000:]
    assert (out / "config.yaml").read_bytes() == config_before  # the first run's files are its own
    epochs = [int(r["epoch"]) for r in csv.DictReader((out / "metrics.csv").open())]
    assert epochs == list(range(len(epochs)))  # one run's epochs, none interleaved
