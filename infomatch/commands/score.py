"""``infomatch score``: outlier scores of new inputs under a trained run (higher = more unusual).

Each input of ``--data`` is embedded (clean representation, prior space) and scored by
``--method``: ``knn`` (default: mean distance to the k nearest training embeddings, stored in
the run), ``density`` (the prior's negative log-density), ``typicality`` (two-sided chi-square
tail of the Gaussianized squared radius) or ``mahalanobis`` (Gaussian fitted to the training
embeddings). The scores go to ``--out`` as a float64 .npy, one per input row.

Example:
    $ infomatch score runs/my-run --data new.npz --out scores.npy
    $ infomatch score runs/my-run --data new.npz --method density --out nll.npy
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

# the names of infomatch.metrics.outliers.SCORES, kept here so that building the parser imports no scipy
METHODS = ("knn", "density", "typicality", "mahalanobis")
DEFAULT_METHOD = "knn"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("score", help="outlier scores of new inputs under a trained run",
                       description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("run_dir", metavar="RUN", help="run directory")
    p.add_argument("--data", required=True, help="inputs to score (same shape as the run's inputs)")
    p.add_argument("--out", required=True, help="output .npy of scores")
    p.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD, help=f"score (default {DEFAULT_METHOD})")
    p.add_argument("--k", type=int, default=5, help="neighbours of the knn score (default 5)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def run(args: argparse.Namespace) -> int:
    """Run the command; bad input (ValueError, OSError, corrupt files) is reported in one line."""
    from ..errors import user_input

    with user_input():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..data import load_dataset
    from ..decoder import open_run
    from ..metrics.outliers import FITTED_SCORES, outlier_scores
    from ..metrics.runs import load_npy
    from ..training.rundir import atomic_save_npy

    out = Path(args.out)
    if out.suffix.lower() != ".npy":
        raise ValueError(f"--out must be a .npy file; got {args.out!r}")
    if out.exists() and not args.force:
        raise FileExistsError(f"--out {out} exists; pass --force to overwrite it")
    if args.k < 1:
        raise ValueError(f"--k must be a positive integer; got {args.k}")
    tr = open_run(args.run_dir)
    ds = tr.check_dataset(load_dataset(args.data), f"--data {args.data!r}")
    train = None
    if args.method in FITTED_SCORES:
        path = tr.path / "embeddings" / "train.npy"
        train = load_npy(path, "embeddings/train.npy of the run")
    z = tr.embed(ds.x).numpy()
    scores = outlier_scores(z, args.method, tr.prior, train=train, k=args.k)
    atomic_save_npy(out, scores.astype(np.float64))
    print(f"wrote {out} ({len(scores)} {args.method} scores; median {np.median(scores):.4g}, "
          f"max {np.max(scores):.4g})")
    return 0
