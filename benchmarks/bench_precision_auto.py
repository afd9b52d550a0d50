"""Benchmark: ``infomatch train`` with no precision option vs an explicit ``--precision 32``.

Runs the two commands alternately (A B A B ...) as separate processes on MNIST and reports the
median wall time of each, their ratio, and the start-up precision line of the first run. On a
CPU without bfloat16 units the two must take the same time; to imitate such a CPU on one that
has them, limit torch and oneDNN to AVX2:

    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/bench_precision_auto.py --runs 3

Usage:
    python benchmarks/bench_precision_auto.py --runs 3 --epochs 2 --threads 2 --json auto.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_train_step import MNIST, machine

from infomatch._io import atomic_write_text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mnist-dir", type=Path, default=Path(os.environ.get("INFOMATCH_MNIST_DIR", MNIST)))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    base = [sys.executable, "-m", "infomatch", "train", "--data", str(args.mnist_dir), "--dim", "32", "--sigma", "1.5",
            "--view-fraction", "1", "--batch-size", "512", "--lr", "3e-3", "--epochs", str(args.epochs), "--threads", str(args.threads),
            "--progress", "none"]
    variants = {"default": [], "precision 32": ["--precision", "32"]}
    times: dict[str, list[float]] = {k: [] for k in variants}
    first_lines: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for name, extra in variants.items():
                out = Path(tmp) / f"{name.replace(' ', '_')}-{i}"
                t0 = time.perf_counter()
                proc = subprocess.run([*base, *extra, "--out", str(out)], capture_output=True, text=True)
                times[name].append(time.perf_counter() - t0)
                if proc.returncode != 0:
                    print(proc.stderr, file=sys.stderr)
                    return proc.returncode
                line = next((m for m in proc.stderr.splitlines() if m.startswith("precision:")), "")
                first_lines.setdefault(name, line)
    info = machine()
    ratios = [a / b for a, b in zip(times["default"], times["precision 32"], strict=True)]
    print(f"CPU {info['cpu']['model']}, torch capability {info['cpu']['capability']}, "
          f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA')}, {args.threads} threads, "
          f"load average {info['load_average'][0]:.2f}")
    for name, t in times.items():
        print(f"{name:13s} median {statistics.median(t):7.1f} s  runs {', '.join(f'{x:.1f}' for x in t)}")
        print(f"{'':13s} {first_lines[name]}")
    print(f"default / --precision 32: median of paired ratios {statistics.median(ratios):.3f}, "
          f"ratio of medians {statistics.median(times['default']) / statistics.median(times['precision 32']):.3f}")
    if args.json:
        atomic_write_text(args.json, json.dumps({"machine": info, "epochs": args.epochs, "times_s": times,
                                                 "paired_ratios": ratios, "precision_lines": first_lines},
                                                indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
