"""The final whitening stage: the rank stages' output whitened again (Cholesky) with the batch's
mean and covariance in training and the running ones in evaluation, set from the clean training
outputs by the recalibration, carried into the export and recorded in the config."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _stages import before_stages

from infomatch.model import NINE
from infomatch.normalize import Normalize
from infomatch.training.components import (
    Embedder,
    build_components,
    embed_array,
    recalibrate_normalization,
)
from infomatch.training.config import TrainConfig
from infomatch.whiten import Whiten


def _correlated(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.tensor([[2.0, 0, 0, 0], [1, 1, 0, 0], [0, 3, 0.5, 0], [0, 0, 1, 1]], dtype=torch.float64)
    return torch.randn(n, 4, generator=g, dtype=torch.float64) @ mix + 3.0


def _numpy_cholesky_whiten(s: np.ndarray, mean: np.ndarray, cov: np.ndarray, eps: float) -> np.ndarray:
    """(s - mean) L^{-T} with L L^T = cov + eps I: the reference, written without torch."""
    chol = np.linalg.cholesky(cov + eps * np.eye(len(cov)))
    return np.linalg.solve(chol, (s - mean).T).T


@pytest.mark.parametrize("cls", [Normalize, Whiten])
def test_training_output_is_the_stages_output_whitened(cls: type) -> None:
    h = _correlated(512, 1)
    full = cls(4, gaussianize=True, radialize=True, final_whiten=True).double()
    stages_only = cls(4, gaussianize=True, radialize=True).double()
    assert [type(m).__name__ for m in full.stages()] == ["Gaussianize", "Radialize", "Whiten"]
    s = stages_only(h).numpy()
    want = _numpy_cholesky_whiten(s, s.mean(0), np.cov(s, rowvar=False, bias=True), full.eps)
    out = full(h)
    np.testing.assert_allclose(out.detach().numpy(), want, atol=1e-10)
    # the batch comes out with mean 0 and (biased) covariance I - eps (cov_s + eps I)^{-1}, so I up
    # to eps / (its smallest eigenvalue); the stages alone leave it further away
    eye = torch.eye(4, dtype=torch.float64)
    cov_s = torch.cov(torch.from_numpy(s).T, correction=0)
    slack = 1.1 * full.eps / float(torch.linalg.eigvalsh(cov_s)[0])
    assert float(out.mean(0).abs().max()) < 1e-12
    assert float((torch.cov(out.T, correction=0) - eye).abs().max()) < slack
    assert float((cov_s - eye).abs().max()) > 5e-3


def test_evaluation_uses_the_running_statistics() -> None:
    norm = Normalize(4, gaussianize=True, final_whiten=True).double()
    for k in range(3):
        norm(_correlated(256, 10 + k))
    final = norm.final
    assert final is not None and int(final.num_batches_tracked) == 3
    norm.eval()
    h = _correlated(300, 20)
    before = norm.stages()[0]._eval_map(before_stages(norm, h))
    want = _numpy_cholesky_whiten(before.numpy(), final.running_mean.numpy(), final.running_cov.numpy(), final.eps)
    np.testing.assert_allclose(norm(h).numpy(), want, atol=1e-10)
    # a batch of one row is fine in evaluation
    assert norm(h[:1]).shape == (1, 4)


def test_calibrate_sets_the_unbiased_mean_and_covariance() -> None:
    s = _correlated(1000, 3)
    w = Whiten(4).double()
    w.calibrate(s)
    np.testing.assert_allclose(w.running_mean.numpy(), s.numpy().mean(0), atol=1e-12)
    np.testing.assert_allclose(w.running_cov.numpy(), np.cov(s.numpy(), rowvar=False), atol=1e-12)
    out = w._eval_map(s).numpy()
    # whitened with L^{-1}, L L^T = cov + eps I: the covariance is I - eps L^{-1} L^{-T}
    inv_chol = np.linalg.inv(np.linalg.cholesky(np.cov(s.numpy(), rowvar=False) + w.eps * np.eye(4)))
    np.testing.assert_allclose(np.cov(out, rowvar=False), np.eye(4) - w.eps * inv_chol @ inv_chol.T, atol=1e-10)
    with pytest.raises(ValueError, match="calibration needs at least 2 rows; got 1"):
        w.calibrate(s[:1])


def test_calibrate_equals_a_cumulative_pass_and_walks_the_stages() -> None:
    """One ``calibrate`` call sets what a reset plus one training-mode batch with ``momentum=None``
    would (per-coordinate unbiased variance), then each stage from its input."""
    h = _correlated(900, 6)
    norm = Normalize(4, gaussianize=True, radialize=True, final_whiten=True).double()
    for k in range(2):  # training batches first, so nothing is at its initial value
        norm(_correlated(256, 30 + k))
    norm.calibrate(h)
    np.testing.assert_allclose(norm.running_mean.numpy(), h.numpy().mean(0), atol=1e-12)
    np.testing.assert_allclose(norm.running_var.numpy(), h.numpy().var(0, ddof=1), atol=1e-12)
    assert int(norm.num_batches_tracked) == 1
    plain = Normalize(4, momentum=None).double()
    plain(h)
    torch.testing.assert_close(norm.running_var, plain.running_var, rtol=0, atol=0)
    s = (h - h.mean(0)) / torch.sqrt(h.var(0) + norm.eps)
    marginal, radial, final = norm.stages()
    torch.testing.assert_close(marginal.running_quantiles, torch.quantile(s, marginal.levels, dim=0))
    s = radial._eval_map(marginal._eval_map(s))
    np.testing.assert_allclose(final.running_cov.numpy(), np.cov(s.numpy(), rowvar=False), atol=1e-10)
    # so the calibrated sample itself comes out white, up to eps: I - eps L^{-1} L^{-T}
    inv_chol = np.linalg.inv(np.linalg.cholesky(final.running_cov.numpy() + final.eps * np.eye(4)))
    want = np.eye(4) - final.eps * inv_chol @ inv_chol.T
    np.testing.assert_allclose(np.cov(norm.eval()(h).numpy(), rowvar=False), want, atol=1e-10)


def test_gradcheck_float64() -> None:
    norm = Normalize(3, final_whiten=True).double()
    h = _correlated(12, 4)[:, :3].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: norm(x, update=False), (h,))


def _small_model(seed: int, prior: str = "gaussian") -> Embedder:
    torch.manual_seed(seed)
    params = {"base": "uniform"} if prior == "uniform" else {}  # the uniform base: outputs in (0, 1)
    views, enc, nine = build_components(TrainConfig(dim=3, prior=prior, prior_params=params, final_whiten=True),
                                        (1, 8, 8), "image")
    return Embedder(views, enc, nine)


@pytest.mark.parametrize("prior", ["gaussian", "uniform"])
def test_recalibration_makes_the_training_embeddings_white(prior: str) -> None:
    model = _small_model(5, prior)
    x = torch.rand(600, 1, 8, 8)
    for _ in range(3):  # training-mode batches first, so the running statistics are not the clean ones
        model.nine.normalize.train()(model.encoder(model.views(x[:256])))
    recalibrate_normalization(model, x, batch_size=250)
    z = embed_array(model, x).double().numpy()
    if prior == "uniform":
        from scipy import stats

        assert ((z > 0) & (z < 1)).all()
        z = stats.norm.ppf(z)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(np.cov(z, rowvar=False), np.eye(3), atol=1e-3)


def test_nine_records_the_option_and_keeps_the_bound() -> None:
    nine = NINE(4, sigma=1.0, gaussianize=True, radialize=True, final_whiten=True)
    assert nine.config()["final_whiten"] is True and NINE(4, sigma=1.0).config()["final_whiten"] is False
    assert NINE(**nine.config()).normalize.final is not None
    out = nine(torch.rand(128, 4), torch.rand(128, 4))
    assert out.mi.item() <= out.ceiling + 1e-6
    with pytest.raises(ValueError, match="final_whiten must be True or False; got 'yes'"):
        Normalize(4, final_whiten="yes")  # type: ignore[arg-type]
