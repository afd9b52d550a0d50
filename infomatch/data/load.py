"""``load_dataset(spec)``: one entry point that recognizes every supported format."""

from __future__ import annotations

from pathlib import Path

from infomatch.data.arrays import load_array_file
from infomatch.data.cifar import cifar_root, load_cifar10_dir
from infomatch.data.dataset import ArrayDataset
from infomatch.data.digits import load_digits_dataset
from infomatch.data.folder import is_image_folder, load_image_folder
from infomatch.data.idx import is_idx_dir, load_idx_dir
from infomatch.data.shapes import load_shapes_dataset

SPLITS = ("train", "test")


def _parse_spec(spec: str, split: str | None) -> tuple[Path, str | None]:
    """Split an optional ``:train`` / ``:test`` suffix off ``spec`` (only if the rest exists)."""
    head, sep, tail = spec.rpartition(":")
    if sep and tail in SPLITS and head and Path(head).exists() and not Path(spec).exists():
        if split is not None and split != tail:
            raise ValueError(f"split must match the spec suffix {tail!r}; got {split!r}")
        return Path(head), tail
    return Path(spec), split


def load_dataset(
    spec: str, split: str | None = None, image_size: tuple[int, int] | None = None
) -> ArrayDataset:
    """Load a dataset into memory from a name or a path; nothing is ever downloaded.

    ``spec`` is ``"digits"`` (scikit-learn's bundled 8x8 digits), ``"shapes"`` (procedural
    shapes with known factors, :mod:`infomatch.data.shapes`) or a path to:

    - a directory of IDX files (MNIST / Fashion-MNIST, raw or ``.gz``);
    - a CIFAR-10 python directory (``data_batch_1..5``, ``test_batch``);
    - an image folder (class subfolders -> labels; flat -> no labels);
    - a ``.npy`` / ``.npz`` file (images or tabular features, optional labels).

    For IDX and CIFAR directories ``split`` (or a ``path:train`` / ``path:test`` suffix) picks
    the part; by default the training part is used when present, else the test part.
    ``image_size=(H, W)`` resizes the images of an image folder. Images come back as float32
    ``(N, C, H, W)`` in [0, 1] (see :mod:`infomatch.data.dataset` for the scaling rule).

    Example:
        >>> ds = load_dataset("digits")
        >>> ds.x.shape, ds.kind, ds.labels.shape
        (torch.Size([1797, 1, 8, 8]), 'image', torch.Size([1797]))
    """
    if not isinstance(spec, (str, Path)) or not str(spec):
        raise ValueError(f"spec must be 'digits' or a path; got {spec!r}")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of 'train', 'test'; got {split!r}")
    spec = str(spec)
    if spec == "digits" and not Path(spec).exists():
        return load_digits_dataset()
    if spec == "shapes" and not Path(spec).exists():
        return load_shapes_dataset()
    path, split = _parse_spec(spec, split)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory (expected 'digits' or a path)")
    if path.is_file():
        if path.suffix.lower() in (".npy", ".npz"):
            return load_array_file(path)
        raise ValueError(f"{path}: unsupported file type {path.suffix!r} (use .npy, .npz or a directory)")
    if is_idx_dir(path):
        return load_idx_dir(path, split)
    if cifar_root(path) is not None:
        return load_cifar10_dir(path, split)
    if split is not None:
        raise ValueError(f"{path}: split={split!r} applies to IDX and CIFAR-10 directories only")
    if not is_image_folder(path):
        entries = sorted(p.name for p in path.iterdir())
        raise ValueError(
            f"{path}: no IDX files, CIFAR-10 batches or images found "
            f"({len(entries)} entries{': ' + ', '.join(entries[:3]) if entries else ''})"
        )
    return load_image_folder(path, image_size=image_size)
