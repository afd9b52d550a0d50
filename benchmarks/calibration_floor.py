"""What the held-out battery allows a *perfect* encoder: the calibration floor.

Every embedding infomatch produces is normalized with statistics estimated on the training
rows (the recalibration on the clean training inputs sets the mean and covariance, and the rank
stages' quantiles, from them). Even an encoder whose population law is exactly Gaussian then
gives held-out embeddings ``N(delta, I + Delta)`` with ``delta``, ``Delta`` of the size of the
training sample's own fluctuation, ``O(sqrt(d / n_train))`` per entry. The held-out battery
compares them with i.i.d. prior samples of its own size ``n_held``; the extra deviation is
invisible when ``n_train >> n_held`` and detectable when ``n_train`` is only a few times
``n_held`` and ``d`` is large (the Frobenius norm of ``cov - I`` sums ``d (d + 1) / 2`` such
terms, so its null distribution is narrow).

This script measures it without any network: for each repetition it draws ``n_train`` training
and ``n_held`` held-out rows from one Gaussian ``N(0, A A^T)`` (``A`` random), calibrates on the
training rows and runs ``dm_battery`` on the held-out rows, for three calibrations:

- ``iid``: no calibration, the held-out rows drawn from N(0, I) itself (the battery's nominal
  false-rejection rate, about 1 % per family);
- ``whiten``: the training mean and ZCA whitening (what the moments recalibration does);
- ``whiten+marginal``: then each coordinate through its training empirical CDF to N(0, 1)
  (what the marginal stage's recalibrated quantiles do).

It prints each family's pass rate, the rate of passing marginals and moments together and all
four together, and the median ratio of the Frobenius norm of ``cov - I`` to its i.i.d. reference.

Example:
    python benchmarks/calibration_floor.py --dim 32 --n-train 8000 --n-held 2000 --reps 40
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from scipy import stats

from infomatch.metrics.battery import dm_battery

FAMILIES = ("marginals", "moments", "slices", "joint")


def calibrations(train: np.ndarray, held: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The held-out rows under each calibration fitted on ``train``."""
    mean = train.mean(0)
    evals, evecs = np.linalg.eigh(np.cov(train, rowvar=False))
    w = (evecs / np.sqrt(evals)) @ evecs.T
    tw, hw = (train - mean) @ w.T, (held - mean) @ w.T
    n = len(train)
    scores = stats.norm.ppf((np.arange(n) + 0.5) / n)
    marginal = np.column_stack([np.interp(hw[:, j], np.sort(tw[:, j]), scores) for j in range(train.shape[1])])
    return {"iid": rng.normal(size=held.shape), "whiten": hw, "whiten+marginal": marginal}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--n-train", type=int, default=8000)
    p.add_argument("--n-held", type=int, default=2000)
    p.add_argument("--reps", type=int, default=40)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="also write the rates to this file")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    passes: dict[str, list[dict[str, bool]]] = {}
    frob: dict[str, list[float]] = {}
    start = time.perf_counter()
    for rep in range(args.reps):
        rng = np.random.default_rng(1000 + rep)
        a = rng.normal(size=(args.dim, args.dim))
        train = rng.normal(size=(args.n_train, args.dim)) @ a.T
        held = rng.normal(size=(args.n_held, args.dim)) @ a.T
        for name, z in calibrations(train, held, rng).items():
            res = dm_battery(z, "gaussian", seeds=5, seed=rep)
            passes.setdefault(name, []).append({f: bool(res["families"][f]["pass"]) for f in FAMILIES})
            frob.setdefault(name, []).append(float(res["statistics"]["moments.cov_frobenius_dev"]["ratio"]))
    out = {"dim": args.dim, "n_train": args.n_train, "n_held": args.n_held, "reps": args.reps,
           "seconds": round(time.perf_counter() - start, 1), "rows": {}}
    print(f"d = {args.dim}, n_train = {args.n_train}, n_held = {args.n_held}, {args.reps} repetitions")
    print("| calibration | " + " | ".join(FAMILIES) + " | marginals & moments | all four | Frobenius ratio (median) |")
    print("|---|" + "---:|" * (len(FAMILIES) + 3))
    for name, rows in passes.items():
        rate = {f: float(np.mean([r[f] for r in rows])) for f in FAMILIES}
        rate["marginals & moments"] = float(np.mean([r["marginals"] and r["moments"] for r in rows]))
        rate["all four"] = float(np.mean([all(r.values()) for r in rows]))
        rate["frobenius ratio"] = float(np.median(frob[name]))
        out["rows"][name] = rate
        print(f"| {name} | " + " | ".join(f"{v:.2f}" if k != "frobenius ratio" else f"{v:.3f}"
                                          for k, v in rate.items()) + " |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
