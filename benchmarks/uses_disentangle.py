"""Disentanglement of runs trained on ``--data shapes``: MIG and DCI against the known factors.

For each run (label=RUN, repeatable) the factors of every row come from
``infomatch.data.shapes.shapes_factors()`` (the same seeded grid ``--data shapes`` loads). MIG
is computed on all embeddings (train + held-out); DCI fits its predictors (random forests) on
the training embeddings and scores informativeness on the held-out ones. Two reference rows:
the factors themselves (standardized) and a random rotation of them. Also prints, per factor,
the code with the largest MI and the held-out accuracy of predicting it.

Example:
    $ python benchmarks/uses_disentangle.py --run s1=runs/uses/shapes-s1.0 --json dis.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from infomatch._io import atomic_write_text
from infomatch.data.shapes import FACTOR_NAMES, shapes_factors
from infomatch.metrics.disentangle import dci, mig
from infomatch.training.rundir import RunDir


def row(label: str, z_tr: np.ndarray, f_tr: np.ndarray, z_te: np.ndarray, f_te: np.ndarray) -> dict:
    m = mig(np.r_[z_tr, z_te], np.r_[f_tr, f_te])
    d = dci(z_tr, f_tr, z_test=z_te, factors_test=f_te, model="forest")
    best = m["mutual_info"].argmax(0)
    out = {"label": label, "mig": m["mig"], "mig_per_factor": dict(zip(FACTOR_NAMES, m["per_factor"], strict=True)),
           "disentanglement": d["disentanglement"], "completeness": d["completeness"],
           "informativeness": d["informativeness"],
           "accuracy_per_factor": dict(zip(FACTOR_NAMES, d["informativeness_per_factor"], strict=True)),
           "top_code_per_factor": dict(zip(FACTOR_NAMES, best.tolist(), strict=True)), "d": int(z_tr.shape[1])}
    print(f"{label:10s} MIG {out['mig']:.3f}  D {out['disentanglement']:.3f}  C {out['completeness']:.3f}  "
          f"I {out['informativeness']:.3f}  | acc " + " ".join(f"{k} {v:.2f}" for k, v in out["accuracy_per_factor"].items())
          + "  | MIG " + " ".join(f"{k} {v:.2f}" for k, v in out["mig_per_factor"].items()), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="append", required=True, metavar="LABEL=RUN")
    ap.add_argument("--json")
    args = ap.parse_args()
    factors = shapes_factors()
    rows = []
    for item in args.run:
        label, path = item.split("=", 1)
        tr_idx, te_idx = RunDir(path).load_split()
        z_tr, z_te = np.load(f"{path}/embeddings/train.npy"), np.load(f"{path}/embeddings/heldout.npy")
        r = row(label, z_tr, factors[tr_idx], z_te, factors[te_idx])
        r["run"] = path
        rows.append(r)
    tr_idx, te_idx = RunDir(args.run[0].split("=", 1)[1]).load_split()
    f = (factors - factors.mean(0)) / factors.std(0)
    rows.append(row("factors", f[tr_idx], factors[tr_idx], f[te_idx], factors[te_idx]))
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))
    rows.append(row("rotated", (f @ q)[tr_idx], factors[tr_idx], (f @ q)[te_idx], factors[te_idx]))
    if args.json:
        atomic_write_text(args.json, json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
