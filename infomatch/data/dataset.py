"""The in-memory dataset every loader returns, and the pixel-scaling rule shared by loaders.

Scaling rule for images (documented once, applied by every loader):

- integer input (uint8 and the like) is divided by 255 (``uint8`` pixels 0..255 -> [0, 1]);
- floating input already inside [0, 1] is kept as is;
- floating input outside [0, 1] is min-max scaled with the *global* minimum and maximum of the
  whole array (one affine map for all images, so relative intensities between images survive).

Tabular features (``(N, F)``) are kept as they are (float32); views scale their noise to each
feature's spread instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

Kind = Literal["image", "tabular"]


@dataclass
class ArrayDataset:
    """A dataset held in memory: inputs ``x``, optional integer ``labels``, a ``name``, a ``kind``.

    ``x`` is ``(N, C, H, W)`` float32 in [0, 1] for images or ``(N, F)`` float32 for tabular data;
    ``labels`` is int64 ``(N,)`` or ``None``; ``classes`` optionally names each label value
    (class folder names, CIFAR-10 class names).

    Example:
        >>> import torch
        >>> ds = ArrayDataset(torch.zeros(4, 1, 8, 8), torch.arange(4), "toy", "image")
        >>> len(ds), ds.input_shape, len(ds.subset([0, 2]))
        (4, (1, 8, 8), 2)
    """

    x: torch.Tensor
    labels: torch.Tensor | None
    name: str
    kind: Kind
    classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.x, torch.Tensor):
            raise ValueError(f"x must be a torch.Tensor; got {type(self.x).__name__}")
        if self.kind not in ("image", "tabular"):
            raise ValueError(f"kind must be one of 'image', 'tabular'; got {self.kind!r}")
        want = 4 if self.kind == "image" else 2
        if self.x.ndim != want:
            raise ValueError(
                f"x must have {want} dimensions for kind {self.kind!r}; got shape {tuple(self.x.shape)}"
            )
        if self.x.dtype != torch.float32:
            self.x = self.x.to(torch.float32)
        if self.labels is not None:
            if not isinstance(self.labels, torch.Tensor):
                self.labels = torch.as_tensor(np.asarray(self.labels))
            if self.labels.ndim != 1 or self.labels.shape[0] != self.x.shape[0]:
                raise ValueError(
                    f"labels must have shape ({self.x.shape[0]},); got {tuple(self.labels.shape)}"
                )
            if self.labels.dtype != torch.int64:
                self.labels = self.labels.to(torch.int64)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input: ``(C, H, W)`` or ``(F,)``."""
        return tuple(self.x.shape[1:])

    @property
    def num_classes(self) -> int | None:
        """``len(classes)`` if named, else ``max(label) + 1``; None without labels."""
        if self.classes is not None:
            return len(self.classes)
        if self.labels is None or self.labels.numel() == 0:
            return None
        return int(self.labels.max()) + 1

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, idx: np.ndarray | torch.Tensor | list[int]) -> ArrayDataset:
        """The rows ``idx`` (any integer index array) as a new dataset with the same name/kind."""
        index = torch.as_tensor(np.asarray(idx), dtype=torch.long)
        labels = None if self.labels is None else self.labels[index]
        return ArrayDataset(self.x[index], labels, self.name, self.kind, self.classes)


def images_to_unit_float(arr: np.ndarray, source: str) -> np.ndarray:
    """Scale image pixels to float32 in [0, 1] with the module's rule; ``source`` names the file.

    Example:
        >>> images_to_unit_float(np.array([[0, 255]], dtype=np.uint8), "a.npy").tolist()
        [[0.0, 1.0]]
    """
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(
                f"{source}: integer pixels must lie in 0..255; got range {arr.min()}..{arr.max()}"
            )
        return arr.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{source}: pixels must be integer or floating; got dtype {arr.dtype}")
    check_finite(arr, source)
    out = arr.astype(np.float32, copy=False)
    if out.size == 0:
        return out
    lo, hi = float(out.min()), float(out.max())
    if lo >= 0.0 and hi <= 1.0:
        return out
    if hi == lo:
        return np.zeros_like(out)
    return ((out - lo) / (hi - lo)).astype(np.float32)


def check_finite(arr: np.ndarray, source: str) -> None:
    """Raise a one-line ``ValueError`` naming ``source`` if ``arr`` holds NaN or inf."""
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{source}: contains {bad} NaN or inf values")


def labels_to_int64(y: np.ndarray, n: int, source: str) -> torch.Tensor:
    """Validate a label vector of length ``n`` and return it as int64; ``source`` names the file."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{source}: labels must be 1-D; got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"{source}: {n} inputs but {y.shape[0]} labels (lengths differ)")
    if np.issubdtype(y.dtype, np.floating):
        check_finite(y, source)
        if not np.all(y == np.round(y)):
            raise ValueError(f"{source}: labels must be integers; got non-integer floats")
    elif not np.issubdtype(y.dtype, np.integer) and y.dtype != np.bool_:
        raise ValueError(f"{source}: labels must be integers; got dtype {y.dtype}")
    return torch.from_numpy(y.astype(np.int64))


def image_dataset(
    images: np.ndarray,
    labels: np.ndarray | None,
    name: str,
    source: str,
    classes: tuple[str, ...] | None = None,
) -> ArrayDataset:
    """Build an image ``ArrayDataset`` from ``(N, C, H, W)`` pixels of any supported dtype."""
    if images.ndim != 4:
        raise ValueError(f"{source}: images must be (N, C, H, W); got shape {images.shape}")
    if images.shape[0] == 0:
        raise ValueError(f"{source}: contains no images")
    x = torch.from_numpy(np.ascontiguousarray(images_to_unit_float(images, source)))
    y = None if labels is None else labels_to_int64(labels, images.shape[0], source)
    return ArrayDataset(x, y, name, "image", classes if y is not None else None)
