"""The held-out marginals and moments of trained runs if their final whitening were ZCA, not Cholesky.

A run trained with ``--final-whiten`` (Cholesky, the default ``--final-whiten-method``) stores
the final stage's running mean ``m`` and covariance ``C`` (set from the clean training outputs by
the recalibration) and its held-out embeddings ``y = L^{-1} (x - m)``, ``L L^T = C + eps I``. This
script rebuilds the run's model (``load_model``), recovers the stage's centred input
``x - m = L y`` and whitens it again with the symmetric inverse
square root of the same ``C + eps I`` (ZCA, the whitening closest to the identity), then runs the
battery on both. Same encoder, same statistics: only the rotation of the final whitening
differs, so it isolates what the choice of matrix does to the per-coordinate laws; a run trained
with ``--final-whiten-method zca`` also trains the encoder through that matrix.

Example:
    python benchmarks/final_whiten_swap.py runs/mnist-s0 runs/mnist-s1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from infomatch.metrics.battery import dm_battery
from infomatch.training.engine import load_model
from infomatch.whiten import whitening_matrix


def _families(z: np.ndarray) -> dict[str, object]:
    b = dm_battery(z, "gaussian")
    st = b["statistics"]
    return {"families": {k: v["pass"] for k, v in b["families"].items()},
            "ks_fisher_p": st["marginals.ks_fisher_p"]["value"],
            "ad_fisher_p": st["marginals.ad_fisher_p"]["value"]}


def swap(run: Path) -> dict[str, dict[str, object]]:
    """The battery on a run's held-out embeddings as stored (Cholesky) and re-whitened with ZCA."""
    _, model, _ = load_model(run)
    final = model.nine.normalize.final
    if final is None:
        raise SystemExit(f"{run}: not trained with --final-whiten")
    if final.method != "cholesky":
        raise SystemExit(f"{run}: its final whitening is {final.method!r}, not 'cholesky'")
    cov = final.running_cov.double()
    w_chol, w_zca = whitening_matrix(cov, "cholesky", final.eps), whitening_matrix(cov, "zca", final.eps)
    y = torch.from_numpy(np.load(run / "embeddings" / "heldout.npy")).double()
    centred = torch.linalg.solve(w_chol, y.T).T  # the stage's input minus its running mean
    return {"cholesky": _families(y.numpy()), "zca": _families((centred @ w_zca.T).numpy())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    print("| run | final whitening | marginals | moments | slices | joint | KS Fisher p | AD Fisher p |")
    print("|---|---|---|---|---|---|---:|---:|")
    for run in args.runs:
        res = swap(run)
        for method in ("cholesky", "zca"):
            r = res[method]
            fam = " | ".join("pass" if r["families"][k] else "FAIL" for k in ("marginals", "moments", "slices", "joint"))
            print(f"| {run.name} | {method} | {fam} | {r['ks_fisher_p']:.3g} | {r['ad_fisher_p']:.3g} |")


if __name__ == "__main__":
    main()
