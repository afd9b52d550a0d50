"""The scikit-learn style estimator: fit / transform / save / load / sample / export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infomatch import NINEEstimator, load


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    # two informative directions plus noise, 12 features
    n = 600
    y = rng.integers(0, 2, size=n)
    x = rng.normal(size=(n, 12)).astype(np.float32)
    x[:, 0] += 3 * y
    model = NINEEstimator(dim=4, sigma=1.0, epochs=3, batch_size=128, seed=0)
    assert model.fit(x, y) is model
    return model, x, y


def test_transform_shape_and_determinism(fitted) -> None:
    model, x, _ = fitted
    z = model.transform(x)
    assert z.shape == (len(x), 4) and z.dtype == np.float32 and np.isfinite(z).all()
    np.testing.assert_array_equal(model.transform(x), z)  # evaluation mode: no noise
    assert model.metrics_["optimizer_steps"] == 3 * (int(len(x) * 0.8) // 128)
    assert model.config_.sigma == 1.0


def test_save_load_round_trip(fitted, tmp_path) -> None:
    model, x, _ = fitted
    path = tmp_path / "m.safetensors"
    model.save(path)
    again = load(path)
    np.testing.assert_array_equal(again.transform(x), model.transform(x))
    assert again.get_params()["dim"] == 4


def test_export_encoder_runs_in_plain_torch(fitted, tmp_path) -> None:
    model, x, _ = fitted
    path = tmp_path / "enc.pt2"
    model.export_encoder(path)
    out = torch.export.load(str(path)).module()(torch.from_numpy(x[:50]))
    np.testing.assert_allclose(out.detach().numpy(), model.transform(x[:50], space="representation"), atol=1e-5)


def test_sample_follows_the_prior(fitted) -> None:
    model, _, _ = fitted
    s = model.sample(5000, seed=1)
    assert s.shape == (5000, 4)
    assert np.abs(s.mean(0)).max() < 0.1 and np.abs(s.std(0) - 1).max() < 0.05


def test_errors(fitted) -> None:
    model, _, _ = fitted
    # scikit-learn convention: the constructor stores, fit validates (before any training)
    with pytest.raises(ValueError, match="dim"):
        NINEEstimator(dim=0).fit(np.zeros((3, 12)))
    with pytest.raises(ValueError, match="sigma"):
        NINEEstimator(sigma=-1.0).fit(np.zeros((3, 12)))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted"):
        NINEEstimator().transform(np.zeros((3, 12)))
    with pytest.raises(ValueError, match="shape"):
        model.transform(np.zeros((3, 7), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN|inf"):
        model.transform(np.full((3, 12), np.nan, dtype=np.float32))
