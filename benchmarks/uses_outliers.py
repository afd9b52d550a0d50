"""Outlier protocol: runs trained on some MNIST classes score held-out digits of the other classes.

For every run (label=RUN, repeatable; same label over seeds) the inliers are the run's held-out
embeddings (classes it was trained on, never seen in training) and the outliers are the
embeddings of ``--outliers`` (the remaining classes). Scores (``infomatch.metrics.outliers``):
prior density, typicality, Mahalanobis (Gaussian fitted to the training embeddings) and kNN
distance (k = 5) to the training embeddings. Prints AUROC and FPR at 95 % TPR per run, then mean
and sd over the runs of each label, plus where the outliers land (squared radius against d).

Example:
    $ python benchmarks/uses_outliers.py --outliers runs/uses/data/outliers.npz \
        --run nine=runs/uses/ood-s1.0-seed0 --run plain=runs/uses/ood-s0-seed0 --json ood.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np

from infomatch._io import atomic_write_text
from infomatch.data import load_dataset
from infomatch.decoder import open_run
from infomatch.metrics.outliers import SCORES, detection_figures, outlier_scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--outliers", required=True)
    ap.add_argument("--run", action="append", required=True, metavar="LABEL=RUN")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    other = load_dataset(args.outliers)
    per_run, groups = [], defaultdict(list)
    for item in args.run:
        label, path = item.split("=", 1)
        tr = open_run(path)
        inl = np.load(f"{path}/embeddings/heldout.npy").astype(np.float64)
        train = np.load(f"{path}/embeddings/train.npy").astype(np.float64)
        out = tr.embed(other.x).numpy().astype(np.float64)
        d = inl.shape[1]
        row = {"label": label, "run": path, "sigma": tr.config.sigma, "seed": tr.config.seed, "d": d,
               "n_inliers": len(inl), "n_outliers": len(out),
               "mean_sq_radius_inliers": float((inl ** 2).sum(1).mean()),
               "mean_sq_radius_outliers": float((out ** 2).sum(1).mean()),
               "mean_sq_radius_train": float((train ** 2).sum(1).mean()),
               "max_abs_cov_minus_identity_train": float(np.abs(np.cov(train.T) - np.eye(d)).max()),
               "scores": {}}
        for method in SCORES:
            # the prior-based scores need the prior; the two fitted ones use the training embeddings
            s_in = outlier_scores(inl, method, tr.prior, train=train, k=args.k)
            s_out = outlier_scores(out, method, tr.prior, train=train, k=args.k)
            row["scores"][method] = detection_figures(s_in, s_out)
        per_run.append(row)
        groups[label].append(row)
        figs = "  ".join(f"{m} {row['scores'][m]['auroc']:.3f}/{row['scores'][m]['fpr_at_95_tpr']:.3f}" for m in SCORES)
        print(f"{label:6s} seed {row['seed']}  AUROC/FPR95: {figs}  |z|^2 in {row['mean_sq_radius_inliers']:.1f} "
              f"out {row['mean_sq_radius_outliers']:.1f} train {row['mean_sq_radius_train']:.1f} (d = {d})", flush=True)
    summary = {}
    for label, rows in groups.items():
        summary[label] = {}
        for method in SCORES:
            a = np.array([r["scores"][method]["auroc"] for r in rows])
            f = np.array([r["scores"][method]["fpr_at_95_tpr"] for r in rows])
            summary[label][method] = {"auroc_mean": float(a.mean()), "auroc_sd": float(a.std(ddof=1)) if len(a) > 1 else None,
                                      "fpr95_mean": float(f.mean()), "fpr95_sd": float(f.std(ddof=1)) if len(f) > 1 else None,
                                      "runs": len(rows)}
            s = summary[label][method]
            sd = "" if s["auroc_sd"] is None else f" +- {s['auroc_sd']:.3f}"
            print(f"{label:6s} {method:12s} AUROC {s['auroc_mean']:.3f}{sd}  FPR95 {s['fpr95_mean']:.3f}  ({len(rows)} runs)")
    if args.json:
        atomic_write_text(args.json, json.dumps({"runs": per_run, "summary": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
