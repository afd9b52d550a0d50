"""Digits and the seeded split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from infomatch.data import load_dataset, load_split, save_split, split_indices


def test_digits_dataset() -> None:
    from sklearn.datasets import load_digits

    ds = load_dataset("digits")
    ref = load_digits()
    assert ds.x.shape == (1797, 1, 8, 8) and ds.name == "digits"
    np.testing.assert_allclose(ds.x.numpy()[:, 0], ref.images / 16.0, rtol=1e-6)
    assert ds.labels.tolist() == ref.target.tolist()


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 400), held=st.floats(0.01, 0.99), seed=st.integers(0, 2**31))
def test_split_partitions(n: int, held: float, seed: int) -> None:
    train, hold = split_indices(n, held_out=held, seed=seed)
    assert len(hold) == min(max(round(held * n), 1), n - 1)
    assert np.intersect1d(train, hold).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, hold])), np.arange(n))
    again = split_indices(n, held_out=held, seed=seed)
    np.testing.assert_array_equal(again[0], train)
    np.testing.assert_array_equal(again[1], hold)


def test_split_is_a_permutation_not_by_position(mnist_dir: Path) -> None:
    ds = load_dataset(str(mnist_dir))
    train, hold = split_indices(len(ds), held_out=0.2, seed=0)
    assert len(hold) == 2000
    # The file's first half comes from a different source: the held-out part must mix both.
    assert 0.45 < float(np.mean(hold < 5000)) < 0.55
    # and have roughly the class proportions of the whole set
    full = torch.bincount(ds.labels, minlength=10).double() / len(ds)
    part = torch.bincount(ds.labels[hold], minlength=10).double() / len(hold)
    assert float((full - part).abs().max()) < 0.02
    other = split_indices(len(ds), held_out=0.2, seed=1)[1]
    assert not np.array_equal(hold, other)


def test_split_zero_and_errors() -> None:
    train, hold = split_indices(5, held_out=0)
    assert train.tolist() == [0, 1, 2, 3, 4] and hold.size == 0
    with pytest.raises(ValueError, match="held_out"):
        split_indices(10, held_out=1.5)
    with pytest.raises(ValueError, match="n must be"):
        split_indices(0)
    with pytest.raises(ValueError, match="seed"):
        split_indices(10, seed=-1)


def test_save_and_load_split_round_trip(tmp_path: Path) -> None:
    train, hold = split_indices(50, held_out=0.3, seed=4)
    path = save_split(tmp_path / "run" / "split.json", train, hold, seed=4, held_out=0.3)
    got_train, got_hold = load_split(path)
    np.testing.assert_array_equal(got_train, train)
    np.testing.assert_array_equal(got_hold, hold)
    assert json.loads(path.read_text())["meta"] == {"seed": 4, "held_out": 0.3}
    assert [p.name for p in path.parent.iterdir()] == ["split.json"]  # no temp file left
    with pytest.raises(ValueError, match="disjoint"):
        save_split(tmp_path / "bad.json", np.array([1, 2]), np.array([2]))
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"junk\.json: not a split file"):
        load_split(tmp_path / "junk.json")
