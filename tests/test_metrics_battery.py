"""The DM battery: structure, reduced calibration, near misses, caching, bad input.

The full calibration (20 seeds, d = 4, 16, 64) is ``benchmarks/calibrate_battery.py``; here 6
seeds per case with thresholds that fail if the verdict rule is miscalibrated or blind.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from infomatch.metrics import FAMILIES, STATISTICS, clear_reference_cache, dm_battery
from infomatch.priors import get_prior

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from calibrate_battery import CALIBRATION, NEAR_MISSES, run_case  # noqa: E402

SEEDS = 6


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CALIBRATION))
@pytest.mark.parametrize("d", [4, 16])
def test_iid_prior_samples_pass_every_family(case, d):
    prior, make = CALIBRATION[case]
    res = run_case(prior, make, d, SEEDS, stream=11)
    for family, rate in res["pass_rate"].items():
        assert rate is None or rate >= 5 / 6, (family, rate)


@pytest.mark.parametrize("case", sorted(NEAR_MISSES))
def test_near_misses_are_caught(case):
    prior, make = NEAR_MISSES[case]
    res = run_case(prior, make, 16, SEEDS, stream=13)
    assert res["caught_rate"] >= 5 / 6


def test_output_structure_and_ratio():
    z = np.random.default_rng(0).standard_normal((500, 3))
    out = dm_battery(z, "gaussian", seeds=3)
    assert set(out["families"]) == set(FAMILIES)
    assert out["n"] == 500 and out["d"] == 3 and out["seeds"] == 3
    for name, s in out["statistics"].items():
        assert name in STATISTICS
        assert {"value", "reference", "ratio", "pass", "threshold", "kind"} <= set(s)
        if s["reference"] != 0:
            assert s["ratio"] == pytest.approx(s["value"] / s["reference"])
        assert (s["pass"] is None) == (s["kind"] == "info")
    fam = out["families"]["moments"]
    assert fam["alpha_per_statistic"] == pytest.approx(0.01 / 5)


def test_verdict_follows_thresholds():
    z = np.random.default_rng(1).standard_normal((800, 4))
    z[:, 1] = 0.5 * z[:, 0] + math.sqrt(0.75) * z[:, 1]          # strong correlation
    out = dm_battery(z, "gaussian", seeds=3)
    s = out["statistics"]["moments.corr_max_abs"]
    assert s["value"] > s["threshold"] and s["pass"] is False
    assert "moments.corr_max_abs" in out["families"]["moments"]["failed"]
    assert out["pass"] is False
    for st in out["statistics"].values():
        if st["kind"] == "p":
            assert st["pass"] == (st["value"] >= st["threshold"])
        elif st["kind"] in ("null", "ref"):
            assert st["pass"] == (st["value"] <= st["threshold"])


def test_references_do_not_depend_on_the_sample_and_are_cached():
    clear_reference_cache()
    rng = np.random.default_rng(2)
    a = dm_battery(rng.standard_normal((300, 3)), "laplace", seeds=2)
    b = dm_battery(rng.laplace(size=(300, 3)), "laplace", seeds=2)
    for name in a["statistics"]:
        assert a["statistics"][name]["reference"] == b["statistics"][name]["reference"]
    assert a["families"]["marginals"]["pass"] is False      # a Gaussian is not a Laplace


def test_prior_object_and_name_agree():
    z = np.random.default_rng(3).standard_t(5, size=(300, 2))
    a = dm_battery(z, "student_t", seeds=2, df=5.0)
    b = dm_battery(z, get_prior("student_t", df=5.0), seeds=2)
    assert a["statistics"] == b["statistics"]


def test_joint_family_skipped_with_reason_in_high_dimension():
    out = dm_battery(np.random.default_rng(4).standard_normal((200, 40)), "gaussian", seeds=2)
    joint = out["families"]["joint"]
    assert joint["pass"] is None and "d = 40 > 32" in joint["skipped"]
    assert not any(k.startswith("joint.") for k in out["statistics"])


def test_flow_prior_runs_without_marginals_and_checks_dimension():
    pytest.importorskip("zuko")
    from infomatch.priors import make_flow_prior

    torch.manual_seed(0)
    prior = make_flow_prior(2, transforms=1, hidden=(8,))
    z = prior.sample(300, 2, generator=torch.Generator().manual_seed(0)).numpy()
    out = dm_battery(z, prior, seeds=2)
    assert out["families"]["marginals"]["pass"] is None
    assert out["families"]["moments"]["pass"] is not None
    with pytest.raises(ValueError, match="must have 2 columns"):
        dm_battery(np.zeros((50, 3)), prior)


@pytest.mark.parametrize("bad,match", [
    (np.vstack([np.zeros((20, 2)), [[np.nan, 0.0]]]), "1 rows with NaN or inf values"),
    (np.zeros((5, 2)), "at least 10 rows"),
    (np.zeros(20), r"shape \(n, d\)"),
    (np.zeros((11, 12)), "more rows than columns"),
])
def test_bad_input_gives_one_line_error(bad, match):
    with pytest.raises(ValueError, match=match) as err:
        dm_battery(bad, "gaussian")
    assert "\n" not in str(err.value)


def test_bad_settings():
    z = np.random.default_rng(5).standard_normal((50, 2))
    with pytest.raises(ValueError, match="seeds must be at least 2"):
        dm_battery(z, "gaussian", seeds=1)
    with pytest.raises(ValueError, match="prior"):
        dm_battery(z, "cauchy")
    with pytest.raises(ValueError, match="alpha"):
        dm_battery(z, "gaussian", alpha=1.5)
