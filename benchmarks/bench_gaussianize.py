"""Cost of the marginal Gaussianization stage in a training step.

Times one forward + backward of :class:`infomatch.gaussianize.Gaussianize` (training mode) at
the digits and MNIST batch shapes, next to the same of :class:`infomatch.whiten.Whiten` it
follows, and reports the median over repeats and their ratio. NINE calls the normalization twice
per step (one call per branch).

Example:
    python benchmarks/bench_gaussianize.py --repeats 50 --threads 1 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from infomatch.gaussianize import Gaussianize
from infomatch.training.hardware import cpu_info
from infomatch.whiten import Whiten


def _median_ms(layer: torch.nn.Module, b: int, d: int, repeats: int) -> float:
    x = torch.randn(b, d, requires_grad=True)
    w = torch.randn(b, d)
    times = []
    for i in range(repeats + 3):
        t = time.perf_counter()
        (layer(x) * w).sum().backward()
        if i >= 3:
            times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    cpu = cpu_info()
    print(f"CPU {cpu.model}, torch {torch.__version__}, capability {cpu.capability}, float32")
    print("| shape (B, d) | threads | whiten ms | gaussianize ms | ratio |")
    print("|---|---:|---:|---:|---:|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for b, d in ((256, 8), (512, 16)):
            wh = _median_ms(Whiten(d), b, d, args.repeats)
            ga = _median_ms(Gaussianize(d), b, d, args.repeats)
            print(f"| ({b}, {d}) | {threads} | {wh:.2f} | {ga:.2f} | {ga / wh:.1f} |")


if __name__ == "__main__":
    main()
