"""Peak memory of the concatenation critic on all B x B pairs (forward + backward + InfoNCE).

Each configuration runs in a fresh subprocess and reports the growth of the process's peak
resident set size (``ru_maxrss``) over the baseline after the inputs exist. The child runs with
``MALLOC_MMAP_THRESHOLD_=65536``: glibc otherwise raises its mmap threshold after large frees and
keeps freed chunk buffers in the heap, which inflates the RSS peak without live tensors (we saw
291 MB instead of 140 MB at B = 384). The figure includes ~85 MB of one-off PyTorch/autograd
initialisation. Prints a table and writes JSON (atomically) to
``benchmarks/results/critic_memory.json``.

Usage:
    python benchmarks/bench_critic_memory.py                 # B = 2048, d = 16 and 128
    python benchmarks/bench_critic_memory.py --batch 512 --dims 16
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from infomatch._io import atomic_write_text

CHILD = r"""
import json, resource, sys, time, torch
from infomatch.bounds import infonce
from infomatch.critics import ConcatCritic
torch.set_num_threads(int(sys.argv[4]))
b, d, budget = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
torch.manual_seed(0)
critic = ConcatCritic(d, memory_budget_mb=budget)
a = torch.randn(b, d, requires_grad=True)
z = torch.randn(b, d, requires_grad=True)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
loss = -infonce(critic(a, z))
loss.backward()
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"batch": b, "dim": d, "budget_mb": budget,
                  "rows_per_chunk": critic.rows_per_chunk(b),
                  "peak_increase_mb": (peak - base) / 1024, "peak_rss_mb": peak / 1024,
                  "seconds": elapsed}))
"""


def measure(batch: int, dim: int, budget_mb: float = 256.0, threads: int = 1) -> dict:
    """Run one configuration in a subprocess and return its measurement."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "MALLOC_MMAP_THRESHOLD_": "65536"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(batch), str(dim), str(budget_mb), str(threads)],
        capture_output=True, text=True, check=True, env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--dims", type=int, nargs="+", default=[16, 128])
    parser.add_argument("--budget-mb", type=float, default=256.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "results" / "critic_memory.json")
    args = parser.parse_args()
    rows = []
    print(f"{'B':>6} {'d':>5} {'rows/chunk':>10} {'peak +MB':>10} {'seconds':>9}")
    for dim in args.dims:
        r = measure(args.batch, dim, args.budget_mb, args.threads)
        rows.append(r)
        print(f"{r['batch']:>6} {r['dim']:>5} {r['rows_per_chunk']:>10} "
              f"{r['peak_increase_mb']:>10.1f} {r['seconds']:>9.1f}")
    atomic_write_text(args.out, json.dumps({"results": rows, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
                                            "note": "provisional: measured on a shared, contended machine"}, indent=2))


if __name__ == "__main__":
    main()
