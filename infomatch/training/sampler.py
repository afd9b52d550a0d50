"""Batches of indices drawn from a seeded per-epoch permutation, split across ranks.

Every rank sees the same global permutation (seeded by ``seed`` and the epoch) and takes its
contiguous slice of each global batch, so a run on ``k`` processes with local batch ``B / k``
sees exactly the global batches of one process with batch ``B``, and a resumed run replays the
same batches as an uninterrupted one.

Example:
    >>> s = EpochBatchSampler(10, batch_size=4, seed=0)
    >>> [len(b) for b in s]
    [4, 4]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


class EpochBatchSampler(torch.utils.data.Sampler[np.ndarray]):
    """Yield index arrays for one epoch; ``batch_size`` is the global batch size."""

    def __init__(self, n: int, batch_size: int, seed: int = 0, *, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True, drop_last: bool = True) -> None:
        if batch_size % world_size:
            raise ValueError(f"batch_size must be divisible by the number of processes ({world_size}); got {batch_size}")
        if drop_last and n < batch_size:
            raise ValueError(f"batch_size must not exceed the number of training examples ({n}); got {batch_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        local = self.batch_size // self.world_size
        for b in range(len(self)):
            batch = order[b * self.batch_size:(b + 1) * self.batch_size]
            if self.world_size > 1:
                batch = batch[self.rank * local:(self.rank + 1) * local]
            yield batch


class IndexedTensor(torch.utils.data.Dataset):
    """A tensor indexed by whole index arrays at once (no per-sample collation)."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, idx: np.ndarray) -> torch.Tensor:
        return self.x[torch.as_tensor(idx, dtype=torch.long)]


def batch_loader(x: torch.Tensor, batch_size: int, seed: int, *, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True, drop_last: bool = True) -> torch.utils.data.DataLoader:
    """A DataLoader yielding ``(batch_size // world_size, ...)`` slices of ``x``."""
    sampler = EpochBatchSampler(len(x), batch_size, seed, rank=rank, world_size=world_size,
                                shuffle=shuffle, drop_last=drop_last)
    return torch.utils.data.DataLoader(IndexedTensor(x), sampler=sampler, batch_size=None)
