"""Ablation of the distribution-matching changes: every row is ``infomatch train`` with the
listed options, several seeds, equal epochs (so equal optimizer steps), held-out battery.

Each run is a real CLI run in its own directory under ``--out``; finished runs are reused, so
an interrupted ablation resumes. The cheap alternative a user would try, post-hoc PCA
whitening of a sigma = 0 run (fit on the training embeddings, applied to held-out), is
computed from the ``plain`` row's embeddings; for the uniform / Laplace priors the whitened
Gaussian is mapped through the normal CDF (and the Laplace inverse CDF).

Example:
    python benchmarks/ablate_matching.py --out runs/ablation --seeds 5 --jobs 2 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

OLD = ["--normalization", "standardize", "--matched-view", "augmented", "--lr-schedule", "constant"]
# the Gaussian rows measured before the rank stages existed run without them, as they were measured
NO_STAGES = ["--no-gaussianize", "--no-radialize"]
MATCHING_VIEWS = ["--view-strength", "0.3"]
FULL_BATCH = ["--batch-size", "1438"]  # the bundled digits' whole training split
WHOLE_SPLIT = [*FULL_BATCH, "--capacity-fraction", "0.7"]  # the matching end's batch and capacity
MATCHING_END = [*MATCHING_VIEWS, *WHOLE_SPLIT]
SELF_WEIGHT = ["--bound-param", "self_weight=0.3"]
# the uniform / Laplace rows measured while the uniform base was their default pin it
UNIFORM_BASE = ["--prior-param", "base=uniform"]
# every row below was measured while the defaults were d = 8 and every pair augmented: they pin them
# (later options win, so a row's own --view-fraction overrides the pinned one)
D8 = ["--dim", "8", "--view-fraction", "1"]
_D8_ROWS: dict[str, list[str]] = {
    "before (standardize, augmented, constant lr)": [*OLD, *NO_STAGES],
    "+ whiten": ["--matched-view", "augmented", "--lr-schedule", "constant", *NO_STAGES],
    "+ clean matched view": ["--normalization", "standardize", "--lr-schedule", "constant", *NO_STAGES],
    "+ cosine lr": ["--normalization", "standardize", "--matched-view", "augmented", *NO_STAGES],
    "default (whiten + clean + cosine)": NO_STAGES,
    "default + symmetric": ["--symmetric", *NO_STAGES],
    "default + queue 1024": ["--queue", "1024", *NO_STAGES],
    "default + noise warm-up 0.3": ["--noise-warmup", "0.3", *NO_STAGES],
    "default, view strength 0.5": ["--view-strength", "0.5", *NO_STAGES],
    "default, capacity 0.35 log B": ["--capacity-fraction", "0.35", *NO_STAGES],
    "default, capacity 0.7 log B": ["--capacity-fraction", "0.7", *NO_STAGES],
    "default + self-weight 0.3": [*SELF_WEIGHT, *NO_STAGES],
    "default + self-weight 0.1": ["--bound-param", "self_weight=0.1", *NO_STAGES],
    "no views": ["--views", "none", *NO_STAGES],
    "no views + self-weight 0.3": ["--views", "none", *SELF_WEIGHT, *NO_STAGES],
    "no views + self-weight 0.1": ["--views", "none", "--bound-param", "self_weight=0.1", *NO_STAGES],
    # uniform-base priors without the marginal stage (their default before it)
    "uniform prior, no marginal stage": ["--prior", "uniform", *UNIFORM_BASE, "--no-gaussianize"],
    "laplace prior, no marginal stage": ["--prior", "laplace", *UNIFORM_BASE, "--no-gaussianize"],
    "plain (sigma 0)": ["--sigma", "0", "--normalization", "standardize", *NO_STAGES],
    "default + gaussianize": ["--gaussianize", "--no-radialize"],
    "uniform prior, default (+ gaussianize)": ["--prior", "uniform", *UNIFORM_BASE],
    "laplace prior, default (+ gaussianize)": ["--prior", "laplace", *UNIFORM_BASE],
    "default + radialize": ["--no-gaussianize", "--radialize"],
    "default (+ gaussianize + radialize)": [],
    "default + final whitening": ["--final-whiten"],
    # the matching end of the dial: weak views, the whole training set as one batch, a higher capacity
    "matching end (view strength 0.3, batch 1438, capacity 0.7 log B)": MATCHING_END,
    "matching end, batch 256": [*MATCHING_VIEWS, "--capacity-fraction", "0.7"],
    "uniform prior, matching end": ["--prior", "uniform", *UNIFORM_BASE, *MATCHING_END],
    "laplace prior, matching end": ["--prior", "laplace", *UNIFORM_BASE, *MATCHING_END],
    # the same priors on the Gaussian base (their default since): N(0, I) through F^-1(Phi(.))
    "uniform prior, Gaussian base": ["--prior", "uniform"],
    "laplace prior, Gaussian base": ["--prior", "laplace"],
    "uniform prior, Gaussian base, matching end": ["--prior", "uniform", *MATCHING_END],
    "laplace prior, Gaussian base, matching end": ["--prior", "laplace", *MATCHING_END],
    # the dial's second axis: only a fraction of the pairs augmented, the others clean in both branches
    "default, view fraction 0.5": ["--view-fraction", "0.5"],
    "default, view fraction 0.25": ["--view-fraction", "0.25"],
    "default, view fraction 0.1": ["--view-fraction", "0.1"],
    "view fraction 0.1, batch 1438, capacity 0.7 log B": ["--view-fraction", "0.1", *WHOLE_SPLIT],
    "view fraction 0.1, batch 1438, capacity 0.7 log B, self-weight 0.3": ["--view-fraction", "0.1", *WHOLE_SPLIT,
                                                                          *SELF_WEIGHT],
    "view fraction 0.05, batch 1438, capacity 0.7 log B": ["--view-fraction", "0.05", *WHOLE_SPLIT],
    "view fraction 0.05, batch 1438, capacity 0.7 log B, self-weight 0.3": ["--view-fraction", "0.05", *WHOLE_SPLIT,
                                                                           *SELF_WEIGHT],
    "plain (sigma 0), matching-end views": ["--sigma", "0", "--normalization", "standardize", *NO_STAGES,
                                            *MATCHING_VIEWS, *FULL_BATCH],
}
# candidates measured both at the digits' defaults and on top of the MNIST command
CANDIDATES: dict[str, list[str]] = {
    "symmetric objective": ["--symmetric"],
    "queue 1024": ["--queue", "1024"],
    "noise warm-up 0.3": ["--noise-warmup", "0.3"],
}
# today's defaults (d = 16, a quarter of the pairs augmented), each prior, and the cheap alternative at
# the same views: the post-hoc rows are computed from the plain row's embeddings
DEFAULT_ROWS: dict[str, list[str]] = {
    "default (d = 16, view fraction 0.25)": [],
    "uniform prior, default (d = 16, view fraction 0.25)": ["--prior", "uniform"],
    "laplace prior, default (d = 16, view fraction 0.25)": ["--prior", "laplace"],
    "plain (sigma 0), default views (d = 16, view fraction 0.25)": ["--sigma", "0", "--normalization", "standardize",
                                                                    *NO_STAGES],
    "d = 16, every pair augmented": ["--view-fraction", "1"],
    "d = 16, view fraction 0.5": ["--view-fraction", "0.5"],
    "d = 16, view fraction 0.1": ["--view-fraction", "0.1"],
    # the critic (default: -|s_a a - s_b b|^2 / (2 t), learned scales and temperature) and the encoder's width
    "critic: cosine, temperature 0.1 (d = 16, view fraction 0.25)": [
        "--critic-param", "similarity=cosine", "--critic-param", "temperature=0.1"],
    "critic: dot product, learned temperature (d = 16, view fraction 0.25)": [
        "--critic-param", "similarity=dot", "--critic-param", "learn_temperature=true"],
    "critic: bilinear (d = 16, view fraction 0.25)": ["--critic", "bilinear"],
    "encoder width 0.5 (d = 16, view fraction 0.25)": ["--encoder-width", "0.5"],
    "encoder width 2 (d = 16, view fraction 0.25)": ["--encoder-width", "2"],
    # equal wall-clock: the epochs scaled by the default row's wall over the row's own at equal steps
    # (500 epochs x 73 s / 142 s and x 73 s / 48 s, measured in the rows above)
    "encoder width 2, equal wall-clock (257 epochs)": ["--encoder-width", "2", "--epochs", "257"],
    "encoder width 0.5, equal wall-clock (760 epochs)": ["--encoder-width", "0.5", "--epochs", "760"],
    # the other candidates, measured at d = 8 before the stages existed, again at today's defaults
    **{f"{name} (d = 16, view fraction 0.25)": opts for name, opts in CANDIDATES.items()},
    # the other DIM bounds in place of InfoNCE (same critic, same advised sigma)
    "bound: JSD (d = 16, view fraction 0.25)": ["--bound", "jsd"],
    "bound: NWJ (d = 16, view fraction 0.25)": ["--bound", "nwj"],
    "bound: DV (d = 16, view fraction 0.25)": ["--bound", "dv"],
}
# MNIST (run with --data pointing at an IDX directory): the documented command and each candidate on top of it
MNIST_COMMAND = ["--dim", "16", "--batch-size", "512", "--epochs", "120", "--capacity-fraction", "0.25",
                 "--final-whiten", "--weight-decay", "2e-3"]
_MNIST_ROWS: dict[str, list[str]] = {
    "MNIST command (weight decay 2e-3)": [],
    **{f"MNIST command + {name}": opts for name, opts in CANDIDATES.items()},
    "MNIST command, per-coordinate standardization": ["--normalization", "standardize"],
    "MNIST command, constant learning rate": ["--lr-schedule", "constant"],
    "MNIST command, bilinear critic": ["--critic", "bilinear"],
    # the cheap alternative: sigma = 0 at the same views and steps; its post-hoc PCA whitening is computed
    "plain (sigma 0), MNIST command": ["--sigma", "0", "--normalization", "standardize", *NO_STAGES,
                                       "--no-final-whiten"],
}
DIGITS_ROWS: dict[str, list[str]] = {**{name: [*D8, *opts] for name, opts in _D8_ROWS.items()}, **DEFAULT_ROWS}
MNIST_ROWS: dict[str, list[str]] = {name: [*MNIST_COMMAND, *opts] for name, opts in _MNIST_ROWS.items()}
ROWS: dict[str, list[str]] = {**DIGITS_ROWS, **MNIST_ROWS}
FAMILIES = ("marginals", "moments", "slices", "joint")


def run_one(name: str, extra: list[str], seed: int, args: argparse.Namespace) -> dict:
    slug = "".join(c if c.isalnum() else "-" for c in name).strip("-")
    out = Path(args.out) / f"{slug}-s{seed}"
    metrics = out / "metrics.json"
    if not metrics.is_file():
        if out.exists():
            subprocess.run(["rm", "-rf", str(out)], check=True)
        cmd = [sys.executable, "-m", "infomatch", "train", "--data", args.data, "--seed", str(seed),
               "--threads", str(args.threads), "--progress", "none", "--out", str(out), *args.common, *extra]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} seed {seed} failed: {proc.stderr.strip().splitlines()[-1:]}")
        (out / "wall_seconds.txt").write_text(f"{time.perf_counter() - t0:.2f}\n")
    return {"row": name, "seed": seed, "dir": str(out)}


def summarize(entry: dict) -> dict:
    from infomatch.metrics.downstream import knn_accuracy

    out = Path(entry["dir"])
    m = json.loads((out / "metrics.json").read_text())
    emb = out / "embeddings"
    ztr, zhe = np.load(emb / "train.npy"), np.load(emb / "heldout.npy")
    ytr, yhe = np.load(emb / "train_labels.npy"), np.load(emb / "heldout_labels.npy")
    dm = m["dm"]
    return {**entry, "probe": m["linear_probe_accuracy"], "knn": float(knn_accuracy(ztr, ytr, zhe, yhe, k=5)),
            "mi_frac": m["mi_estimate"] / m["capacity"] if m["capacity"] not in (0, None) and m["mi_estimate"] is not None
            and np.isfinite(m["capacity"]) else None,
            "families": dm["families"], "ratios": dm["ratios"],
            "wall": float((out / "wall_seconds.txt").read_text())}


def posthoc(entry: dict, prior: str) -> dict:
    """PCA whitening of a plain run fitted on train embeddings, applied to held-out; the row is
    named after the plain row it whitens."""
    from scipy import special, stats
    from sklearn.decomposition import PCA

    from infomatch.metrics.downstream import knn_accuracy, linear_probe
    from infomatch.training.verdict import heldout_verdict

    out = Path(entry["dir"]) / "embeddings"
    ztr, zhe = np.load(out / "train.npy"), np.load(out / "heldout.npy")
    ytr, yhe = np.load(out / "train_labels.npy"), np.load(out / "heldout_labels.npy")
    pca = PCA(whiten=True).fit(ztr)
    gtr, ghe = pca.transform(ztr), pca.transform(zhe)
    if prior == "uniform":
        gtr, ghe = special.ndtr(gtr), special.ndtr(ghe)
    elif prior == "laplace":
        gtr, ghe = stats.laplace.ppf(special.ndtr(gtr)), stats.laplace.ppf(special.ndtr(ghe))
    v = heldout_verdict(ghe, prior)
    source = "plain" if entry["row"] == "plain (sigma 0)" else entry["row"]
    return {"row": f"post-hoc PCA whitening of {source}, {prior}", "seed": entry["seed"],
            "probe": float(linear_probe(gtr, ytr, ghe, yhe)), "knn": float(knn_accuracy(gtr, ytr, ghe, yhe, k=5)),
            "mi_frac": None, "families": v["families"], "ratios": v["ratios"], "wall": entry["wall"]}


def table(results: list[dict]) -> str:
    rows = {}
    for r in results:
        rows.setdefault(r["row"], []).append(r)

    def ms(vals: list[float], fmt: str = ".3f") -> str:
        vals = [v for v in vals if v is not None]
        if not vals:
            return "-"
        return f"{np.mean(vals):{fmt}} ± {np.std(vals):{fmt}}"

    head = ("| row | seeds | " + " | ".join(f"{f} pass" for f in FAMILIES) + " | all four | ks_max ratio | cov ratio |"
            " sliced W2 ratio | HZ ratio | MI / capacity | probe | kNN | wall s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, rs in rows.items():
        n = len(rs)
        fams = [f"{sum(bool(r['families'][f]) for r in rs)}/{n}" for f in FAMILIES]
        allp = f"{sum(all(r['families'][f] for f in FAMILIES) for r in rs)}/{n}"
        rat = [ms([r["ratios"].get(k) for r in rs], ".2f") for k in
               ("marginals.ks_max", "moments.cov_max_abs_dev", "slices.sliced_w2", "joint.hz")]
        lines.append(f"| {name} | {n} | " + " | ".join(fams) + f" | {allp} | " + " | ".join(rat) +
                     f" | {ms([r['mi_frac'] for r in rs], '.2f')} | {ms([r['probe'] for r in rs])} |"
                     f" {ms([r['knn'] for r in rs])} | {ms([r['wall'] for r in rs], '.0f')} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/ablation")
    ap.add_argument("--data", default="digits")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", nargs="*", help="row names to run (default: every digits row; MNIST rows by name)")
    ap.add_argument("common", nargs="*", help="options passed to every run (after --)")
    args = ap.parse_args()
    names = args.rows or list(DIGITS_ROWS)
    tasks = [(n, ROWS[n], s) for n in names for s in range(args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        entries = list(pool.map(lambda t: run_one(*t, args), tasks))
    results = [summarize(e) for e in entries]
    for e in results:
        if e["row"].startswith("plain (sigma 0)"):
            results += [posthoc(e, p) for p in ("gaussian", "uniform", "laplace")]
    from infomatch.training.hardware import cpu_info

    cpu = cpu_info()
    header = (f"data {args.data}, {args.seeds} seeds, {args.jobs} runs at a time x {args.threads} torch thread(s), "
              f"CPU {cpu.model}, torch capability {cpu.capability}, extra options {args.common}")
    text = header + "\n\n" + table(results) + "\n"
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "ablation.md").write_text(text)
    (Path(args.out) / "ablation.json").write_text(json.dumps(results, indent=1))
    print(text)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
