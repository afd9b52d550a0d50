"""scikit-learn's bundled 8x8 handwritten digits: the embedded default dataset (no network)."""

from __future__ import annotations

import numpy as np

from infomatch.data.dataset import ArrayDataset, image_dataset


def load_digits_dataset() -> ArrayDataset:
    """1,797 images ``(1, 8, 8)`` with pixels 0..16 scaled to [0, 1], labels 0..9.

    Example:
        >>> ds = load_digits_dataset()
        >>> ds.x.shape, float(ds.x.max()), ds.num_classes
        (torch.Size([1797, 1, 8, 8]), 1.0, 10)
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0))[:, None]
    return image_dataset(images, np.asarray(bunch.target), "digits", "sklearn digits")
