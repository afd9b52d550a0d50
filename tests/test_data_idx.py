"""IDX round trips (raw and gzip), the real MNIST test set, and bad IDX files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from infomatch.data import load_dataset, read_idx


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode a uint8 array in IDX format (written by hand from the format description)."""
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_idx_pair(root: Path, prefix: str, images: np.ndarray, labels: np.ndarray | None, gz: bool) -> None:
    ext = ".gz" if gz else ""
    enc = gzip.compress if gz else (lambda b: b)
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{prefix}-images-idx3-ubyte{ext}").write_bytes(enc(idx_bytes(images)))
    if labels is not None:
        (root / f"{prefix}-labels-idx1-ubyte{ext}").write_bytes(enc(idx_bytes(labels)))


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path: Path, gz: bool) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 5, 6), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    write_idx_pair(tmp_path, "t10k", images, labels, gz)
    ds = load_dataset(str(tmp_path))
    assert ds.kind == "image" and ds.x.dtype == torch.float32
    assert ds.x.shape == (7, 1, 5, 6)
    np.testing.assert_array_equal(np.round(ds.x.numpy()[:, 0] * 255).astype(np.uint8), images)
    np.testing.assert_array_equal(ds.labels.numpy(), labels.astype(np.int64))
    assert ds.labels.dtype == torch.int64


def test_idx_split_choice_and_no_labels(tmp_path: Path) -> None:
    train = np.full((3, 4, 4), 255, np.uint8)
    test = np.zeros((2, 4, 4), np.uint8)
    write_idx_pair(tmp_path, "train", train, None, gz=True)
    write_idx_pair(tmp_path, "t10k", test, np.array([1, 2], np.uint8), gz=False)
    default = load_dataset(str(tmp_path))
    assert len(default) == 3 and default.labels is None and float(default.x.min()) == 1.0
    by_kwarg = load_dataset(str(tmp_path), split="test")
    by_suffix = load_dataset(f"{tmp_path}:test")
    for ds in (by_kwarg, by_suffix):
        assert len(ds) == 2 and ds.labels.tolist() == [1, 2]


def test_emnist_style_prefixes_pick_the_split(tmp_path: Path) -> None:
    write_idx_pair(tmp_path, "emnist-digits-test", np.zeros((2, 3, 3), np.uint8), np.array([1, 1], np.uint8), gz=True)
    write_idx_pair(tmp_path, "emnist-digits-train", np.zeros((5, 3, 3), np.uint8), np.arange(5, dtype=np.uint8), gz=True)
    assert len(load_dataset(str(tmp_path))) == 5
    assert load_dataset(str(tmp_path), split="test").labels.tolist() == [1, 1]


def test_mnist_test_set_label_counts(mnist_dir: Path) -> None:
    ds = load_dataset(str(mnist_dir))
    assert ds.x.shape == (10000, 1, 28, 28)
    assert ds.labels is not None
    assert torch.bincount(ds.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert 0.0 <= float(ds.x.min()) and float(ds.x.max()) == 1.0
    # The README's mean pixel (0..255 scale) recomputed from the loaded floats.
    assert abs(float(ds.x.double().mean()) * 255 - 33.79) < 0.01


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_truncated_idx_names_file(tmp_path: Path) -> None:
    images = np.zeros((4, 3, 3), np.uint8)
    f = _write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(images)[:-5])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.*truncated"):
        load_dataset(str(tmp_path))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(f)


def test_truncated_gzip_idx(tmp_path: Path) -> None:
    data = gzip.compress(idx_bytes(np.zeros((4, 3, 3), np.uint8)))
    _write(tmp_path / "t10k-images-idx3-ubyte.gz", data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz.*(truncated|corrupt)"):
        load_dataset(str(tmp_path))


def test_mislabeled_idx_labels_in_images_file(tmp_path: Path) -> None:
    _write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(np.arange(5, dtype=np.uint8)))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.*1 dimensions but 3"):
        load_dataset(str(tmp_path))


def test_bad_magic(tmp_path: Path) -> None:
    _write(tmp_path / "t10k-images-idx3-ubyte", b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(ValueError, match="not an IDX file"):
        load_dataset(str(tmp_path))


def test_image_label_length_mismatch(tmp_path: Path) -> None:
    write_idx_pair(tmp_path, "t10k", np.zeros((4, 3, 3), np.uint8), np.zeros(3, np.uint8), gz=False)
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.*4 inputs but 3 labels"):
        load_dataset(str(tmp_path))


def test_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_dataset(str(missing))
