"""How far from N(0, I) may a sample be before the battery's joint family rejects it?

Two controlled departures from the Gaussian, each at the held-out size of the default job
(n = 359, d = 8), with the battery's own Henze-Zirkler and Mardia-skewness tests at the
family's per-statistic level (alpha = 0.01 split over its 3 deciding statistics; the third, the
energy permutation test, is the least sensitive of the three and is left out here):

- **clusters**: a Gaussian sample partitioned into ``k`` k-means cells (fit on a large Gaussian
  sample: the split that maximizes the between-cell share of the variance), then every point
  moved a fraction ``lam`` of the way towards its cell's centre. ``lam = 0`` is exactly Gaussian
  (share about 0.33 for k = 10 in d = 8); larger ``lam`` makes blobs, as views do to classes.
- **shell**: the radius ``|z|`` pulled towards ``sqrt(d)`` (``|z| -> sqrt(d) + a (|z| - sqrt(d))``),
  directions untouched: the radial concentration measured on learned embeddings.

Printed per setting: the between-cell share (clusters), the mean Henze-Zirkler ratio to i.i.d.
samples and the fraction of ``--reps`` samples rejected by Henze-Zirkler or Mardia skewness.
Both tests are affine-invariant (sample-whitened), so no rescaling is needed.

Example:
    python benchmarks/joint_tolerance.py --reps 40
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.cluster import KMeans

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infomatch.metrics.joint import henze_zirkler, mardia  # noqa: E402


def rejected(z: np.ndarray, level: float) -> tuple[float, bool]:
    """(HZ statistic, whether Henze-Zirkler or Mardia skewness rejects at ``level``)."""
    hz, hz_p = henze_zirkler(z)
    skew, _ = mardia(z)
    d = z.shape[1]
    skew_p = stats.chi2.sf(skew, d * (d + 1) * (d + 2) / 6)
    return hz, bool(hz_p < level or skew_p < level)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=359)
    ap.add_argument("--dim", type=int, default=8)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--alpha", type=float, default=0.01)
    args = ap.parse_args()
    level = args.alpha / 3
    rng = np.random.default_rng(0)
    d, n = args.dim, args.n
    km = KMeans(args.k, n_init=4, random_state=0).fit(rng.standard_normal((50_000, d)))
    base_hz = np.mean([henze_zirkler(rng.standard_normal((n, d)))[0] for _ in range(args.reps)])
    print(f"n = {n}, d = {d}, k = {args.k}, {args.reps} samples per row, level {level:.4f} per test; "
          f"mean HZ of i.i.d. N(0, I) samples {base_hz:.3f}")
    print("| departure | setting | between-cell share | HZ ratio | rejected by the joint family |")
    print("|---|---|---:|---:|---:|")
    for lam in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3):
        shares, hzs, rej = [], [], []
        for _ in range(args.reps):
            x = rng.standard_normal((n, d))
            c = km.cluster_centers_[km.predict(x)]
            z = c + (1 - lam) * (x - c)
            zc = z - z.mean(0)
            shares.append(((c - z.mean(0)) ** 2).sum() / (zc ** 2).sum())
            hz, r = rejected(z, level)
            hzs.append(hz)
            rej.append(r)
        print(f"| clusters | lam = {lam:g} | {np.mean(shares):.2f} | {np.mean(hzs) / base_hz:.2f} | {np.mean(rej):.0%} |")
    for a in (1.0, 0.9, 0.8, 0.7, 0.6):
        hzs, rej = [], []
        for _ in range(args.reps):
            x = rng.standard_normal((n, d))
            r = np.linalg.norm(x, axis=1, keepdims=True)
            z = x / r * (np.sqrt(d) + a * (r - np.sqrt(d)))
            hz, rj = rejected(z, level)
            hzs.append(hz)
            rej.append(rj)
        print(f"| shell | a = {a:g} | - | {np.mean(hzs) / base_hz:.2f} | {np.mean(rej):.0%} |")


if __name__ == "__main__":
    main()
