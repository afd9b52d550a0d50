"""Benchmark: view generation vs. an encoder training step on real MNIST batches (CPU).

For each repeat it takes a batch of ``--batch`` MNIST images (28x28, the real files), makes
both views with the ``mnist`` preset (``ViewMaker.pair``: 24x24 crop, small affine, noise 0.2),
and times one encoder step on the two views: forward of the ``2 x batch`` views, backward of a
scalar loss and an Adam update. Reported: the median over ``--repeats`` (after one warm-up) of
the view time, of each encoder's step, their ratio, and the view pipeline stage by stage.

ResNet-18 (CIFAR stem, full resolution throughout) is very slow on 2 CPU threads at batch 512,
so by default it is timed at ``--resnet-batch`` (64) and the time is scaled linearly to
``--batch``; the table marks such rows as extrapolated.

Example:
    python benchmarks/bench_views.py --threads 2 --batch 512 --repeats 7 --json bench_views.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infomatch._io import atomic_write_text  # noqa: E402
from infomatch.data import load_dataset, make_views  # noqa: E402
from infomatch.encoders import make_encoder  # noqa: E402

DEFAULT_MNIST = Path(os.environ.get("INFOMATCH_MNIST_DIR", "data/mnist"))  # the MNIST IDX files


def median_ms(fn, repeats: int) -> tuple[float, list[float]]:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` calls after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times), times


def batches(x: torch.Tensor, size: int, seed: int):
    """Endless random batches of ``size`` rows (a fresh seeded permutation each pass)."""
    g = torch.Generator().manual_seed(seed)
    while True:
        perm = torch.randperm(x.shape[0], generator=g)
        for i in range(0, x.shape[0] - size + 1, size):
            yield x[perm[i:i + size]]


def encoder_step_ms(name: str, shape: tuple[int, ...], batch: int, repeats: int, dim: int) -> tuple[float, list[float]]:
    """Median time of forward + backward + Adam on ``2 * batch`` random view-shaped inputs."""
    torch.manual_seed(0)
    enc = make_encoder(name, shape, dim)
    opt = torch.optim.Adam(enc.parameters(), lr=1e-3)
    views = torch.rand(2 * batch, *shape)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        enc(views).pow(2).mean().backward()
        opt.step()

    return median_ms(step, repeats)


def write_json_atomic(path: Path, obj: dict) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--dim", type=int, default=64, help="encoder output dimension")
    p.add_argument("--encoders", default="convnet,mlp,resnet18")
    p.add_argument("--resnet-batch", type=int, default=64,
                   help="batch at which resnet18 is timed (scaled linearly to --batch)")
    p.add_argument("--resnet-repeats", type=int, default=3)
    p.add_argument("--mnist-dir", default=os.environ.get("INFOMATCH_MNIST_DIR", str(DEFAULT_MNIST)))
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    ds = load_dataset(args.mnist_dir)
    vm = make_views("image", "mnist", ds.input_shape, seed=0)
    stream = batches(ds.x, args.batch, seed=0)

    view_ms, view_all = median_ms(lambda: vm.pair(next(stream)), args.repeats)
    # The same protocol with the crop's offset folded into the affine warp (one resampling).
    vm_affine = make_views("image", "mnist", ds.input_shape, seed=0, crop_mode="affine")
    affine_ms = median_ms(lambda: vm_affine.pair(next(stream)), args.repeats)[0]
    # Views on one thread: under CPU contention, 2-thread kornia calls can slow down severalfold.
    vm_one = make_views("image", "mnist", ds.input_shape, seed=0, num_threads=1)
    one_thread_ms = median_ms(lambda: vm_one.pair(next(stream)), args.repeats)[0]

    # Stage by stage on the 2 x batch input (the same shapes the pair call sees).
    x2 = torch.cat([next(stream), next(stream)])
    stages = {}
    crop, affine = vm.pipeline[0], vm.pipeline[1]
    cropped = crop(x2)
    stages["crop 24x24"] = median_ms(lambda: crop(x2), args.repeats)[0]
    stages["affine"] = median_ms(lambda: affine(cropped), args.repeats)[0]
    stages["noise + clamp"] = median_ms(
        lambda: (cropped + 0.2 * torch.randn_like(cropped)).clamp(0, 1), args.repeats)[0]

    rows = []
    for name in [e.strip() for e in args.encoders.split(",") if e.strip()]:
        if name == "resnet18" and args.resnet_batch < args.batch:
            ms, _ = encoder_step_ms(name, vm.output_shape, args.resnet_batch, args.resnet_repeats, args.dim)
            ms, note = ms * args.batch / args.resnet_batch, f"timed at batch {args.resnet_batch}, x{args.batch / args.resnet_batch:g}"
        else:
            ms, _ = encoder_step_ms(name, vm.output_shape, args.batch, args.repeats, args.dim)
            note = "measured"
        rows.append({"encoder": name, "step_ms": ms, "views_over_step": view_ms / ms, "note": note})

    result = {
        "batch": args.batch, "threads": args.threads, "repeats": args.repeats,
        "input": f"MNIST {tuple(ds.input_shape)} -> views {vm.output_shape}",
        "views_ms": view_ms, "views_all_ms": view_all, "views_affine_crop_ms": affine_ms,
        "views_one_thread_ms": one_thread_ms, "stages_ms": stages, "encoders": rows,
        "torch": torch.__version__, "python": platform.python_version(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }

    print(f"MNIST batch {args.batch}, {args.threads} threads, median of {args.repeats} "
          f"(load average {result['load_average'][0]:.2f})" if result["load_average"] else "")
    print(f"views (both, mnist preset): {view_ms:8.1f} ms")
    print(f"  variant crop_mode=affine   {affine_ms:8.1f} ms")
    print(f"  variant 1 thread           {one_thread_ms:8.1f} ms")
    for k, v in stages.items():
        print(f"  stage {k:<14} {v:8.1f} ms  (2 x batch)")
    print(f"{'encoder':<10} {'fwd+bwd+Adam ms':>16} {'views / step':>13}  note")
    for r in rows:
        print(f"{r['encoder']:<10} {r['step_ms']:16.1f} {100 * r['views_over_step']:12.1f}%  {r['note']}")
    if args.json is not None:
        write_json_atomic(args.json, result)
        print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
