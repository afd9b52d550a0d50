"""Post-hoc transforms: fitted on a large sample of a known non-Gaussian law, they map a held-out
sample of it to one that passes the DM battery (Gaussian prior, and uniform through Phi).

The fit uses 20x more rows than the held-out sample, so that the fitted map's own estimation
error stays small next to the sampling noise the battery allows for."""

from __future__ import annotations

import numpy as np
import pytest

from infomatch.methods.posthoc import RBIG, FlowGaussianizer, PCAWhitening, make_posthoc, to_prior
from infomatch.metrics import dm_battery

N = 1000
N_FIT = 20_000


def _skewed(seed: int, n: int = N) -> np.ndarray:
    """Correlated, skewed and heavy-ish: exponential and log-normal coordinates, mixed linearly."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.exponential(size=n), rng.lognormal(sigma=0.5, size=n), rng.gamma(2.0, size=n)])
    return x @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.2, 0.0, 1.0]])


def _families(z: np.ndarray, prior: str = "gaussian") -> dict[str, bool | None]:
    out = dm_battery(z, prior, seeds=3)
    return {f: r["pass"] for f, r in out["families"].items()}


def test_sample_fails_before_transform() -> None:
    fams = _families(_skewed(1))
    assert fams["marginals"] is False and fams["moments"] is False


def test_pca_whitening_fixes_moments_of_a_correlated_gaussian() -> None:
    rng = np.random.default_rng(0)
    mix = np.array([[2.0, 0.0, 0.0], [1.5, 0.5, 0.0], [0.3, -0.2, 3.0]])
    train, held = rng.standard_normal((N_FIT, 3)) @ mix + 4.0, rng.standard_normal((N, 3)) @ mix + 4.0
    assert _families(held)["moments"] is False
    fams = _families(PCAWhitening().fit(train).transform(held))
    assert all(v is not False for v in fams.values()), fams


@pytest.mark.parametrize("transform", [RBIG(seed=0), FlowGaussianizer(steps=300, seed=0)],
                         ids=["rbig", "flow"])
def test_gaussianizers_pass_the_battery_on_held_out(transform: object) -> None:
    train, held = _skewed(2, N_FIT), _skewed(3)
    g = transform.fit(train).transform(held)  # type: ignore[attr-defined]
    fams = _families(g)
    assert all(v is not False for v in fams.values()), fams
    # the same Gaussianized sample, mapped through the normal CDF, matches the uniform prior
    fams_u = _families(to_prior(g, "uniform"), "uniform")
    assert all(v is not False for v in fams_u.values()), fams_u


def test_pca_alone_does_not_gaussianize_a_skewed_law() -> None:
    fams = _families(PCAWhitening().fit(_skewed(2, N_FIT)).transform(_skewed(3)))
    assert fams["marginals"] is False


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="post-hoc transform must be one of .*got 'ica'"):
        make_posthoc("ica")
    with pytest.raises(ValueError, match="must be finite"):
        RBIG().fit(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="3 columns"):
        RBIG(rounds=1).fit(_skewed(0, 100)).transform(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="not fitted"):
        PCAWhitening().transform(np.zeros((5, 2)))
