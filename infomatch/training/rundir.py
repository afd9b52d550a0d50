"""Run directories: layout, atomic writes, provenance.

A run directory holds::

    config.yaml              the resolved TrainConfig
    run.json                 seed, package versions, platform, status, timings
    metrics.csv              one row per epoch (loss, MI estimate, capacity, held-out MI, ...)
    metrics.json             final figures (MI estimate, capacity, ceiling, probe accuracy)
    split.json               the seeded train / held-out indices
    checkpoints/last.ckpt    Lightning checkpoint of the last finished epoch (resume point)
    checkpoints/best.ckpt    checkpoint with the best held-out MI estimate
    model.safetensors        final weights (encoder + NINE head), after recalibration
    encoder.pt2              encoder + normalization as a torch.export program (plain PyTorch)
    embeddings/{train,heldout}.npy and *_labels.npy

Example:
    >>> import tempfile
    >>> d = RunDir(tempfile.mkdtemp())
    >>> d.write_json("run.json", {"seed": 0})
    >>> d.read_json("run.json")["seed"]
    0
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_bytes, atomic_write_text
from ..errors import RunBusyError

LOCK_NAME = ".lock"

PACKAGES = ("infomatch", "torch", "lightning", "numpy", "scipy", "scikit-learn", "kornia", "matplotlib", "zuko", "safetensors")


def npy_bytes(array: np.ndarray) -> bytes:
    """The ``.npy`` file contents of ``array`` (no pickle)."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def atomic_save_npy(path: str | Path, array: np.ndarray) -> None:
    atomic_write_bytes(path, npy_bytes(array))


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages a run depends on (None when absent)."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["python"] = sys.version.split()[0]
    return out


def environment(threads: int | None = None) -> dict[str, Any]:
    """Package versions, platform, CPU and thread count of this process, for ``run.json``.

    ``threads`` is the thread count the run will use when it sets one (``--threads``); recorded
    instead of torch's current count, which the run changes only after this is written.

    Example:
        >>> environment(threads=3)["torch_threads"]
        3
    """
    import torch

    from .hardware import cpu_info

    return {
        "versions": package_versions(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "torch_threads": threads or torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "cpu": cpu_info().to_dict(),
    }


class RunDir:
    """A run directory and the files in it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # paths
    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.ckpt"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.ckpt"

    @property
    def weights(self) -> Path:
        return self.path / "model.safetensors"

    @property
    def encoder_export(self) -> Path:
        return self.path / "encoder.pt2"

    @property
    def embeddings(self) -> Path:
        return self.path / "embeddings"

    @property
    def metrics_csv(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def lock_file(self) -> Path:
        return self.path / LOCK_NAME

    def is_run(self) -> bool:
        return self.config.is_file()

    def entries(self) -> list[Path]:
        """What the directory holds, the lock file aside."""
        return [p for p in self.path.iterdir() if p.name != LOCK_NAME] if self.path.is_dir() else []

    def status(self) -> str | None:
        """``running`` / ``interrupted`` / ``failed`` / ``finished`` from ``run.json`` (None if unreadable)."""
        try:
            return str(self.read_json("run.json").get("status"))
        except (OSError, ValueError, AttributeError):
            return None

    def lock_holder(self) -> int | None:
        """The pid of the process training in this directory now, or None."""
        return RunLock(self.path).holder()

    # io
    def write_json(self, name: str, payload: dict[str, Any]) -> None:
        """Atomic, strict JSON: a non-finite float (an infinite capacity at sigma 0) is stored as null."""
        text = json.dumps(_finite(payload), indent=2, sort_keys=True, default=_json_default, allow_nan=False)
        atomic_write_text(self.path / name, text + "\n")

    def read_json(self, name: str) -> dict[str, Any]:
        return json.loads((self.path / name).read_text())

    def update_json(self, name: str, **fields: Any) -> None:
        p = self.path / name
        payload = self.read_json(name) if p.is_file() else {}
        payload.update(fields)
        self.write_json(name, payload)

    @property
    def split(self) -> Path:
        return self.path / "split.json"

    def save_split(self, train_idx: np.ndarray, held_idx: np.ndarray, **meta: Any) -> None:
        """Store the train / held-out indices (``infomatch.data.save_split``, JSON)."""
        from ..data.split import save_split

        save_split(self.split, train_idx, held_idx, **meta)

    def load_split(self) -> tuple[np.ndarray, np.ndarray]:
        from ..data.split import load_split

        return load_split(self.split)


class RunLock:
    """An exclusive lock on a run directory for the life of a training (``flock`` on ``.lock``).

    The kernel releases it when the process ends, however it ends (``kill -9`` included), so a
    stale lock file never blocks a later run. A second training into the same directory fails
    at once with :class:`~infomatch.errors.RunBusyError`.

    Example:
        >>> import tempfile
        >>> with RunLock(tempfile.mkdtemp()) as lock:
        ...     lock.holder() == os.getpid()
        True
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.file = self.path / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            pid = _read_pid(self.file)
            raise RunBusyError(f"--out {self.path} is in use by another training (pid {pid if pid else '?'}); "
                               "wait for it to end or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def holder(self) -> int | None:
        """pid of the holder (this process included), or None when nobody holds the lock."""
        if self._fd is not None:
            return os.getpid()
        if not self.file.is_file():
            return None
        import fcntl

        try:
            fd = os.open(self.file, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_pid(self.file) or -1
        finally:
            os.close(fd)
        return None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def default_run_path(root: str | Path, data: str, prior: str) -> Path:
    """A new, unused directory name under ``root`` such as ``runs/20261122-093000-digits-gaussian``."""
    stem = Path(data).name.replace(".", "_") or "data"
    base = Path(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}-{prior}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def _finite(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not math.isfinite(float(obj)):
        return None
    return obj


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
