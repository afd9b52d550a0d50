"""``infomatch evaluate``: DM battery, linear probe, kNN and run metrics of a run or a .npy file.

A run directory knows its prior and labels: the probes are fitted on its train embeddings and
scored on the held-out ones, the battery runs on the held-out embeddings. A bare ``.npy``
(embeddings in the prior's space) needs ``--prior``; with ``--labels`` the probes use
``--train/--train-labels`` when given, else a seeded stratified 80/20 split of the one array.
Prints a table; ``--json`` writes the full result (atomically; an existing file is kept unless
``--force``, and never one of the inputs or a run's own files).

Example:
    $ infomatch evaluate runs/my-run --json runs/my-run/evaluation.json
    $ infomatch evaluate z.npy --prior laplace --labels y.npy --json eval.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="DM battery and downstream probes of a run or a .npy",
                       description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("source", metavar="RUN_OR_NPY", help="run directory or .npy embeddings (prior space)")
    p.add_argument("--prior", help="prior name (required for a .npy; overrides a run's prior)")
    p.add_argument("--prior-param", dest="prior_params", action="append", default=[], metavar="K=V",
                   help="prior parameter, e.g. df=5 (repeatable)")
    p.add_argument("--labels", help="class labels .npy for a bare .npy")
    p.add_argument("--train", help="training embeddings .npy for the probes (bare .npy only)")
    p.add_argument("--train-labels", dest="train_labels", help="labels of --train")
    p.add_argument("--other", help="held-out 'other' inputs for the outlier AUROC: embeddings .npy (prior space), "
                   "or for a run directory also inputs of the run's shape (any --data format), embedded by the run")
    p.add_argument("--split", choices=("heldout", "train"), default=None,
                   help="run embeddings the battery runs on (default heldout; run directories only)")
    p.add_argument("--seeds", type=int, default=5, help="i.i.d. prior references per statistic (default 5)")
    p.add_argument("--knn-k", dest="knn_k", type=int, default=5, help="neighbours of the kNN probe (default 5)")
    p.add_argument("--max-n", dest="max_n", type=int, help="subsample this many rows for the battery")
    p.add_argument("--seed", type=int, default=0, help="seed of references, splits, subsampling")
    p.add_argument("--json", dest="json_out", metavar="OUT.json", help="write the result as JSON")
    p.add_argument("--force", action="store_true", help="overwrite an existing --json file")


def parse_prior_params(items: list[str]) -> dict[str, Any]:
    """``["df=5", "base=gaussian"]`` -> ``{"df": 5.0, "base": "gaussian"}``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--prior-param must look like KEY=VALUE; got {item!r}")
        try:
            out[key] = float(value)
        except ValueError:
            out[key] = value
    return out


