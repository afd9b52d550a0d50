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
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_bytes, atomic_write_text

PACKAGES = ("infomatch", "torch", "lightning", "numpy", "scipy", "scikit-learn", "kornia", "matplotlib", "zuko", "safetensors")


def atomic_save_npy(path: str | Path, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


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


def environment() -> dict[str, Any]:
    import torch

    from .hardware import cpu_info

    return {
        "versions": package_versions(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "torch_threads": torch.get_num_threads(),
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

    def is_run(self) -> bool:
        return self.config.is_file()

    # io
    def write_json(self, name: str, payload: dict[str, Any]) -> None:
        atomic_write_text(self.path / name, json.dumps(payload, indent=2, sort_keys=True, default=_json_default) + "\n")

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


def default_run_path(root: str | Path, data: str, prior: str) -> Path:
    """A new, unused directory name under ``root`` such as ``runs/20261122-093000-digits-gaussian``."""
    stem = Path(data).name.replace(".", "_") or "data"
    base = Path(root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}-{prior}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
