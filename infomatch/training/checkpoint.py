"""Safe loading and saving of weights.

Lightning checkpoints are read with ``torch.load(..., weights_only=True)``: a file carrying
arbitrary pickled objects is refused before any of its code can run. Final weights are stored
as safetensors, which holds tensors and a string metadata header, nothing executable.

Example:
    >>> import tempfile, torch, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.safetensors"
    >>> save_weights(p, {"a": torch.ones(2)}, {"dim": 2})
    >>> state, meta = load_weights(p)
    >>> meta["dim"], state["a"].tolist()
    (2, [1.0, 1.0])
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .._io import atomic_write_bytes


class UnsafeCheckpointError(ValueError):
    """A checkpoint holds something other than tensors and plain containers."""


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a Lightning/PyTorch checkpoint without executing pickled code."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"checkpoint {p} is a directory; expected a .ckpt file")
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint not found: {p}")
    with p.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":  # torch.save writes a zip archive
        what = "empty" if not magic else "not a PyTorch checkpoint (no zip archive inside)"
        raise ValueError(f"checkpoint {p} is {what}")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsafeCheckpointError(
            f"refusing to load checkpoint {p}: it holds objects that weights_only loading does not allow ({first})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ValueError(f"checkpoint {p} cannot be read: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def save_weights(path: str | Path, state: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write ``state`` as safetensors with ``meta`` (JSON) in the header, atomically."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    data = st_save(tensors, metadata={"infomatch": json.dumps(meta, sort_keys=True)})
    atomic_write_bytes(path, data)


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a safetensors file written by :func:`save_weights`: ``(state, meta)``."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"weights file not found: {p}")
    raw = p.read_bytes()
    try:
        state = st_load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + header_len])
    except (SafetensorError, ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"weights file {p} is not a valid safetensors file: {exc}") from None
    meta_text = (header.get("__metadata__") or {}).get("infomatch")
    if meta_text is None:
        raise ValueError(f"weights file {p} was not written by infomatch (no 'infomatch' metadata)")
    return state, json.loads(meta_text)