def format_table(result: dict[str, Any]) -> str:
    """The readable summary printed by the command."""
    dm = result["dm"]
    prior = ", ".join(f"{k}={v}" for k, v in dm["prior"].items())
    lines = [f"evaluated: {result.get('source', '')} (n={dm['n']}, d={dm['d']}) against prior {prior}"]

    def num(v: Any, fmt: str = ".4g") -> str:
        width = "".join(ch for ch in fmt.split(".")[0] if ch.isdigit())
        return ("-" if v is None else format(v, fmt)).rjust(int(width) if width else 0)

    if result.get("mi_estimate") is not None or result.get("capacity") is not None:
        lines.append(f"MI estimate {num(result.get('mi_estimate'))} / capacity {num(result.get('capacity'))} nats"
                     f" (InfoNCE ceiling log B = {num(result.get('log_batch_ceiling'))})")
    lines.append(f"linear probe {num(result['linear_probe_accuracy'])}   kNN (k={result.get('knn_k') or '-'}) "
                 f"{num(result['knn_accuracy'])}   outlier AUROC {num(result.get('outlier_auroc'))}")
    lines.append(f"probe protocol: {result.get('probe_protocol')}")
    verdicts = []
    for fam, res in dm["families"].items():
        verdicts.append(f"{fam} {'n/a' if res['pass'] is None else ('pass' if res['pass'] else 'FAIL')}")
    lines.append("DM verdicts: " + " | ".join(verdicts) + f"   overall: {'pass' if dm['pass'] else 'FAIL'}")
    lines.append(f"{'statistic':36s} {'value':>11s} {'reference':>11s} {'ratio':>8s} {'threshold':>11s}  pass")
    for name, s in dm["statistics"].items():
        flag = "-" if s["pass"] is None else ("yes" if s["pass"] else "NO")
        lines.append(f"{name:36s} {num(s['value'], '11.4g')} {num(s['reference'], '11.4g')} "
                     f"{num(s['ratio'], '8.3g')} {num(s['threshold'], '11.4g')}  {flag}")
    for fam, res in dm["families"].items():
        if res["skipped"]:
            lines.append(f"{fam}: {res['skipped']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from .._io import check_output, write_output
    from ..errors import user_input
    from ..metrics.runs import _jsonable, evaluate_arrays, evaluate_run, load_npy

    with user_input():
        src = Path(args.source)
        params = parse_prior_params(args.prior_params)
        if args.seeds < 2:
            raise ValueError(f"--seeds must be at least 2; got {args.seeds}")
        if args.knn_k < 1:
            raise ValueError(f"--knn-k must be a positive integer; got {args.knn_k}")
        if args.max_n is not None and args.max_n < 10:
            raise ValueError(f"--max-n must be at least 10; got {args.max_n}")
        if not src.exists():
            raise FileNotFoundError(f"no run directory or .npy file at {src}")
        inputs = [src] + [Path(v) for v in (args.labels, args.train, args.train_labels, args.other) if v]
        if src.is_dir():
            inputs += [p for p in src.rglob("*") if p.is_file() and p.name != "evaluation.json"]
        if args.json_out:
            if not str(args.json_out).endswith(".json"):
                raise ValueError(f"--json must be a .json file; got {args.json_out!r}")
            check_output(args.json_out, force=args.force, flag="--json", protected=tuple(inputs))
        if src.is_dir():
            for flag, value in (("--labels", args.labels), ("--train", args.train),
                                ("--train-labels", args.train_labels)):
                if value:
                    raise ValueError(f"{flag} applies to a bare .npy; a run directory brings its own embeddings and labels")
            result = evaluate_run(src, prior=args.prior, seeds=args.seeds, knn_k=args.knn_k,
                                  split=args.split or "heldout", max_n=args.max_n, seed=args.seed, **params)
            if args.other:
                result.update(_run_outliers(src, args.other, result, args.knn_k))
        else:
            if src.suffix != ".npy":
                raise ValueError(f"RUN_OR_NPY must be a run directory or a .npy file; got {str(src)!r}")
            if args.split is not None:
                raise ValueError(f"--split applies to a run directory; {src} is a bare .npy (evaluate the array you mean)")
            if not args.prior:
                raise ValueError("--prior is required for a bare .npy (a run directory records its own)")
            if args.train and not args.labels:
                raise ValueError("--train needs --labels (the evaluated array's labels) and --train-labels")
            z = load_npy(src, "embeddings")
            result = {"source": str(src), "kind": "npy", "split": None}
            result.update(evaluate_arrays(
                z, args.prior, labels=load_npy(args.labels, "--labels") if args.labels else None,
                train=load_npy(args.train, "--train") if args.train else None,
                train_labels=load_npy(args.train_labels, "--train-labels") if args.train_labels else None,
                other=load_npy(args.other, "--other") if args.other else None,
                seeds=args.seeds, knn_k=args.knn_k, max_n=args.max_n, seed=args.seed, **params))
            result.update({"mi_estimate": None, "capacity": None, "log_batch_ceiling": None})
    print(format_table(result))
    for method, fig in (result.get("outlier_scores") or {}).items():
        print(f"outlier score {method:12s} AUROC {fig['auroc']:.4f}   FPR at 95 % TPR {fig['fpr_at_95_tpr']:.4f}")
    if args.json_out:
        text = json.dumps(_jsonable(result), indent=2, allow_nan=False) + "\n"
        with user_input():
            write_output(args.json_out, text, force=args.force, flag="--json", protected=tuple(inputs))
        print(f"wrote {args.json_out}")
    return 0


def _run_outliers(run_dir: Path, other: str, result: dict[str, Any], knn_k: int) -> dict[str, Any]:
    """Outlier figures of a run against ``other``: embeddings .npy with the run's d columns, or
    inputs of the run's shape (embedded by the run). Inliers are the embeddings the battery used."""

    from ..data import load_dataset
    from ..decoder import open_run
    from ..metrics.outliers import FITTED_SCORES, SCORES, detection_figures, outlier_scores
    from ..metrics.runs import load_npy, load_run

    tr = open_run(run_dir)
    data = load_run(run_dir)
    inliers = data.heldout if result.get("split") == "heldout" and data.heldout is not None else data.train
    d = tr.config.dim
    z_other = None
    if str(other).endswith(".npy") and Path(other).is_file():
        arr = load_npy(other, "--other")
        if arr.ndim == 2 and arr.shape[1] == d and tr.input_shape != (d,):
            z_other, kind = arr, "embeddings"
    if z_other is None:
        z_other, kind = tr.embed(tr.check_dataset(load_dataset(other), f"--other {other!r}").x).numpy(), "inputs"
    figures = {}
    for method in SCORES:
        train = data.train if method in FITTED_SCORES else None
        s_in = outlier_scores(inliers, method, tr.prior, train=train, k=knn_k)
        s_out = outlier_scores(z_other, method, tr.prior, train=train, k=knn_k)
        figures[method] = detection_figures(s_in, s_out)
    return {"outlier_auroc": figures["density"]["auroc"], "outlier_scores": figures,
            "other": {"source": str(other), "as": kind, "n": int(len(z_other))},
            "outlier_protocol": f"inliers: the run's {result.get('split')} embeddings; knn and mahalanobis fitted "
                                f"on the train embeddings (k = {knn_k})"}
