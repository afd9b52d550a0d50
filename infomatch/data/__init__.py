"""Datasets, the seeded train / held-out split and batched views.

Example:
    >>> from infomatch.data import load_dataset, split_indices
    >>> ds = load_dataset("digits")
    >>> train, held = split_indices(len(ds), held_out=0.2, seed=0)
    >>> len(ds.subset(train)) + len(ds.subset(held)) == len(ds)
    True
"""

from infomatch.data.arrays import load_array_file
from infomatch.data.cifar import load_cifar10_dir
from infomatch.data.dataset import ArrayDataset
from infomatch.data.digits import load_digits_dataset
from infomatch.data.folder import load_image_folder
from infomatch.data.idx import load_idx_dir, read_idx
from infomatch.data.load import load_dataset
from infomatch.data.split import load_split, save_split, split_indices
from infomatch.data.views import ViewConfig, ViewMaker, make_views

__all__ = [
    "ArrayDataset",
    "load_array_file",
    "load_cifar10_dir",
    "load_dataset",
    "load_digits_dataset",
    "load_idx_dir",
    "load_image_folder",
    "read_idx",
    "load_split",
    "save_split",
    "split_indices",
    "ViewConfig",
    "ViewMaker",
    "make_views",
]
