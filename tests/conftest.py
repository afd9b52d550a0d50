"""Shared test fixtures: the real MNIST directory (test split, 10,000 digits)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DEFAULT_MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def mnist_path() -> Path:
    """The MNIST IDX directory: ``$INFOMATCH_MNIST_DIR`` or ``../shared/data/mnist``."""
    return Path(os.environ.get("INFOMATCH_MNIST_DIR", DEFAULT_MNIST_DIR))


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Path to the real MNIST files; the test is skipped (with the path) when they are absent."""
    path = mnist_path()
    if not any(path.glob("*images-idx3-ubyte*")):
        pytest.skip(f"MNIST IDX files not found in {path} (set INFOMATCH_MNIST_DIR)")
    return path
