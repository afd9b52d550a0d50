"""Check: the throughput changes leave the loss curve unchanged (float64, 50 steps, MNIST).

Runs the ``before`` and ``fp32`` steps of ``bench_train_step.py`` (same seed, same batch) in
float64 and prints the largest absolute difference of their loss curves.

Usage:
    python benchmarks/check_loss_curve.py --batch 512 --steps 50 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
from bench_train_step import MNIST, build_step, machine

from infomatch._io import atomic_write_text
from infomatch.data import load_dataset


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--modes", default="before,fp32")
    ap.add_argument("--mnist-dir", type=Path, default=Path(os.environ.get("INFOMATCH_MNIST_DIR", MNIST)))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ds = load_dataset(str(args.mnist_dir))
    x = ds.x[torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[: args.batch]].double()
    curves = {}
    for mode in args.modes.split(","):
        step = build_step(mode, x, lr=1e-3)
        curves[mode] = torch.stack([step(x) for _ in range(args.steps)])
    ref, *others = curves
    diffs = {m: float((curves[m] - curves[ref]).abs().max()) for m in others}
    print(f"float64, batch {args.batch}, {args.steps} steps; loss {float(curves[ref][0]):.4f} -> {float(curves[ref][-1]):.4f} ({ref})")
    for m, d in diffs.items():
        print(f"max |loss({m}) - loss({ref})| over {args.steps} steps: {d:.3g}")
    if args.json:
        payload = {"machine": machine(), "batch": args.batch, "steps": args.steps, "max_abs_diff": diffs,
                   "curves": {m: c.tolist() for m, c in curves.items()}}
        atomic_write_text(args.json, json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
