"""The held-out marginals and moments of trained runs if their final whitening were ZCA, not Cholesky.

A run trained with ``--final-whiten`` (Cholesky, the default ``--final-whiten-method``) stores
the final stage's running mean ``m`` and covariance ``C`` (set from the clean training outputs by
the recalibration) and its held-out embeddings ``y = L^{-1} (x - m)``, ``L L^T = C + eps I``. This
script recovers the stage's input ``x = L y + m`` and whitens it again with the symmetric inverse
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
from safetensors.torch import load_file

from infomatch.metrics.battery import dm_battery
from infomatch.training.config import TrainConfig
from infomatch.whiten import whitening_matrix

KEY = "nine.normalize.final."


def _families(z: np.ndarray) -> dict[str, object]:
    b = dm_battery(z, "gaussian")
    st = b["statistics"]
    return {"families": {k: v["pass"] for k, v in b["families"].items()},
            "ks_fisher_p": st["marginals.ks_fisher_p"]["value"],
            "ad_fisher_p": st["marginals.ad_fisher_p"]["value"]}


def swap(run: Path) -> dict[str, object]:
    """The battery on a run's held-out embeddings as stored (Cholesky) and re-whitened with ZCA."""
    state = load_file(str(run / "model.safetensors"))
    if KEY + "running_cov" not in state:
        raise SystemExit(f"{run}: not trained with --final-whiten (no {KEY}running_cov)")
    method = TrainConfig.from_stored_yaml(run / "config.yaml").final_whiten_method
    if method != "cholesky":
        raise SystemExit(f"{run}: its final whitening is {method!r}, not 'cholesky'")
    mean = state[KEY + "running_mean"].double()
    cov = state[KEY + "running_cov"].double()
    chol, zca = whitening_matrix(cov, "cholesky"), whitening_matrix(cov, "zca")
    y = torch.from_numpy(np.load(run / "embeddings" / "heldout.npy")).double()
    x = torch.linalg.solve(chol, y.T).T + mean
    return {"run": str(run), "cholesky": _families((x - mean) @ chol.T), "zca": _families((x - mean) @ zca.T)}


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
