"""CLI user errors: one line naming the problem, exit status 2, no traceback, nothing modified."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from infomatch.cli import main


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def existing_run(tmp_path: Path) -> Path:
    """A directory that looks like a finished run of a different config."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("data: digits\ndim: 4\nsigma: 2.0\nepochs: 1\n")
    (run / "checkpoints" / "last.ckpt").write_bytes(b"not a real checkpoint")
    (run / "metrics.csv").write_text("epoch,step\n0,1\n")
    return run


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "--data", "/nonexistent/data/dir"], "/nonexistent/data/dir"),
        (["train", "--no-such-option"], "--no-such-option"),
        (["train", "--sigma", "-1"], "sigma"),
        (["train", "--dim", "0"], "dim"),
        (["train", "--batch-size", "0"], "batch_size"),
        (["train", "--epochs", "abc"], "--epochs"),
        (["train", "--prior", "cauchy"], "cauchy"),
        (["bogus-command"], "bogus-command"),
        (["embed", "/nonexistent/run", "--out", "z.npy"], "/nonexistent/run"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, needle, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("infomatch: error:") and needle in err[0]
    assert not (tmp_path / "runs").exists()  # nothing created for a rejected run


def test_unknown_config_key(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dim: 4\nnot_an_option: 3\n")
    assert main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not_an_option" in err and len(err.splitlines()) == 1


def test_occupied_out_dir_is_refused_and_untouched(existing_run, capsys) -> None:
    before = _snapshot(existing_run)
    assert main(["train", "--out", str(existing_run), "--epochs", "1"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main(["train", "--out", str(existing_run), "--resume", "--dim", "8"]) == 2
    assert "different config" in capsys.readouterr().err
    assert _snapshot(existing_run) == before


def test_non_empty_foreign_dir_is_refused(tmp_path, capsys) -> None:
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("keep me")
    assert main(["train", "--out", str(d)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (d / "notes.txt").read_text() == "keep me" and len(list(d.iterdir())) == 1


def test_subprocess_exit_code_and_no_traceback(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "infomatch", "train", "--sigma", "-1"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "sigma" in proc.stderr
