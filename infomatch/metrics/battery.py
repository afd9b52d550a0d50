"""The distribution-matching battery: every statistic next to its value on i.i.d. prior samples.

``dm_battery(z, prior)`` computes four families of statistics on ``z`` ``(n, d)`` (in the
prior's space) and the same statistics on ``seeds`` independent i.i.d. samples from the prior of
the same ``n`` and ``d`` (the *references*; cached per prior, n, d, seed and settings):

- ``marginals``: per-coordinate KS / Anderson-Darling against the prior's marginal;
- ``moments``: mean, covariance, correlation and Fréchet distance on the Gaussianized scale;
- ``slices``: KS on random 1-D projections and sliced W2 to the prior;
- ``joint`` (only ``d <= 32`` and ``n <= 4,000``): Henze-Zirkler, Mardia, energy permutation test.

Every statistic is reported with ``value``, ``reference`` (mean over the references),
``ratio = value / reference`` (1: "as far from the prior as the prior's own samples") and
``pass``. Verdict (stated in the output as ``rule``): each family is a test at level ``alpha``
(default 0.01), Bonferroni-split over its ``k`` deciding statistics; a family passes when all of
them pass. How a statistic decides depends on its ``kind``:

- ``"p"``: a p-value that is exact, conservative or (Henze-Zirkler, Mardia skewness) a checked
  approximation under the prior (per-coordinate KS and AD combined by Bonferroni / Fisher,
  Bonferroni over slices, Henze-Zirkler, Mardia skewness, energy permutation test): passes
  when ``p >= alpha / k``;
- ``"null"``: moment statistics. A Gaussianized i.i.d. prior sample is exactly N(0, I), so the
  references' distribution is drawn exactly and cheaply from the sample mean / Wishart covariance
  (``null_draws`` draws, :func:`~infomatch.metrics.moments.simulate_moment_null`): passes when
  below the ``1 - alpha / k`` quantile of those draws;
- ``"ref"``: the sliced W2 distance: passes when below the one-sided ``1 - alpha / k`` Student-t
  prediction bound of the ``R`` references, ``mean + t_{R-1} sqrt(1 + 1/R) max(sd, 0.1 mean)``
  (the spread is floored at 10 % of the mean: a handful of references underestimates it often);
- ``"info"``: shown with its reference and ratio, no verdict of its own (maxima and rejection
  rates whose verdict is carried by the corresponding p-value; Mardia's kurtosis, whose normal
  approximation rejected 1.5-2 times too often at the far tail in our null simulations).

Five references estimate a 99th percentile badly, which is why only the sliced W2 relies on
them for its verdict (calibration table in BENCHMARKS.md, section "DM battery speed").

Example:
    >>> import numpy as np
    >>> z = np.random.default_rng(0).standard_normal((500, 4))
    >>> out = dm_battery(z, "gaussian", seeds=3)
    >>> sorted(out["families"])
    ['joint', 'marginals', 'moments', 'slices']
    >>> out["statistics"]["moments.corr_max_abs"]["ratio"] > 0
    True
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import numpy as np
from scipy import stats

from infomatch._checks import check_positive_int, check_probability
from infomatch.metrics._inputs import ResolvedPrior, check_embeddings, resolve_prior
from infomatch.metrics.joint import joint_stats
from infomatch.metrics.marginals import marginal_stats
from infomatch.metrics.moments import moment_stats, simulate_moment_null
from infomatch.metrics.slices import slice_stats
from infomatch.priors import Prior

__all__ = ["FAMILIES", "STATISTICS", "clear_reference_cache", "compute_statistics", "dm_battery"]

FAMILIES = ("marginals", "moments", "slices", "joint")

# name -> (kind, description); the family is the part before the dot.
STATISTICS: dict[str, tuple[str, str]] = {
    "marginals.ks_min_p_bonferroni": ("p", "Bonferroni-corrected smallest per-coordinate KS p-value"),
    "marginals.ks_fisher_p": ("p", "Fisher-combined per-coordinate KS p-value"),
    "marginals.ad_min_p_bonferroni": ("p", "Bonferroni-corrected smallest Anderson-Darling p-value"),
    "marginals.ad_fisher_p": ("p", "Fisher-combined Anderson-Darling p-value"),
    "marginals.ks_max": ("info", "largest per-coordinate KS distance to the prior's marginal"),
    "marginals.ks_reject_rate": ("info", "fraction of coordinates whose KS p < 0.05"),
    "marginals.ad_max": ("info", "largest per-coordinate Anderson-Darling A^2"),
    "moments.mean_max_abs": ("null", "largest |mean| (Gaussianized scale)"),
    "moments.cov_max_abs_dev": ("null", "largest |cov - I| entry (Gaussianized scale)"),
    "moments.cov_frobenius_dev": ("null", "Frobenius norm of cov - I (Gaussianized scale)"),
    "moments.corr_max_abs": ("null", "largest off-diagonal |correlation|"),
    "moments.frechet": ("null", "squared Frechet distance to N(0, I)"),
    "slices.slice_ks_min_p_bonferroni": ("p", "Bonferroni-corrected smallest KS p-value over random slices"),
    "slices.sliced_w2": ("ref", "sliced Wasserstein-2 distance to the prior (Gaussianized scale)"),
    "slices.slice_ks_max": ("info", "largest KS distance over random slices"),
    "slices.slice_ks_reject_rate": ("info", "fraction of random slices whose KS p < 0.05"),
    "joint.hz_p": ("p", "Henze-Zirkler p-value (log-normal approximation)"),
    "joint.mardia_kurtosis_p": ("info", "Mardia kurtosis p-value (normal approximation with exact "
                                        "finite-n moments; too liberal in the far tail to decide)"),
    "joint.energy_perm_p": ("p", "energy distance to a prior sample: permutation p-value"),
    "joint.mardia_skewness_p": ("p", "Mardia skewness p-value (chi-square approximation)"),
    "joint.mardia_skewness": ("info", "Mardia skewness n b1 / 6 (sample-whitened)"),
    "joint.hz": ("info", "Henze-Zirkler statistic (sample-whitened)"),
    "joint.mardia_kurtosis_abs_z": ("info", "Mardia kurtosis |z| (sample-whitened)"),
    "joint.energy_distance": ("info", "energy distance to a prior sample"),
}

_REF_SEED0 = 10_000        # reference sample i uses seed + _REF_SEED0 + i
_COMPANION_SEED0 = 20_000  # independent prior sample for the energy test
_NULL_SEED = 30_000        # seed of the simulated moment null
_REF_SPREAD_FLOOR = 0.1    # "ref" rule: spread floored at this fraction of the reference mean
_CACHE: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_CACHE_SIZE = 512


def clear_reference_cache() -> None:
    """Forget the cached reference statistics (e.g. after changing a flow prior in place)."""
    _CACHE.clear()


def _cached(key: tuple[Any, ...], compute: Any, use_cache: bool = True) -> Any:
    if use_cache and key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    value = compute()
    if use_cache:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def _joint_skip_reason(n: int, d: int, joint_max_d: int, joint_max_n: int) -> str | None:
    if d > joint_max_d:
        return (f"skipped: d = {d} > {joint_max_d}: Henze-Zirkler saturates (its statistic tends to 1 "
                "for every law) and Mardia's approximations lose calibration in high dimension; "
                "the marginal, moment and slice families cover this case")
    if n > joint_max_n:
        return (f"skipped: n = {n} > {joint_max_n}: these tests use all n^2 pairs (time and memory "
                f"grow quadratically); evaluate a subsample of <= {joint_max_n} rows to run them")
    return None


def compute_statistics(z: np.ndarray, prior: ResolvedPrior, companion: np.ndarray | None = None, *,
                       rate_alpha: float = 0.05, n_slices: int = 64, n_permutations: int = 999,
                       energy_max_n: int = 500, slice_seed: int = 0) -> dict[str, float]:
    """All statistics of one sample ``z`` (prior space) as a flat ``{"family.name": value}`` dict.

    ``companion`` is an independent prior sample (prior space) for the joint family's energy
    test; the joint family is computed only when it is given. ``rate_alpha`` is the level of the
    reported rejection rates (information only).

    Example:
        >>> from infomatch.metrics._inputs import resolve_prior
        >>> p = resolve_prior("uniform")
        >>> s = compute_statistics(p.sample(200, 2, 0), p)
        >>> "slices.sliced_w2" in s and "joint.hz" not in s
        True
    """
    out: dict[str, float] = {}
    u = prior.cdf(z) if prior.marginal is not None else None
    g = prior.gaussianize(z, u)
    if u is not None:
        out.update({f"marginals.{k}": v for k, v in marginal_stats(u, alpha=rate_alpha).items()})
    out.update({f"moments.{k}": v for k, v in moment_stats(g).items()})
    out.update({f"slices.{k}": v
                for k, v in slice_stats(g, n_slices=n_slices, alpha=rate_alpha, seed=slice_seed).items()})
    if companion is not None:
        out.update({f"joint.{k}": v for k, v in joint_stats(
            g, prior.gaussianize(companion), n_permutations=n_permutations,
            energy_max_n=energy_max_n, seed=slice_seed).items()})
    return out


def _ratio(value: float, ref: float) -> float | None:
    if ref == 0.0:
        return 1.0 if value == 0.0 else None
    return value / ref


def dm_battery(z: Any, prior: Prior | str = "gaussian", seeds: int = 5, *, alpha: float = 0.01,
               n_slices: int = 64, joint_max_d: int = 32, joint_max_n: int = 4000,
               n_permutations: int = 999, energy_max_n: int = 500, null_draws: int = 1000,
               seed: int = 0, **prior_params: Any) -> dict[str, Any]:
    """Run the distribution-matching battery on ``z`` ``(n, d)`` (prior space) against ``prior``.

    Args:
        z: embeddings in the prior's space (numpy array or tensor), ``n >= 10`` finite rows.
        prior: a :class:`~infomatch.priors.Prior` or a prior name (``prior_params`` go to
            ``get_prior``).
        seeds: number ``R >= 2`` of i.i.d. reference samples of the same ``n`` and ``d``.
        alpha: level of each family's test (split over its deciding statistics); default 0.01
            so that a true prior sample fails a given family about 1 time in 100.
        n_slices: random directions for the slice family.
        joint_max_d, joint_max_n: the joint family runs only up to these sizes.
        n_permutations: permutations of the energy test; its smallest p-value is
            ``1 / (n_permutations + 1)``, which must be below ``alpha / k`` for it to ever fail.
        energy_max_n: rows per sample used by the energy test.
        null_draws: exact simulated draws of the moment statistics' null distribution.
        seed: offsets every seed used (references, companion, slice directions, permutations).

    Returns:
        ``{"prior", "n", "d", "seeds", "alpha", "rule", "statistics", "families", "pass"}``;
        ``statistics[name]`` holds ``value``, ``reference`` (mean over references),
        ``reference_sd``, ``threshold``, ``ratio``, ``pass`` (None for ``info``), ``family``,
        ``kind``, ``description``; ``families[f]`` holds ``pass`` (None when skipped),
        ``failed``, ``alpha_per_statistic`` and ``skipped`` (reason or None).

    Raises:
        ValueError: NaN/inf rows, fewer than 10 rows, a column count the prior cannot have
            (flow priors have a fixed dimension), bad settings.

    Example:
        >>> import numpy as np
        >>> z = np.random.default_rng(1).uniform(0.05, 0.95, size=(1000, 4))   # squeezed
        >>> dm_battery(z, "uniform", seeds=3)["families"]["marginals"]["pass"]
        False
    """
    rp = resolve_prior(prior, **prior_params)
    x = check_embeddings("z", z, dim=rp.dim)
    seeds = check_positive_int("seeds", seeds)
    if seeds < 2:
        raise ValueError(f"seeds must be at least 2 (a spread needs two references); got {seeds}")
    alpha = check_probability("alpha", alpha)
    n_slices = check_positive_int("n_slices", n_slices)
    null_draws = check_positive_int("null_draws", null_draws)
    n, d = x.shape
    if n <= d:
        raise ValueError(f"z must have more rows than columns (n > d) for covariance statistics; got shape {x.shape}")
    skip = _joint_skip_reason(n, d, joint_max_d, joint_max_n)
    settings = dict(n_slices=n_slices, n_permutations=n_permutations,
                    energy_max_n=energy_max_n, slice_seed=seed)
    cacheable = rp.key[0] != "flow"

    def companion(i: int) -> np.ndarray | None:
        return None if skip else rp.sample(n, d, seed + _COMPANION_SEED0 + i)

    values = compute_statistics(x, rp, companion(0), **settings)
    refs = []
    for i in range(seeds):
        key = ("ref", rp.key, n, d, seed + i, skip is None, tuple(sorted(settings.items())))
        refs.append(_cached(key, lambda i=i: compute_statistics(
            rp.sample(n, d, seed + _REF_SEED0 + i), rp, companion(1 + i), **settings), cacheable))
    null = _cached(("null", n, d, null_draws, seed),
                   lambda: simulate_moment_null(n, d, null_draws, seed + _NULL_SEED))

    deciding = {f: [k for k, (kind, _) in STATISTICS.items()
                    if k.startswith(f + ".") and kind != "info" and k in values] for f in FAMILIES}
    statistics: dict[str, dict[str, Any]] = {}
    for name, (kind, desc) in STATISTICS.items():
        if name not in values:
            continue
        family = name.split(".")[0]
        ref = np.array([r[name] for r in refs])
        ref_mean, ref_sd = float(ref.mean()), float(ref.std(ddof=1))
        value = values[name]
        a_stat = alpha / len(deciding[family])
        threshold: float | None
        if kind == "p":
            threshold = a_stat
        elif kind == "null":
            threshold = float(np.quantile(null[name.split(".")[1]], 1.0 - a_stat, method="higher"))
        elif kind == "ref":
            spread = max(ref_sd, _REF_SPREAD_FLOOR * abs(ref_mean), 1e-12)
            tq = float(stats.t.ppf(1.0 - a_stat, seeds - 1))
            threshold = ref_mean + tq * spread * math.sqrt(1.0 + 1.0 / seeds)
        else:
            threshold = None
        passed = None if threshold is None else bool(value >= threshold if kind == "p" else value <= threshold)
        statistics[name] = {
            "value": value, "reference": ref_mean, "reference_sd": ref_sd, "threshold": threshold,
            "ratio": _ratio(value, ref_mean), "pass": passed, "family": family, "kind": kind,
            "description": desc,
        }

    families: dict[str, dict[str, Any]] = {}
    for family in FAMILIES:
        names = deciding[family]
        if not names:
            reason = skip if family == "joint" else "skipped: the prior has no scipy marginal (flow prior)"
            families[family] = {"pass": None, "failed": [], "alpha_per_statistic": None, "skipped": reason}
            continue
        failed = [k for k in names if not statistics[k]["pass"]]
        families[family] = {"pass": not failed, "failed": failed,
                            "alpha_per_statistic": alpha / len(names), "skipped": None}
    rule = (f"each family is a level-{alpha:g} test Bonferroni-split over its k deciding statistics: "
            f"p-values pass when p >= {alpha:g}/k; moment statistics when below the 1 - {alpha:g}/k "
            f"quantile of {null_draws} exact null draws; the sliced W2 when below the "
            f"1 - {alpha:g}/k Student-t prediction bound of {seeds} i.i.d. prior references "
            "(spread floored at 10 % of their mean)")
    return {
        "prior": rp.prior.to_dict(), "n": n, "d": d, "seeds": seeds, "alpha": alpha, "rule": rule,
        "statistics": statistics, "families": families,
        "pass": all(f["pass"] is not False for f in families.values()),
    }
