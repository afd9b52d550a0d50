"""The final whitening with the ZCA matrix (``final_whiten_method="zca"``) and the inverse square
root behind it: the symmetric ``A^{-1/2}`` against numpy, a gradient equal to ``eigh``'s where that
is finite and finite where it is not (coinciding eigenvalues, ``A = I``), the stage's output
against a numpy ZCA reference, and the option recorded, rebuilt, set by the CLI and checked."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from infomatch.model import NINE
from infomatch.normalize import Normalize
from infomatch.training.config import TrainConfig
from infomatch.whiten import Whiten, inverse_sqrt_psd, whitening_matrix


def _spd(d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4 * d, d, generator=g, dtype=torch.float64)
    return x.T @ x / (4 * d) + 0.1 * torch.eye(d, dtype=torch.float64)


def _numpy_zca(s: np.ndarray, mean: np.ndarray, cov: np.ndarray, eps: float) -> np.ndarray:
    """(s - mean) (cov + eps I)^{-1/2}: the reference, written with numpy's eigh."""
    lam, u = np.linalg.eigh(cov + eps * np.eye(len(cov)))
    return (s - mean) @ (u / np.sqrt(lam)) @ u.T


def test_inverse_sqrt_matches_numpy() -> None:
    a = _spd(5, 0)
    lam, u = np.linalg.eigh(a.numpy())
    np.testing.assert_allclose(inverse_sqrt_psd(a).numpy(), (u / np.sqrt(lam)) @ u.T, atol=1e-12)


def test_gradient_equals_eighs_where_that_is_finite() -> None:
    g = torch.randn(5, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    a1 = _spd(5, 2).requires_grad_(True)
    (inverse_sqrt_psd((a1 + a1.T) / 2) * g).sum().backward()
    a2 = _spd(5, 2).requires_grad_(True)
    lam, u = torch.linalg.eigh((a2 + a2.T) / 2)
    ((u * lam.rsqrt()) @ u.T * g).sum().backward()
    torch.testing.assert_close(a1.grad, a2.grad, rtol=1e-9, atol=1e-12)


def test_gradcheck_float64_with_coinciding_eigenvalues() -> None:
    for a in (_spd(4, 3), torch.eye(4, dtype=torch.float64) * 2.0):
        a = a.clone().requires_grad_(True)
        assert torch.autograd.gradcheck(lambda m: inverse_sqrt_psd((m + m.T) / 2), (a,))


def test_gradient_at_the_identity_is_the_closed_form() -> None:
    """d(A^{-1/2}) at A = I in a symmetric direction E is -E / 2, so the gradient of
    sum(G * A^{-1/2}) is -sym(G) / 2; eigh's own backward gives NaN there."""
    g = torch.randn(3, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64, requires_grad=True)
    (inverse_sqrt_psd(eye) * g).sum().backward()
    torch.testing.assert_close(eye.grad, -(g + g.T) / 4)
    eye2 = torch.eye(3, dtype=torch.float64, requires_grad=True)
    lam, u = torch.linalg.eigh(eye2)
    ((u * lam.rsqrt()) @ u.T * g).sum().backward()
    assert torch.isnan(eye2.grad).all()


def test_zca_whitening_matrix_is_symmetric_and_whitens() -> None:
    c = _spd(4, 5)
    w = whitening_matrix(c, "zca", eps=0.0)
    torch.testing.assert_close(w, w.T)
    torch.testing.assert_close(w @ c @ w.T, torch.eye(4, dtype=torch.float64))


def _correlated(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.tensor([[2.0, 0, 0, 0], [1, 1, 0, 0], [0, 3, 0.5, 0], [0, 0, 1, 1]], dtype=torch.float64)
    return torch.randn(n, 4, generator=g, dtype=torch.float64) @ mix + 3.0


@pytest.mark.parametrize("cls", [Normalize, Whiten])
def test_training_and_evaluation_outputs_equal_the_numpy_zca(cls: type) -> None:
    full = cls(4, gaussianize=True, radialize=True, final_whiten=True, final_whiten_method="zca").double()
    stages_only = cls(4, gaussianize=True, radialize=True).double()
    assert full.final is not None and full.final.method == "zca"
    h = _correlated(512, 1)
    s = stages_only(h).numpy()
    out = full(h).detach().numpy()
    np.testing.assert_allclose(out, _numpy_zca(s, s.mean(0), np.cov(s, rowvar=False, bias=True), full.eps), atol=1e-10)
    # ZCA moves the stages' output less than Cholesky does (it is the whitening closest to the identity)
    chol = cls(4, gaussianize=True, radialize=True, final_whiten=True).double()(h).detach().numpy()
    assert np.square(out - s).sum() < np.square(chol - s).sum()
    full.eval()
    final = full.final
    h2 = _correlated(300, 2)
    stages_only.eval()
    stages_only.load_state_dict({k: v for k, v in full.state_dict().items() if not k.startswith("final.")})
    s2 = stages_only(h2).numpy()
    want = _numpy_zca(s2, final.running_mean.numpy(), final.running_cov.numpy(), final.eps)
    np.testing.assert_allclose(full(h2).numpy(), want, atol=1e-10)


def test_stage_gradcheck_float64() -> None:
    norm = Normalize(3, final_whiten=True, final_whiten_method="zca").double()
    h = _correlated(12, 4)[:, :3].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: norm(x, update=False), (h,))


def test_nine_records_rebuilds_and_checks_the_method() -> None:
    nine = NINE(4, sigma=1.0, gaussianize=True, final_whiten=True, final_whiten_method="zca")
    assert nine.config()["final_whiten_method"] == "zca"
    assert NINE(**nine.config()).normalize.final.method == "zca"
    assert NINE(4, sigma=1.0, final_whiten=True).config()["final_whiten_method"] == "cholesky"
    with pytest.raises(ValueError, match="final_whiten_method must be one of .*; got 'svd'"):
        Normalize(4, final_whiten=True, final_whiten_method="svd")


def test_cli_and_config_set_the_method() -> None:
    from infomatch.commands.train import add_parser, config_from_args

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    cfg, _, _ = config_from_args(parser.parse_args(["train", "--final-whiten", "--final-whiten-method", "zca"]))
    assert cfg.final_whiten is True and cfg.final_whiten_method == "zca"
    with pytest.raises(ValueError, match="final_whiten_method must be one of .*; got 'svd'"):
        TrainConfig(final_whiten_method="svd")


def test_a_stored_run_without_the_key_whitened_with_cholesky() -> None:
    old = TrainConfig(final_whiten=True, final_whiten_method="zca").resolved().to_dict()
    assert TrainConfig.from_stored(old).final_whiten_method == "zca"
    del old["final_whiten_method"]
    assert TrainConfig.from_stored(old).final_whiten_method == "cholesky"
