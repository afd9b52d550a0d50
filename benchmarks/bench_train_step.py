"""Benchmark: one NINE training step (views + ConvNet + NINE + backward + Adam) on MNIST, CPU.

Compares float32, bfloat16 autocast and torch.compile of the encoder in one process, on the same
batches, and prints medians and ratios to float32.

Usage:
    python benchmarks/bench_train_step.py --threads 2 --batch 512 --repeats 15 --json step.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from infomatch.data import load_dataset, make_views
from infomatch.encoders import make_encoder
from infomatch.model import NINE

MNIST = Path(os.environ.get("INFOMATCH_MNIST_DIR", "data/mnist"))  # the MNIST IDX files


def _step_fn(encoder, nine, views, opt, bf16: bool):
    def step(x: torch.Tensor) -> None:
        v1, v2 = views.pair(x)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            h = encoder(torch.cat([v1, v2]))
        out = nine(h[: len(x)].float(), h[len(x):].float())
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
    return step


def time_mode(x: torch.Tensor, mode: str, repeats: int, dim: int) -> tuple[list[float], float]:
    torch.manual_seed(0)
    views = make_views("image", "mnist", tuple(x.shape[1:]))
    encoder = make_encoder("convnet", views.output_shape, dim)
    nine = NINE(dim=dim, sigma=1.5)
    opt = torch.optim.Adam([*encoder.parameters(), *nine.parameters()], lr=1e-3)
    run_encoder = torch.compile(encoder) if mode == "compile" else encoder
    step = _step_fn(run_encoder, nine, views, opt, bf16=mode == "bf16")
    t0 = time.perf_counter()
    step(x)  # warm-up (includes compilation for "compile")
    step(x)
    warm = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step(x)
        times.append(time.perf_counter() - t0)
    return times, warm


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--modes", default="fp32,bf16,compile")
    ap.add_argument("--mnist-dir", type=Path, default=Path(os.environ.get("INFOMATCH_MNIST_DIR", MNIST)))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ds = load_dataset(str(args.mnist_dir))
    x = ds.x[torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[: args.batch]]
    rows = {}
    for mode in args.modes.split(","):
        times, warm = time_mode(x, mode, args.repeats, args.dim)
        rows[mode] = {"median_ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times),
                      "max_ms": 1e3 * max(times), "warmup_s": warm}
    base = rows.get("fp32", {}).get("median_ms")
    print(f"MNIST batch {args.batch}, ConvNet d={args.dim}, {args.threads} threads, median of {args.repeats} "
          f"(load average {os.getloadavg()[0]:.2f})")
    print(f"{'mode':8s} {'median ms':>10s} {'min':>8s} {'max':>8s} {'warm-up s':>10s} {'fp32 / mode':>12s}")
    for mode, r in rows.items():
        ratio = f"{base / r['median_ms']:.2f}x" if base else "-"
        print(f"{mode:8s} {r['median_ms']:10.1f} {r['min_ms']:8.1f} {r['max_ms']:8.1f} {r['warmup_s']:10.1f} {ratio:>12s}")
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "batch": args.batch, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
