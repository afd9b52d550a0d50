"""CIFAR-10 pickle batches: round trip, and a malicious pickle that must never run."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from infomatch.data import load_dataset
from infomatch.data.cifar import SafeUnpickler


def write_batch(path: Path, data: np.ndarray, labels: list[int], protocol: int) -> None:
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"x", b"labels": labels, b"data": data}, f, protocol=protocol)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_round_trip(tmp_path: Path, protocol: int) -> None:
    rng = np.random.default_rng(protocol)
    batches = []
    for i in (1, 2):
        data = rng.integers(0, 256, size=(3, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=3).tolist()
        write_batch(tmp_path / f"data_batch_{i}", data, labels, protocol)
        batches.append((data, labels))
    test_data = rng.integers(0, 256, size=(2, 3072), dtype=np.uint8)
    write_batch(tmp_path / "test_batch", test_data, [4, 5], protocol)

    train = load_dataset(str(tmp_path))
    assert train.x.shape == (6, 3, 32, 32) and train.name == "cifar10:train"
    expect = np.concatenate([b[0] for b in batches]).reshape(6, 3, 32, 32)
    np.testing.assert_array_equal(np.round(train.x.numpy() * 255).astype(np.uint8), expect)
    assert train.labels.tolist() == batches[0][1] + batches[1][1]
    assert train.classes is not None and train.classes[0] == "airplane" and train.num_classes == 10

    test = load_dataset(str(tmp_path), split="test")
    assert test.labels.tolist() == [4, 5]
    np.testing.assert_array_equal(np.round(test.x.numpy() * 255).astype(np.uint8), test_data.reshape(2, 3, 32, 32))


class _OpenPayload:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):  # builtins.open is not a container: must be refused
        return (open, (str(self.target), "w"))


class _SystemPayload:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.mark.parametrize("payload", [_OpenPayload, _SystemPayload])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path, payload: type) -> None:
    marker = tmp_path / "pwned"
    evil = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"x": payload(marker)}
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(ValueError, match=r"data_batch_1: unsafe or invalid pickle \(refusing to load global"):
        load_dataset(str(tmp_path))
    assert not marker.exists()


def test_safe_unpickler_allows_containers_and_arrays() -> None:
    obj = {"a": [1, 2.5, (3, "s")], "b": np.arange(6, dtype=np.int16).reshape(2, 3), "c": {1, 2}}
    for protocol in (2, 4, 5):
        import io

        got = SafeUnpickler(io.BytesIO(pickle.dumps(obj, protocol=protocol))).load()
        assert got["a"] == obj["a"] and got["c"] == obj["c"]
        np.testing.assert_array_equal(got["b"], obj["b"])
        assert got["b"].dtype == np.int16


def test_cifar_length_mismatch(tmp_path: Path) -> None:
    write_batch(tmp_path / "test_batch", np.zeros((3, 3072), np.uint8), [1, 2], protocol=2)
    with pytest.raises(ValueError, match=r"test_batch: 3 images but 2 labels"):
        load_dataset(str(tmp_path))


def test_cifar_truncated_pickle(tmp_path: Path) -> None:
    write_batch(tmp_path / "test_batch", np.zeros((3, 3072), np.uint8), [1, 2, 3], protocol=2)
    raw = (tmp_path / "test_batch").read_bytes()
    (tmp_path / "test_batch").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"test_batch: .*pickle"):
        load_dataset(str(tmp_path))
