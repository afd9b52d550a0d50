"""IDX files (MNIST, Fashion-MNIST, KMNIST...): raw or gzip, with magic-number and size checks.

An IDX file starts with two zero bytes, a type byte (0x08 = uint8) and the number of
dimensions, followed by one big-endian uint32 per dimension and the data. MNIST images are
``idx3`` (N, 28, 28), labels ``idx1`` (N,).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np

from infomatch.data.dataset import ArrayDataset, image_dataset

_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_IMAGES = re.compile(r"^(?P<prefix>.*?)images[.-]idx3-ubyte(?:\.gz)?$")
SPLIT_PREFIXES = {"train": ("train",), "test": ("t10k", "test")}


def read_idx(path: str | Path, expect_ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (gzip if the name ends in ``.gz`` or the bytes say so).

    Raises a one-line ``ValueError`` naming the file if the magic number, the number of
    dimensions or the data size is wrong (truncated or mislabeled files).

    Example:
        >>> arr = read_idx("t10k-labels-idx1-ubyte.gz", expect_ndim=1)  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    if expect_ndim is not None and ndim != expect_ndim:
        raise ValueError(
            f"{path}: IDX magic says {ndim} dimensions but {expect_ndim} expected "
            f"(images are idx3, labels idx1: file mislabeled?)"
        )
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _DTYPES[raw[2]]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX header says shape {shape} ({expected} bytes) but the file holds "
            f"{len(raw) - header} data bytes (truncated or corrupt)"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def find_idx_pairs(root: Path) -> dict[str, tuple[Path, Path | None]]:
    """Map each images file's prefix (e.g. ``"train-"``, ``"t10k-"``) to (images, labels or None)."""
    pairs: dict[str, tuple[Path, Path | None]] = {}
    for f in sorted(root.iterdir()):
        m = _IMAGES.match(f.name)
        if not m or not f.is_file():
            continue
        prefix = m.group("prefix")
        labels = None
        for sep in ("-", "."):
            for ext in ("", ".gz"):
                cand = root / f"{prefix}labels{sep}idx1-ubyte{ext}"
                if cand.is_file():
                    labels = cand
                    break
            if labels is not None:
                break
        pairs.setdefault(prefix, (f, labels))
    return pairs


def is_idx_dir(root: Path) -> bool:
    """True if ``root`` holds at least one ``*images-idx3-ubyte[.gz]`` file."""
    return root.is_dir() and bool(find_idx_pairs(root))


def load_idx_dir(root: str | Path, split: str | None = None) -> ArrayDataset:
    """Load images (and labels if present) from a directory of IDX files.

    ``split`` is ``"train"`` (a ``train`` token in the file prefix, e.g. ``train-`` or
    ``emnist-digits-train-``) or ``"test"`` (``t10k`` / ``test``);
    by default the training files are used if present, otherwise the test files, otherwise the
    only images file there is.

    Example:
        >>> ds = load_idx_dir("/data/mnist", split="test")  # doctest: +SKIP
        >>> ds.x.shape  # doctest: +SKIP
        torch.Size([10000, 1, 28, 28])
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such directory")
    pairs = find_idx_pairs(root)
    if not pairs:
        raise ValueError(f"{root}: no '*images-idx3-ubyte[.gz]' files")
    if split is not None and split not in SPLIT_PREFIXES:
        raise ValueError(f"split must be one of 'train', 'test'; got {split!r}")
    order = [split] if split is not None else ["train", "test"]
    chosen = None
    for name in order:
        for prefix in pairs:
            if set(re.split(r"[-_.]", prefix.lower())) & set(SPLIT_PREFIXES[name]):
                chosen, split_name = prefix, name
                break
        if chosen is not None:
            break
    if chosen is None:
        if split is not None or len(pairs) > 1:
            raise ValueError(f"{root}: no {split or 'train/test'} IDX images among {sorted(pairs)}")
        chosen = next(iter(pairs))
        split_name = chosen.rstrip("-.") or "images"
    images_path, labels_path = pairs[chosen]
    images = read_idx(images_path, expect_ndim=3)
    labels = None if labels_path is None else read_idx(labels_path, expect_ndim=1)
    source = f"{images_path}" if labels_path is None else f"{images_path} / {labels_path.name}"
    return image_dataset(images[:, None], labels, f"{root.name}:{split_name}", source)
