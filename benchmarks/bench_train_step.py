"""Benchmark: one NINE training step (views + ConvNet + NINE + backward + Adam) on MNIST, CPU.

Every mode is built from the same seed and timed on the same batch, interleaved (one step of
each mode per round, A B C A B C ...), so a change of machine load hits all modes alike; the
ratios are medians of per-round ratios. Modes:

- ``before``:  the step as it was before the throughput changes (NCHW input, ``foreach`` Adam).
- ``fp32``:    the training step now (``--precision 32``): channels_last ConvNet, fused Adam.
- ``auto``:    what ``--precision auto`` (the default) resolves to on this machine.
- ``bf16``:    ``fp32`` under bfloat16 autocast (``--precision bf16``).
- ``compile``: ``fp32`` with ``torch.compile`` of the encoder (``--compile``).
- ``plain``:   ``fp32`` with a plain InfoNCE head on the raw encoder output (same critic, no
  normalization, no noise): ``fp32 / plain`` is the NINE overhead.
- ablations: ``nchw`` (``fp32`` without channels_last), ``foreach`` (``fp32`` without fused
  Adam), ``prefetch`` (``fp32`` with the next batch's views made in a background thread).

Usage:
    python benchmarks/bench_train_step.py --threads 2 --batch 512 --repeats 11 --json step.json
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/bench_train_step.py  # an AVX2-only CPU
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from infomatch._io import atomic_write_text
from infomatch.bounds import make_bound
from infomatch.critics import make_critic
from infomatch.data import load_dataset, make_views
from infomatch.encoders import make_encoder
from infomatch.model import DEFAULT_SEPARABLE, NINE
from infomatch.training.hardware import adam_options, cpu_info, resolve_precision

MNIST = Path(os.environ.get("INFOMATCH_MNIST_DIR", "data/mnist"))  # the MNIST IDX files

#: mode -> (channels_last, fused Adam, bf16 autocast, compile, head, prefetch)
MODES: dict[str, tuple[bool, bool, bool, bool, str, bool]] = {
    "before": (False, False, False, False, "nine", False),
    "fp32": (True, True, False, False, "nine", False),
    "bf16": (True, True, True, False, "nine", False),
    "compile": (True, True, False, True, "nine", False),
    "plain": (True, True, False, False, "plain", False),
    "nchw": (False, True, False, False, "nine", False),
    "foreach": (True, False, False, False, "nine", False),
    "prefetch": (True, True, False, False, "nine", True),
}


class PlainInfoNCE(torch.nn.Module):
    """The same critic and bound as NINE's, on the raw encoder output: no normalization, no noise."""

    def __init__(self, dim: int, sigma: float) -> None:
        super().__init__()
        self.critic = make_critic("separable", dim, **{**DEFAULT_SEPARABLE, "temperature": sigma**2})
        self.bound = make_bound("infonce")

    def forward(self, h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
        return self.bound(self.critic(h1, h2)).loss


def build_step(mode: str, x: torch.Tensor, dim: int = 32, sigma: float = 1.5, lr: float = 1e-3,
               seed: int = 0) -> Callable[[torch.Tensor], torch.Tensor]:
    """A closure running one training step of ``mode`` on a batch; returns the detached loss."""
    channels_last, fused, bf16, compiled, head, prefetch = MODES[mode]
    torch.manual_seed(seed)
    views = make_views("image", "mnist", tuple(x.shape[1:]))
    encoder = make_encoder("convnet", views.output_shape, dim).to(x.dtype)
    encoder.channels_last = channels_last
    nine: torch.nn.Module = NINE(dim=dim, sigma=sigma) if head == "nine" else PlainInfoNCE(dim, sigma)
    nine = nine.to(x.dtype)
    params = [*encoder.parameters(), *nine.parameters()]
    opt = torch.optim.Adam(params, lr=lr, **(adam_options(params) if fused else {}))
    run_encoder = torch.compile(encoder) if compiled else encoder
    pool = concurrent.futures.ThreadPoolExecutor(1) if prefetch else None
    pending: list[concurrent.futures.Future] = []

    def pair(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if pool is None:
            return views.pair(batch)
        if not pending:
            pending.append(pool.submit(views.pair, batch))
        v = pending.pop().result()
        pending.append(pool.submit(views.pair, batch))  # the next step's views, made during this one
        return v

    def step(batch: torch.Tensor) -> torch.Tensor:
        v1, v2 = pair(batch)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            h = run_encoder(torch.cat([v1, v2]))
        h1, h2 = h[: len(batch)].to(batch.dtype), h[len(batch):].to(batch.dtype)
        out = nine(h1, h2)
        loss = out.loss if head == "nine" else out
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    return step


def machine() -> dict[str, object]:
    """CPU model, torch's capability, threads and load: printed next to every timing."""
    return {
        "cpu": cpu_info().to_dict(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
    }


def run(x: torch.Tensor, modes: list[str], repeats: int, warmup: int, dim: int,
        clock: Callable[[], float] = time.perf_counter) -> dict[str, dict[str, object]]:
    """Time the modes interleaved; per mode the step times, warm-up and paired ratios."""
    steps, warm = {}, {}
    for mode in modes:
        steps[mode] = build_step(mode, x, dim)
        t0 = time.perf_counter()
        for _ in range(warmup):
            steps[mode](x)
        warm[mode] = time.perf_counter() - t0
    times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(repeats):
        for mode in modes:
            t0 = clock()
            steps[mode](x)
            times[mode].append(clock() - t0)
    rows: dict[str, dict[str, object]] = {}
    for mode in modes:
        t = times[mode]
        row: dict[str, object] = {"median_ms": 1e3 * statistics.median(t), "min_ms": 1e3 * min(t),
                                  "max_ms": 1e3 * max(t), "warmup_s": warm[mode], "times_s": t}
        for ref in ("before", "fp32"):
            if ref in times:
                row[f"{ref}_over_mode"] = statistics.median(a / b for a, b in zip(times[ref], t, strict=True))
        rows[mode] = row
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps per mode (compilation included)")
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--modes", default="before,fp32,auto,bf16,compile,plain")
    ap.add_argument("--mnist-dir", type=Path, default=Path(os.environ.get("INFOMATCH_MNIST_DIR", MNIST)))
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time, or this process's CPU time (robust to other load with --threads 1)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    auto = resolve_precision("auto", "cpu")
    modes = []
    for name in args.modes.split(","):
        if name not in (*MODES, "auto"):
            ap.error(f"--modes: unknown mode {name!r} (known: auto, {', '.join(MODES)})")
        modes.append(name)
    MODES["auto"] = MODES["bf16" if auto.resolved == "bf16" else "fp32"]
    ds = load_dataset(str(args.mnist_dir))
    x = ds.x[torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[: args.batch]]
    before = machine()
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    rows = run(x, modes, args.repeats, args.warmup, args.dim, clock)
    after = machine()
    cpu = before["cpu"]
    print(f"CPU {cpu['model']}, torch {before['torch']} capability {cpu['capability']}, AVX512-BF16 "
          f"{cpu['avx512_bf16']}, AMX {cpu['amx']}; {args.threads} threads; load average "
          f"{before['load_average'][0]:.2f} before, {after['load_average'][0]:.2f} after")
    print(f"auto resolves to: {auto.resolved} ({auto.reason})")
    print(f"MNIST batch {args.batch}, ConvNet d={args.dim}; median of {args.repeats} interleaved steps per mode; "
          f"{args.clock} clock")
    print(f"{'mode':9s} {'median ms':>10s} {'min':>8s} {'max':>8s} {'warm-up s':>10s} {'before/mode':>12s} {'fp32/mode':>10s}")
    for mode, r in rows.items():
        b = f"{r['before_over_mode']:.2f}x" if "before_over_mode" in r else "-"
        f = f"{r['fp32_over_mode']:.3f}" if "fp32_over_mode" in r else "-"
        print(f"{mode:9s} {r['median_ms']:10.1f} {r['min_ms']:8.1f} {r['max_ms']:8.1f} {r['warmup_s']:10.1f} {b:>12s} {f:>10s}")
    if "plain" in rows and "fp32" in rows:
        print(f"NINE overhead: NINE step / plain InfoNCE step = {rows['plain']['fp32_over_mode']:.3f} (median of paired ratios)")
    if args.json:
        payload = {"machine_before": before, "machine_after": after, "batch": args.batch, "dim": args.dim,
                   "clock": args.clock,
                   "repeats": args.repeats, "auto": auto.to_dict(), "rows": rows}
        atomic_write_text(args.json, json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
