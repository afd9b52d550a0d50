"""Image folders: class subfolders, flat folders, colour handling, bad folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from infomatch.data import load_dataset


def save_png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_class_subfolders_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    expect = {}
    for cls, n in (("cat", 2), ("dog", 3)):
        for i in range(n):
            arr = rng.integers(0, 256, size=(6, 5), dtype=np.uint8)
            save_png(tmp_path / cls / f"{i}.png", arr)
            expect[(cls, i)] = arr
    (tmp_path / "dog" / "notes.txt").write_text("skipped: not an image extension")
    ds = load_dataset(str(tmp_path))
    assert ds.x.shape == (5, 1, 6, 5)
    assert ds.labels.tolist() == [0, 0, 1, 1, 1]  # classes by sorted folder name
    assert ds.classes == ("cat", "dog") and ds.num_classes == 2
    assert ds.subset([4]).classes == ("cat", "dog")
    order = [("cat", 0), ("cat", 1), ("dog", 0), ("dog", 1), ("dog", 2)]
    got = np.round(ds.x.numpy()[:, 0] * 255).astype(np.uint8)
    for k, key in enumerate(order):
        np.testing.assert_array_equal(got[k], expect[key])


def test_flat_rgb_folder_without_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arrs = [rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8) for _ in range(3)]
    for i, a in enumerate(arrs):
        save_png(tmp_path / f"img{i}.png", a)
    ds = load_dataset(str(tmp_path))
    assert ds.labels is None and ds.x.shape == (3, 3, 4, 4)
    np.testing.assert_array_equal(np.round(ds.x.numpy() * 255).astype(np.uint8), np.stack(arrs).transpose(0, 3, 1, 2))


def test_mixed_grey_and_colour_becomes_rgb(tmp_path: Path) -> None:
    grey = np.full((4, 4), 100, np.uint8)
    save_png(tmp_path / "a.png", grey)
    save_png(tmp_path / "b.png", np.zeros((4, 4, 3), np.uint8))
    ds = load_dataset(str(tmp_path))
    assert ds.x.shape == (2, 3, 4, 4)
    np.testing.assert_allclose(ds.x[0].numpy(), 100 / 255, rtol=1e-6)


def test_sizes_differ_error_and_resize(tmp_path: Path) -> None:
    save_png(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    save_png(tmp_path / "b.png", np.zeros((6, 5), np.uint8))
    with pytest.raises(ValueError, match=r"b\.png: size 5x6 differs .*image_size"):
        load_dataset(str(tmp_path))
    assert load_dataset(str(tmp_path), image_size=(8, 8)).x.shape == (2, 1, 8, 8)


def test_unreadable_image_names_file(tmp_path: Path) -> None:
    save_png(tmp_path / "ok.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "broken.png").write_text("this is not a png")
    with pytest.raises(ValueError, match=r"broken\.png: not a readable image"):
        load_dataset(str(tmp_path))


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hello")
    (tmp_path / "table.csv").write_text("a,b")
    with pytest.raises(ValueError, match=r"no IDX files, CIFAR-10 batches or images found \(2 entries"):
        load_dataset(str(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="empty: no IDX files"):
        load_dataset(str(empty))
