"""CIFAR-10 from its python pickle batches, read with a restricted unpickler.

The batches are pickles, and unpickling runs code named in the file. ``SafeUnpickler`` only
resolves the few globals needed to rebuild numpy arrays and builtin containers and refuses
everything else, so a malicious file raises a ``ValueError`` before its payload can run.
"""

from __future__ import annotations

import builtins
import codecs
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from infomatch.data.dataset import ArrayDataset, image_dataset

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

_BUILTINS = {"dict", "list", "tuple", "set", "frozenset", "bytearray", "bytes", "str", "int",
             "float", "complex", "bool"}


def _latin1_encode(obj: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` limited to what pickles of bytes use (protocols 0-2 under Python 3)."""
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1", "utf-8"):
        raise pickle.UnpicklingError(f"refusing codec {encoding!r} in pickle")
    return codecs.encode(obj, encoding, errors)


def _numpy_global(module: str, name: str) -> Any:
    import numpy

    core = getattr(numpy, "_core", None) or numpy.core
    if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        return core.multiarray._reconstruct
    if name == "_frombuffer" and module in ("numpy.core.numeric", "numpy._core.numeric"):
        return core.numeric._frombuffer
    if module == "numpy" and name in ("ndarray", "dtype"):
        return getattr(numpy, name)
    if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "scalar":
        return core.multiarray.scalar
    return None


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that only builds numpy arrays and builtin containers.

    Example:
        >>> import io, pickle
        >>> SafeUnpickler(io.BytesIO(pickle.dumps({"a": [1, 2]}))).load()
        {'a': [1, 2]}
    """

    def find_class(self, module: str, name: str) -> Any:
        if module in ("builtins", "__builtin__") and name in _BUILTINS:
            return getattr(builtins, name)
        if module in ("_codecs", "codecs") and name == "encode":
            return _latin1_encode
        if module.startswith("numpy"):
            found = _numpy_global(module, name)
            if found is not None:
                return found
            if module.startswith("numpy.dtypes") and name.endswith("DType"):
                import numpy.dtypes

                return getattr(numpy.dtypes, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def safe_load_pickle(path: Path) -> Any:
    """Unpickle ``path`` with :class:`SafeUnpickler`; refused or broken files raise ``ValueError``."""
    data = path.read_bytes()
    try:
        return SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as err:
        raise ValueError(f"{path}: unsafe or invalid pickle ({err})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as err:
        raise ValueError(f"{path}: corrupt or truncated pickle ({type(err).__name__}: {err})") from None


def _key(batch: dict, name: str) -> Any:
    for key in (name.encode(), name):
        if key in batch:
            return batch[key]
    return None


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one batch: ``(n, 3, 32, 32)`` uint8 images and ``(n,)`` labels."""
    batch = safe_load_pickle(path)
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a dict with 'data' and 'labels'; got {type(batch).__name__}")
    data, labels = _key(batch, "data"), _key(batch, "labels")
    if data is None or labels is None:
        raise ValueError(f"{path}: missing 'data' or 'labels' entry")
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: 'data' must have shape (n, 3072); got {data.shape}")
    labels = np.asarray(labels)
    if labels.shape != (data.shape[0],):
        raise ValueError(f"{path}: {data.shape[0]} images but {labels.size} labels (lengths differ)")
    return data.reshape(-1, 3, 32, 32), labels


def cifar_root(root: Path) -> Path | None:
    """The directory holding the batches: ``root`` or its ``cifar-10-batches-py`` child."""
    for cand in (root, root / "cifar-10-batches-py"):
        if cand.is_dir() and any((cand / b).is_file() for b in TRAIN_BATCHES + TEST_BATCHES):
            return cand
    return None


def load_cifar10_dir(root: str | Path, split: str | None = None) -> ArrayDataset:
    """Load CIFAR-10 ``train`` (data_batch_1..5, the default when present) or ``test`` (test_batch).

    Example:
        >>> ds = load_cifar10_dir("/data/cifar-10-batches-py")  # doctest: +SKIP
        >>> ds.x.shape  # doctest: +SKIP
        torch.Size([50000, 3, 32, 32])
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such directory")
    base = cifar_root(root)
    if base is None:
        raise ValueError(f"{root}: no CIFAR-10 batches (data_batch_1..5 / test_batch)")
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be one of 'train', 'test'; got {split!r}")
    have_train = [base / b for b in TRAIN_BATCHES if (base / b).is_file()]
    if split == "test" or (split is None and not have_train):
        files, split = [base / b for b in TEST_BATCHES if (base / b).is_file()], "test"
    else:
        files, split = have_train, "train"
    if not files:
        raise ValueError(f"{base}: no CIFAR-10 {split} batches")
    parts = [read_cifar_batch(f) for f in files]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return image_dataset(images, labels, f"cifar10:{split}", str(base), classes=CLASSES)
