"""numpy ``.npy`` / ``.npz`` files: images ``(N, H, W)`` / ``(N, C, H, W)`` / ``(N, H, W, C)`` or
tabular features ``(N, F)``.

Rank decides the kind: rank 2 is tabular, rank 3 is grey images, rank 4 is images with the
channel axis second, or last when the last axis has 1, 3 or 4 entries and the second does not.
In an ``.npz`` the inputs are the first of the keys ``x, X, data, images, features`` (or the only
array) and the labels the first of ``y, Y, labels, targets, target``. Files are loaded with
``allow_pickle=False``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from infomatch.data.dataset import (
    ArrayDataset,
    check_finite,
    image_dataset,
    labels_to_int64,
)

X_KEYS = ("x", "X", "data", "images", "features")
Y_KEYS = ("y", "Y", "labels", "targets", "target")


def _read(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a readable numpy file ({err})") from None
    if isinstance(loaded, np.ndarray):
        return loaded, None
    with loaded:
        keys = list(loaded.files)
        xk = next((k for k in X_KEYS if k in keys), None)
        if xk is None and len(keys) == 1:
            xk = keys[0]
        if xk is None:
            raise ValueError(f"{path}: no inputs array (keys {keys}; expected one of {X_KEYS})")
        yk = next((k for k in Y_KEYS if k in keys), None)
        try:
            return loaded[xk], (None if yk is None else loaded[yk])
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
            raise ValueError(f"{path}: unreadable array ({err})") from None


def arrays_to_dataset(x: np.ndarray, y: np.ndarray | None, name: str, source: str) -> ArrayDataset:
    """Turn an inputs array (and optional labels) into an ``ArrayDataset`` by the rank rule above.

    Example:
        >>> import numpy as np
        >>> arrays_to_dataset(np.zeros((5, 3)), None, "t", "t.npy").kind
        'tabular'
    """
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"{source}: inputs must be numeric; got dtype {x.dtype}")
    if x.ndim not in (2, 3, 4):
        raise ValueError(
            f"{source}: inputs must have rank 2 (N, F), 3 (N, H, W) or 4 (N, C, H, W); "
            f"got rank {x.ndim} with shape {x.shape}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{source}: contains no rows")
    check_finite(x, source)
    if x.ndim == 2:
        if np.iscomplexobj(x):
            raise ValueError(f"{source}: inputs must be real; got dtype {x.dtype}")
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        labels = None if y is None else labels_to_int64(y, x.shape[0], source)
        return ArrayDataset(xt, labels, name, "tabular")
    if x.ndim == 3:
        x = x[:, None]
    elif x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
        x = x.transpose(0, 3, 1, 2)
    return image_dataset(x, y, name, source)


def load_array_file(path: str | Path) -> ArrayDataset:
    """Load a ``.npy`` (inputs only) or ``.npz`` (inputs and optional labels) file.

    Example:
        >>> ds = load_array_file("features.npz")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() not in (".npy", ".npz"):
        raise ValueError(f"{path}: expected a .npy or .npz file")
    x, y = _read(path)
    return arrays_to_dataset(x, y, path.stem, str(path))
