"""EpochBatchSampler: global batches are split exactly across ranks and replay per epoch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infomatch.training.sampler import EpochBatchSampler, batch_loader


@settings(max_examples=40, deadline=None)
@given(n=st.integers(8, 300), per_rank=st.integers(1, 16), world=st.sampled_from([1, 2, 4]), epoch=st.integers(0, 5))
def test_ranks_partition_the_global_batches(n, per_rank, world, epoch) -> None:
    batch = per_rank * world
    if batch > n:
        return
    single = EpochBatchSampler(n, batch, seed=3)
    single.set_epoch(epoch)
    ranks = []
    for r in range(world):
        s = EpochBatchSampler(n, batch, seed=3, rank=r, world_size=world)
        s.set_epoch(epoch)
        ranks.append(list(s))
    glob = list(single)
    assert len(glob) == n // batch
    for b, gb in enumerate(glob):
        joined = np.concatenate([ranks[r][b] for r in range(world)])
        assert np.array_equal(joined, gb)
    seen = np.concatenate(glob)
    assert len(np.unique(seen)) == len(seen)  # no example twice in an epoch


def test_epochs_differ_and_replay() -> None:
    a = EpochBatchSampler(100, 10, seed=0)
    a.set_epoch(1)
    first = [b.tolist() for b in a]
    b = EpochBatchSampler(100, 10, seed=0)
    b.set_epoch(1)
    assert [x.tolist() for x in b] == first
    b.set_epoch(2)
    assert [x.tolist() for x in b] != first


def test_errors() -> None:
    with pytest.raises(ValueError, match="divisible"):
        EpochBatchSampler(100, 10, world_size=3)
    with pytest.raises(ValueError, match="batch_size"):
        EpochBatchSampler(5, 10)


def test_loader_yields_tensor_slices() -> None:
    import torch

    x = torch.arange(40.0).reshape(20, 2)
    batches = list(batch_loader(x, 5, seed=0))
    assert len(batches) == 4 and all(b.shape == (5, 2) for b in batches)
    assert sorted(torch.cat(batches)[:, 0].tolist()) == x[:, 0].tolist()
