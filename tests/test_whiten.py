"""Whiten: batch covariance = I, numpy reference, running statistics, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infomatch.whiten import Whiten, whitening_matrix


def _correlated(n: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=g, dtype=torch.float64) + 2 * torch.eye(d, dtype=torch.float64)
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ mix + 3.0


@pytest.mark.parametrize("method", ["cholesky", "zca"])
@pytest.mark.parametrize("d", [2, 5, 16])
def test_training_batch_has_identity_covariance(method: str, d: int) -> None:
    h = _correlated(200, d, d)
    z = Whiten(d, method=method, eps=1e-12).double()(h)
    assert torch.allclose(z.mean(0), torch.zeros(d, dtype=torch.float64), atol=1e-9)
    cov = torch.cov(z.T, correction=0)
    assert torch.allclose(cov, torch.eye(d, dtype=torch.float64), atol=1e-7)


@pytest.mark.parametrize("method", ["cholesky", "zca"])
def test_matches_numpy_reference(method: str) -> None:
    h = _correlated(64, 4, 1)
    x = h.numpy()
    c = np.cov(x.T, bias=True) + 1e-5 * np.eye(4)
    if method == "cholesky":
        w = np.linalg.inv(np.linalg.cholesky(c))
    else:
        lam, u = np.linalg.eigh(c)
        w = u @ np.diag(lam ** -0.5) @ u.T
    expected = (x - x.mean(0)) @ w.T
    got = Whiten(4, method=method).double()(h).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_eval_uses_running_statistics_and_update_flag() -> None:
    w = Whiten(3, momentum=None).double()
    h = _correlated(500, 3, 2)
    w(h[:250], update=False)  # must not touch the running statistics
    assert int(w.num_batches_tracked) == 0
    w(h)
    np.testing.assert_allclose(w.running_mean.numpy(), h.mean(0).numpy(), atol=1e-12)
    np.testing.assert_allclose(w.running_cov.numpy(), np.cov(h.numpy().T), atol=1e-10)  # unbiased
    w.eval()
    new = _correlated(7, 3, 3)
    ref = (new - w.running_mean) @ whitening_matrix(w.running_cov, "cholesky", w.eps).T
    assert torch.allclose(w(new), ref)
    w.reset_running_stats()
    assert torch.equal(w.running_cov, torch.eye(3, dtype=torch.float64))


def test_uniform_mode_lies_in_unit_interval() -> None:
    u = Whiten(4, mode="uniform")(_correlated(100, 4, 4).float())
    assert bool(((u > 0) & (u < 1)).all())


@pytest.mark.parametrize("method", ["cholesky", "zca"])
def test_gradcheck_float64(method: str) -> None:
    w = Whiten(3, method=method).double()
    h = _correlated(12, 3, 5).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: w(x, update=False), (h,), eps=1e-6, atol=1e-5)


def test_bad_input_is_one_line_error() -> None:
    with pytest.raises(ValueError, match="method"):
        Whiten(3, method="pca")
    with pytest.raises(ValueError, match="batch size must be at least 2"):
        Whiten(3)(torch.randn(1, 3))
