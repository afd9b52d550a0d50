"""Closed forms and hand-written references for the battery's statistics."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import linalg, special, stats

from infomatch.metrics.joint import energy_distance, energy_test, henze_zirkler, mardia
from infomatch.metrics.marginals import (
    anderson_darling_columns,
    anderson_darling_sf,
    ks_columns,
    marginal_stats,
)
from infomatch.metrics.moments import frechet_to_standard_normal, moment_stats, simulate_moment_null
from infomatch.metrics.slices import (
    random_directions,
    slice_stats,
    sliced_wasserstein2,
    w2_to_standard_normal,
)


def test_ks_columns_match_scipy_kstest():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((300, 4)) + np.array([0.0, 0.1, 0.3, 0.0])
    d, p = ks_columns(stats.norm.cdf(z))
    for j in range(4):
        ref = stats.kstest(z[:, j], "norm", method="exact")
        assert d[j] == pytest.approx(ref.statistic, abs=1e-12)
        bulk = d[j] * math.sqrt(300) < 1.4              # exact there; Stephens' tail otherwise
        assert p[j] == pytest.approx(ref.pvalue, rel=1e-6 if bulk else 0.06, abs=1e-12)


def test_anderson_darling_matches_loop_formula():
    u = np.random.default_rng(1).uniform(size=(50, 2))
    n = 50
    for j in range(2):
        s = np.sort(u[:, j])
        ref = -n - sum((2 * i - 1) * (math.log(s[i - 1]) + math.log(1 - s[n - i])) for i in range(1, n + 1)) / n
        assert anderson_darling_columns(u)[j] == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("a2,p", [(1.933, 0.10), (2.492, 0.05), (3.070, 0.025), (3.857, 0.01)])
def test_anderson_darling_p_at_tabulated_critical_values(a2, p):
    # Stephens' asymptotic critical values for a fully specified distribution
    assert float(anderson_darling_sf(np.array([a2]), 10_000)[0]) == pytest.approx(p, abs=6e-4)


def test_anderson_darling_p_is_uniform_under_the_null():
    u = np.random.default_rng(2).uniform(size=(30, 4000))
    p = anderson_darling_sf(anderson_darling_columns(u), 30)
    assert stats.kstest(p, "uniform").pvalue > 1e-3


def test_fisher_and_bonferroni_combinations():
    z = np.random.default_rng(3).standard_normal((200, 5))
    u = stats.norm.cdf(z)
    _, p = ks_columns(u)
    out = marginal_stats(u)
    assert out["ks_fisher_p"] == pytest.approx(stats.combine_pvalues(p, method="fisher").pvalue, rel=1e-9)
    assert out["ks_min_p_bonferroni"] == pytest.approx(min(1.0, 5 * p.min()))
    assert out["ks_reject_rate"] == pytest.approx(float(np.mean(p < 0.05)))


def test_frechet_matches_sqrtm_formula():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((5, 5))
    cov = a @ a.T / 5 + 0.1 * np.eye(5)
    mean = rng.standard_normal(5)
    ref = mean @ mean + np.trace(cov + np.eye(5) - 2 * np.real(linalg.sqrtm(cov)))
    assert frechet_to_standard_normal(mean, cov) == pytest.approx(ref, rel=1e-9)


def test_moment_stats_against_numpy():
    g = np.random.default_rng(5).standard_normal((400, 3)) @ np.array([[1, 0.3, 0], [0, 1, 0], [0, 0, 2]])
    out = moment_stats(g)
    cov = np.cov(g, rowvar=False)
    corr = np.corrcoef(g, rowvar=False)
    assert out["mean_max_abs"] == pytest.approx(np.abs(g.mean(0)).max())
    assert out["cov_max_abs_dev"] == pytest.approx(np.abs(cov - np.eye(3)).max())
    assert out["cov_frobenius_dev"] == pytest.approx(np.linalg.norm(cov - np.eye(3)))
    assert out["corr_max_abs"] == pytest.approx(np.abs(corr[~np.eye(3, dtype=bool)]).max())


def test_simulated_moment_null_matches_real_samples():
    n, d = 300, 5
    null = simulate_moment_null(n, d, draws=1500, seed=1)
    real = [moment_stats(np.random.default_rng([s, 77]).standard_normal((n, d))) for s in range(150)]
    for key, draws in null.items():
        assert stats.ks_2samp(draws, [r[key] for r in real]).pvalue > 1e-3, key


def test_w2_to_standard_normal_closed_forms():
    n = 20_000
    q = special.ndtri((np.arange(n) + 0.5) / n)[:, None]
    assert w2_to_standard_normal(q)[0] < 1e-3                       # the quantiles themselves
    assert w2_to_standard_normal(q + 0.5)[0] == pytest.approx(0.25, abs=2e-3)   # shift c: c^2
    assert w2_to_standard_normal(2.0 * q)[0] == pytest.approx(1.0, abs=5e-3)    # scale s: (s-1)^2


def test_sliced_w2_equal_sizes_is_sorted_difference():
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((100, 3)), rng.standard_normal((100, 3)) * 1.5
    dirs = random_directions(3, 7, seed=2)
    ref = np.sqrt(np.mean([(np.sort(x @ dirs[:, k]) - np.sort(y @ dirs[:, k])) ** 2 for k in range(7)]))
    assert sliced_wasserstein2(x, y, dirs) == pytest.approx(ref)


def test_slices_see_dependence_the_marginals_miss():
    rng = np.random.default_rng(7)
    g = rng.standard_normal((2000, 2))
    g[:, 1] = np.where(rng.uniform(size=2000) < 0.5, g[:, 0], -g[:, 0])   # N(0,1) marginals, dependent
    assert slice_stats(g)["slice_ks_min_p_bonferroni"] < 1e-3


def _hz_naive(x):
    n, d = x.shape
    xc = x - x.mean(0)
    s_inv = np.linalg.inv(np.cov(x, rowvar=False, bias=True))
    b = (1 / math.sqrt(2)) * ((2 * d + 1) / 4) ** (1 / (d + 4)) * n ** (1 / (d + 4))
    tot = 0.0
    for i, j in itertools.product(range(n), repeat=2):
        diff = xc[i] - xc[j]
        tot += math.exp(-b * b / 2 * diff @ s_inv @ diff)
    di = np.array([xc[i] @ s_inv @ xc[i] for i in range(n)])
    return tot / n - 2 * (1 + b * b) ** (-d / 2) * np.exp(-b * b / (2 * (1 + b * b)) * di).sum() \
        + n * (1 + 2 * b * b) ** (-d / 2)


def test_henze_zirkler_matches_double_loop():
    x = np.random.default_rng(8).standard_normal((40, 3))
    hz, p = henze_zirkler(x)
    assert hz == pytest.approx(_hz_naive(x), rel=1e-9)
    assert 0.0 <= p <= 1.0


def test_mardia_matches_double_loop():
    x = np.random.default_rng(9).exponential(size=(30, 2))
    n, d = x.shape
    xc = x - x.mean(0)
    s_inv = np.linalg.inv(np.cov(x, rowvar=False, bias=True))
    g = xc @ s_inv @ xc.T
    b1 = (g**3).sum() / n**2
    b2 = np.mean(np.diag(g) ** 2)
    mean_b2 = d * (d + 2) * (n - 1) / (n + 1)
    var_b2 = 8 * d * (d + 2) * (n - 3) * (n - d - 1) * (n - d + 1) / ((n + 1) ** 2 * (n + 3) * (n + 5))
    skew, kz = mardia(x)
    assert skew == pytest.approx(n * b1 / 6, rel=1e-9)
    assert kz == pytest.approx(abs(b2 - mean_b2) / math.sqrt(var_b2), rel=1e-9)


def test_energy_distance_matches_scipy_in_one_dimension():
    rng = np.random.default_rng(10)
    x, y = rng.standard_normal(60), rng.standard_normal(80) + 0.4
    # scipy returns sqrt(2 E|X-Y| - E|X-X'| - E|Y-Y'|)
    assert energy_distance(x[:, None], y[:, None]) == pytest.approx(stats.energy_distance(x, y) ** 2, rel=1e-9)


def test_energy_permutation_p_detects_shift_and_not_noise():
    rng = np.random.default_rng(11)
    same = [energy_test(rng.standard_normal((80, 2)), rng.standard_normal((80, 2)), 99, seed=s)[1]
            for s in range(40)]
    assert 0.2 < np.mean(same) < 0.8                       # about uniform under the null
    _, p = energy_test(rng.standard_normal((150, 2)), rng.standard_normal((150, 2)) + 0.6, 199)
    assert p == pytest.approx(1 / 200)


def test_ks_sf_close_to_exact_in_bulk_and_tail():
    from infomatch.metrics.marginals import ks_sf

    for n in (50, 500, 3000):
        d = np.linspace(0.2, 5.5, 40) / math.sqrt(n)
        exact = stats.kstwo.sf(d, n)
        keep = exact > 1e-12
        assert np.allclose(ks_sf(d, n)[keep], exact[keep], rtol=0.06, atol=0)
