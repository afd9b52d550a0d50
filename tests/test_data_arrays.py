"""numpy .npy/.npz files: images and tabular round trips, the scaling rule, bad arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from infomatch.data import ArrayDataset, load_dataset
from infomatch.data.dataset import images_to_unit_float


def test_npy_grey_uint8(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 256, size=(5, 7, 6), dtype=np.uint8)
    np.save(tmp_path / "a.npy", x)
    ds = load_dataset(str(tmp_path / "a.npy"))
    assert ds.kind == "image" and ds.x.shape == (5, 1, 7, 6) and ds.labels is None
    np.testing.assert_allclose(ds.x.numpy()[:, 0], x / 255.0, rtol=1e-6)


def test_npz_nchw_float_kept_with_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.random((4, 3, 5, 5)).astype(np.float64)
    y = np.array([3, 1, 2, 0])
    np.savez(tmp_path / "b.npz", images=x, labels=y)
    ds = load_dataset(str(tmp_path / "b.npz"))
    assert ds.x.dtype == torch.float32 and ds.x.shape == (4, 3, 5, 5)
    np.testing.assert_allclose(ds.x.numpy(), x, rtol=1e-6)
    assert ds.labels.tolist() == y.tolist() and ds.labels.dtype == torch.int64


def test_npz_nhwc_is_transposed(tmp_path: Path) -> None:
    x = np.random.default_rng(2).integers(0, 256, size=(2, 6, 5, 3), dtype=np.uint8)
    np.savez_compressed(tmp_path / "c.npz", x=x, y=np.array([0, 1]))
    ds = load_dataset(str(tmp_path / "c.npz"))
    assert ds.x.shape == (2, 3, 6, 5)
    np.testing.assert_allclose(ds.x.numpy(), x.transpose(0, 3, 1, 2) / 255.0, rtol=1e-6)


def test_tabular_kept_as_is(tmp_path: Path) -> None:
    x = np.random.default_rng(3).normal(10, 5, size=(20, 4))
    np.savez(tmp_path / "t.npz", X=x, y=np.arange(20) % 3)
    ds = load_dataset(str(tmp_path / "t.npz"))
    assert ds.kind == "tabular" and ds.input_shape == (4,)
    np.testing.assert_allclose(ds.x.numpy(), x.astype(np.float32))
    assert ds.labels.bincount().tolist() == [7, 7, 6]


def test_float_images_outside_unit_interval_are_min_max_scaled() -> None:
    x = np.array([[[-2.0, 0.0], [2.0, 6.0]]])
    out = images_to_unit_float(x, "f")
    np.testing.assert_allclose(out, (x + 2.0) / 8.0)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=3, max_dims=3, max_side=5),
                  elements=st.floats(-1e3, 1e3, width=32)))
def test_scaling_rule_properties(x: np.ndarray) -> None:
    out = images_to_unit_float(x, "f")
    assert out.dtype == np.float32 and out.shape == x.shape
    assert np.all((out >= 0) & (out <= 1))
    if x.min() >= 0 and x.max() <= 1:
        np.testing.assert_array_equal(out, x)  # already in range: untouched
    # One affine map for the whole array: the order of pixels is preserved.
    flat_x, flat_o = x.ravel().astype(np.float64), out.ravel()
    i, j = np.argsort(flat_x, kind="stable")[[0, -1]]
    assert flat_o[i] <= flat_o[j]


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (np.array([[0.0, np.nan]]), None, r"bad\.npz: contains 1 NaN or inf"),
        (np.full((2, 3, 3), np.inf), None, r"bad\.npz: contains 18 NaN or inf"),
        (np.zeros(5), None, r"bad\.npz: inputs must have rank 2 .* got rank 1"),
        (np.zeros((2, 1, 3, 3, 3)), None, r"got rank 5"),
        (np.zeros((4, 3)), np.zeros(3, int), r"bad\.npz: 4 inputs but 3 labels"),
        (np.zeros((2, 3)), np.array([0.5, 1.0]), r"labels must be integers"),
    ],
)
def test_bad_arrays(tmp_path: Path, x: np.ndarray, y: np.ndarray | None, match: str) -> None:
    path = tmp_path / "bad.npz"
    if y is None:
        np.savez(path, x=x)
    else:
        np.savez(path, x=x, y=y)
    with pytest.raises(ValueError, match=match):
        load_dataset(str(path))


def test_npy_object_array_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"o\.npy: not a readable numpy file"):
        load_dataset(str(tmp_path / "o.npy"))


def test_unsupported_file(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(ValueError, match=r"x\.csv: unsupported file type"):
        load_dataset(str(tmp_path / "x.csv"))


def test_array_dataset_subset_and_validation() -> None:
    ds = ArrayDataset(torch.arange(12.0).reshape(6, 2), torch.arange(6), "t", "tabular")
    sub = ds.subset(np.array([4, 1]))
    assert sub.x.tolist() == [[8.0, 9.0], [2.0, 3.0]] and sub.labels.tolist() == [4, 1]
    assert sub.name == "t" and sub.kind == "tabular" and len(sub) == 2
    with pytest.raises(ValueError, match="labels must have shape"):
        ArrayDataset(torch.zeros(3, 2), torch.zeros(2), "t", "tabular")
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        ArrayDataset(torch.zeros(3, 2), None, "t", "image")
