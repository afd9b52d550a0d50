"""Benchmark: the views' one-warp geometry against kornia.augmentation's RandomCrop + RandomAffine.

Both sides draw the same kinds of parameters (an integer crop offset of a zero-padded image,
rotation, scale, shear) and resample bilinearly with zero padding; the view side is
``make_views(...)`` as training uses it (``RandomWarp``: one ``kornia.geometry.warp_affine``
call per batch, then the additive noise and the clamp), the reference is the kornia
augmentation modules the views used before, followed by the same noise and clamp.
Cases: the ``digits`` preset (8x8, 256 images: one view per training step of the default job)
and the ``mnist`` preset (28x28 -> 24x24, 1,024 images: both views of a 512 batch).

Reported per case and thread count: the median over ``--repeats`` calls (after a warm-up) of
each side and their ratio, measured in alternation in the same process. Run it on a quiet machine.

Example:
    python benchmarks/bench_warp.py --repeats 30 --threads 1 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import kornia.augmentation as K
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infomatch.data import make_views  # noqa: E402
from infomatch.training.hardware import cpu_info  # noqa: E402

CASES = {  # name -> (input shape, batch, preset)
    "digits": ((1, 8, 8), 256, "digits"),
    "mnist": ((1, 28, 28), 1024, "mnist"),
}


def kornia_reference(preset: str, shape: tuple[int, int, int]) -> nn.Module:
    """The same geometry with kornia.augmentation modules (crop, then affine), then noise and clamp."""
    vm = make_views("image", preset, shape)
    cfg = vm.config
    crop = cfg.crop or shape[1:]
    scale = cfg.scale if cfg.scale is not None and cfg.scale != (1.0, 1.0) else None
    geometry = nn.Sequential(K.RandomCrop(crop, padding=cfg.padding or None, p=1.0),
                             K.RandomAffine(degrees=cfg.degrees, scale=scale, shear=cfg.shear or None, p=1.0))

    class Reference(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            v = geometry(x)
            return (v + cfg.noise_std * torch.randn_like(v)).clamp(0.0, 1.0)

    return Reference()


def median_ms(fns: dict[str, object], repeats: int) -> dict[str, float]:
    """Median milliseconds of each zero-argument callable, called in alternation."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t0) * 1000.0)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    cpu = cpu_info()
    print(f"CPU {cpu.model}, torch {torch.__version__}, capability {cpu.capability}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| case | images | threads | views (one warp) ms | kornia RandomCrop + RandomAffine ms | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (shape, batch, preset) in CASES.items():
        x = torch.rand(batch, *shape, generator=torch.Generator().manual_seed(0))
        views = make_views("image", preset, shape, seed=0)
        ref = kornia_reference(preset, shape)
        for threads in args.threads:
            torch.set_num_threads(threads)
            with torch.no_grad():
                ms = median_ms({"views": lambda v=views, x=x: v(x), "kornia": lambda r=ref, x=x: r(x)}, args.repeats)
            print(f"| {name} | {batch} | {threads} | {ms['views']:.2f} | {ms['kornia']:.2f} | "
                  f"{ms['kornia'] / ms['views']:.1f}x |")


if __name__ == "__main__":
    main()
