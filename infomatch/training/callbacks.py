"""Lightning callbacks and plugins: per-epoch metrics table, quiet progress, atomic checkpoints.

Example:
    >>> import tempfile, pathlib
    >>> cb = EpochMetricsCSV(pathlib.Path(tempfile.mkdtemp()) / "metrics.csv")
    >>> cb.path.name
    'metrics.csv'
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from .._io import atomic_write_bytes, atomic_write_text

COLUMNS = ("epoch", "step", "loss", "mi", "capacity", "val_mi", "epoch_seconds", "examples_per_second")


def _value(metrics: dict[str, Any], key: str) -> float:
    v = metrics.get(key)
    if v is None:
        return math.nan
    return float(v.item() if isinstance(v, torch.Tensor) else v)


class EpochMetricsCSV(L.Callback):
    """One row per finished epoch in ``metrics.csv``, written atomically every ``write_every``
    epochs (the checkpoint cadence; the write waits for the start of the next epoch, so that the
    epoch's checkpoint exists first) and when training ends or stops.

    ``val_mi`` is filled on the epochs that ran validation and left empty (NaN) on the others.
    On resume, rows of epochs at or after the resumed epoch are dropped first, so the table
    never holds an epoch twice.
    """

    def __init__(self, path: str | Path, write_every: int = 1) -> None:
        self.path = Path(path)
        self.write_every = max(1, int(write_every))
        self._t0 = time.perf_counter()
        self._table: list[dict[str, Any]] = []
        self._pending = False

    def _rows(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        with self.path.open(newline="") as fh:
            return list(csv.DictReader(fh))

    def _write(self, rows: list[dict[str, Any]]) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        atomic_write_text(self.path, buf.getvalue())

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # on_train_start runs after a checkpoint is restored, so current_epoch is the resume point
        if trainer.is_global_zero:
            start = trainer.current_epoch
            self._table = [r for r in self._rows() if int(r["epoch"]) < start]
            self._write(self._table)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        m = trainer.callback_metrics
        seconds = time.perf_counter() - self._t0
        batch = getattr(pl_module.cfg, "batch_size", 0)
        epoch = trainer.current_epoch
        validated = (epoch + 1) % max(1, trainer.check_val_every_n_epoch or 1) == 0
        self._table.append({
            "epoch": epoch,
            "step": trainer.global_step,
            "loss": _value(m, "loss_epoch"),
            "mi": _value(m, "mi_epoch"),
            "capacity": _value(m, "capacity"),
            "val_mi": _value(m, "val_mi") if validated else math.nan,
            "epoch_seconds": round(seconds, 4),
            "examples_per_second": round(trainer.num_training_batches * batch / seconds, 1) if seconds > 0 else math.nan,
        })
        if (epoch + 1) % self.write_every == 0:
            # written when the next epoch starts, after this epoch's checkpoint (checkpoint
            # callbacks run last): a row in the file always has a checkpoint to resume from
            self._pending = True

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0 = time.perf_counter()
        if self._pending and trainer.is_global_zero:
            self._write(self._table)
        self._pending = False

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            self._write(self._table)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if trainer.is_global_zero and self._table:
            self._write(self._table)


class EpochPrinter(L.Callback):
    """One line every ``every`` epochs, for logs and non-interactive terminals."""

    def __init__(self, every: int = 10, stream: Any = None) -> None:
        self.every = max(1, every)
        self.stream = stream or sys.stderr

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if not trainer.is_global_zero or (epoch % self.every and epoch != trainer.max_epochs):
            return
        m = trainer.callback_metrics
        print(
            f"epoch {epoch}/{trainer.max_epochs}  loss {_value(m, 'loss_epoch'):.4f}  "
            f"MI {_value(m, 'mi_epoch'):.3f} nats  capacity {_value(m, 'capacity'):.3f}  "
            f"held-out MI {_value(m, 'val_mi'):.3f}",
            file=self.stream,
            flush=True,
        )


class RNGState(L.Callback):
    """Store the global random streams (torch, numpy, python) in every checkpoint and restore them.

    The views and the injected noise draw from torch's global RNG; Lightning's checkpoint
    restores weights, optimizer and loop counters but not that stream, so without this a resumed
    run sees other augmentations and noise than the uninterrupted one. Saved at the epoch-end
    checkpoint, restored before the next epoch: the resumed run then continues bitwise like the
    uninterrupted one (CPU, float32). Plain tensors and lists only (``weights_only`` loading).
    """

    def state_dict(self) -> dict[str, Any]:
        import random

        import numpy as np

        kind, keys, pos, has_gauss, cached = np.random.get_state()
        py_version, py_state, py_gauss = random.getstate()
        return {
            "torch": torch.get_rng_state(),
            "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype("int64")), "pos": int(pos),
                      "has_gauss": int(has_gauss), "cached": float(cached)},
            "python": {"version": py_version, "state": list(py_state), "gauss": py_gauss},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import random

        import numpy as np

        torch.set_rng_state(state["torch"])
        n = state["numpy"]
        np.random.set_state((n["kind"], n["keys"].numpy().astype("uint32"), n["pos"], n["has_gauss"], n["cached"]))
        p = state["python"]
        random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written through a temporary file and a rename; loaded with weights_only=True."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        atomic_write_bytes(path, buf.getvalue())

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        from .checkpoint import load_checkpoint

        return load_checkpoint(path, map_location=map_location)
