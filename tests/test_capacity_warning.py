"""A capacity above the bound's ceiling is reported once, in the CLI's words, with its reason."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

from infomatch.cli import main
from infomatch.model import CEILING_REASON

FAST = ["--dim", "3", "--epochs", "1", "--batch-size", "128", "--threads", "1", "--progress", "none"]


def test_capacity_above_log_batch_is_said_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sigma = 0.1  # capacity (3/2) log(1 + 100) = 6.92 nats > log 128 = 4.85
    assert 1.5 * math.log1p(1 / sigma**2) > math.log(128)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["train", "--out", str(tmp_path / "run"), "--sigma", str(sigma), *FAST]) == 0
    captured = capsys.readouterr()
    lines = [ln for ln in (captured.out + captured.err).splitlines() if "nats >= log(batch" in ln]
    assert len(lines) == 1, lines
    assert lines[0].startswith("warning: capacity 6.92") and CEILING_REASON in lines[0]
    assert not [w for w in caught if "nats >= log(batch" in str(w.message)]


def test_capacity_below_log_batch_says_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--out", str(tmp_path / "run"), "--sigma", "1.0", *FAST]) == 0
    captured = capsys.readouterr()
    assert "nats >= log(batch" not in captured.out + captured.err
