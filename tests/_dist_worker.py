"""Helper of tests/test_distributed.py: 2-process (gloo, CPU) jobs run as their own subprocess.

``python tests/_dist_worker.py PORT OUTDIR`` spawns 2 ranks with torch.multiprocessing, runs
NINE under DDP for a grid of bounds, critics and priors (losses, MI, gradients, statistics of
two steps), the same with local negatives and statistics (the naive run), and SyncNormalize
(outputs, input gradients and running statistics of three batches), and writes
``OUTDIR/rank{r}.pt``. The 1-process references are computed by the test, in its own process,
from the same builders (imported from this file), so they never touch torch.distributed.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from itertools import product
from pathlib import Path
from typing import Any

import torch
from torch import nn

WORLD = 2
BATCH = 16  # global batch: each rank holds BATCH // WORLD rows
FEATURES, DIM = 5, 3
NINE_CASES = [
    {"bound": b, "critic": c, "prior": p}
    for b, c, p in product(("infonce", "jsd", "dv", "nwj"), ("separable", "concat", "bilinear"), ("gaussian", "uniform"))
]
NORM_CASES = [
    {"mode": "gaussian", "momentum": 0.1},
    {"mode": "gaussian", "momentum": None},
    {"mode": "uniform", "momentum": 0.1},
    {"mode": "gaussian", "momentum": 0.1, "dtype": torch.float32},
]

WHITEN_CASES = [
    {"mode": "gaussian", "momentum": 0.1, "method": "cholesky"},
    {"mode": "gaussian", "momentum": None, "method": "zca"},
    {"mode": "uniform", "momentum": 0.1, "method": "cholesky"},
    {"mode": "gaussian", "momentum": 0.1, "method": "cholesky", "gaussianize": True},
    {"mode": "gaussian", "momentum": 0.1, "method": "cholesky", "gaussianize": True, "radialize": True},
    {"mode": "gaussian", "momentum": 0.1, "method": "cholesky", "gaussianize": True, "radialize": True,
     "final_whiten": True},
    {"mode": "gaussian", "momentum": 0.1, "method": "cholesky", "gaussianize": True, "radialize": True,
     "final_whiten": True, "final_whiten_method": "zca"},
]


class FixedNoise(nn.Module):
    """Adds a given noise tensor (plain attribute: DDP must not broadcast it between ranks)."""

    def __init__(self, noise: torch.Tensor) -> None:
        super().__init__()
        self.fixed = noise

    def forward(self, z: torch.Tensor, generator: Any = None) -> torch.Tensor:
        return z + self.fixed.to(z.dtype)


class Net(nn.Module):
    """Encoder (shared by both views) + NINE; forward returns (loss, mi)."""

    def __init__(self, case: dict[str, Any]) -> None:
        super().__init__()
        from infomatch.model import NINE

        self.encoder = nn.Sequential(nn.Linear(FEATURES, 8), nn.LeakyReLU(0.01), nn.Linear(8, DIM))
        kwargs = {"hidden": 16} if case["critic"] == "concat" else None
        self.nine = NINE(DIM, prior=case["prior"], bound=case["bound"], critic=case["critic"],
                         critic_kwargs=kwargs, bound_kwargs={"alpha": 0.5} if case["bound"] == "dv" else None)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.nine(self.encoder(x1), self.encoder(x2))
        return out.loss, out.mi


def nine_case(i: int) -> tuple[Net, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]:
    """The model (float64) and two global batches ``(x1, x2, noise)`` of case ``i``."""
    case = NINE_CASES[i]
    torch.manual_seed(1000 + i)
    net = Net(case).double()
    g = torch.Generator().manual_seed(i)
    batches = []
    for _ in range(2):
        x1 = torch.randn(BATCH, FEATURES, generator=g, dtype=torch.float64) * 2 + 1
        x2 = x1 + 0.3 * torch.randn(BATCH, FEATURES, generator=g, dtype=torch.float64)
        if case["prior"] == "gaussian":
            noise = torch.randn(BATCH, DIM, generator=g, dtype=torch.float64)
        else:
            noise = (2 * torch.rand(BATCH, DIM, generator=g, dtype=torch.float64) - 1) * 0.5
        batches.append((x1, x2, noise))
    return net, batches


def norm_case(i: int) -> tuple[Any, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A SyncNormalize (float64 unless the case says) and three global batches ``(h, weights)``."""
    from infomatch.distributed import SyncNormalize

    case = NORM_CASES[i]
    dtype = case.get("dtype", torch.float64)
    norm = SyncNormalize(4, mode=case["mode"], momentum=case["momentum"]).to(dtype)
    g = torch.Generator().manual_seed(50 + i)
    batches = []
    for _ in range(3):
        h = torch.randn(2 * BATCH, 4, generator=g, dtype=torch.float64) * 3 + 100.0  # large mean
        batches.append((h.to(dtype), torch.randn(2 * BATCH, 4, generator=g, dtype=torch.float64).to(dtype)))
    return norm, batches


def whiten_case(i: int) -> tuple[Any, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A SyncWhiten (float64) and three global batches ``(h, weights)`` with correlated columns."""
    from infomatch.distributed import SyncWhiten

    case = WHITEN_CASES[i]
    norm = SyncWhiten(4, mode=case["mode"], momentum=case["momentum"], method=case["method"],
                      gaussianize=case.get("gaussianize", False), radialize=case.get("radialize", False),
                      final_whiten=case.get("final_whiten", False),
                      final_whiten_method=case.get("final_whiten_method", "cholesky")).double()
    g = torch.Generator().manual_seed(70 + i)
    mix = torch.randn(4, 4, generator=g, dtype=torch.float64) + 2 * torch.eye(4, dtype=torch.float64)
    batches = []
    for _ in range(3):
        h = torch.randn(2 * BATCH, 4, generator=g, dtype=torch.float64) @ mix + 50.0
        batches.append((h, torch.randn(2 * BATCH, 4, generator=g, dtype=torch.float64)))
    return norm, batches


def run_step(model: nn.Module, net: Net, x1: torch.Tensor, x2: torch.Tensor, noise: torch.Tensor,
             lr: float = 0.1) -> dict[str, Any]:
    """One step: loss, mi and gradients (DDP-averaged when ``model`` is DDP), then SGD."""
    net.nine.noise = FixedNoise(noise)
    net.zero_grad(set_to_none=True)
    loss, mi = model(x1, x2)
    loss.backward()
    grads = {k: p.grad.detach().clone() for k, p in net.named_parameters()}
    with torch.no_grad():
        for p in net.parameters():
            p -= lr * p.grad
    return {"loss": loss.detach(), "mi": mi.detach(), "grads": grads}


def run_nine(net: Net, batches: list, model: nn.Module | None = None, rows: slice = slice(None)) -> dict[str, Any]:
    """Two steps on the given rows of each global batch; statistics of the normalization and DV."""
    model = model or net
    steps = [run_step(model, net, x1[rows], x2[rows], noise[rows]) for x1, x2, noise in batches]
    norm, bound = net.nine.normalize, net.nine.bound
    state = {"running_mean": norm.running_mean.clone(), "running_var": norm.running_var.clone(),
             "num_batches_tracked": int(norm.num_batches_tracked)}
    if hasattr(bound, "log_ema"):
        state["log_ema"] = bound.log_ema.clone()
    return {"steps": steps, "state": state}


def run_norm(norm: Any, batches: list, rows: slice = slice(None),
             buffers: tuple[str, ...] = ("running_mean", "running_var")) -> dict[str, Any]:
    """Three training batches: outputs and input gradients of ``sum(w * out)``; the running
    statistics named in ``buffers`` (``running_cov`` instead of ``running_var`` for a whitening layer)."""
    outs, grads = [], []
    for h, w in batches:
        h = h[rows].clone().requires_grad_(True)
        out = norm(h)
        (w[rows] * out).sum().backward()
        outs.append(out.detach())
        grads.append(h.grad.detach())
    extra = {} if getattr(norm, "marginal", None) is None else {"running_quantiles": norm.marginal.running_quantiles.clone()}
    if getattr(norm, "radial", None) is not None:
        extra["radius_quantiles"] = norm.radial.radius.running_quantiles.clone()
    if getattr(norm, "final", None) is not None:
        extra["final_mean"], extra["final_cov"] = norm.final.running_mean.clone(), norm.final.running_cov.clone()
    return {"outs": outs, "grads": grads, **{name: getattr(norm, name).clone() for name in buffers},
            "num_batches_tracked": int(norm.num_batches_tracked), **extra}


WHITEN_BUFFERS = ("running_mean", "running_cov")


def _rank_main(r: int, port: int, outdir: str) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    from infomatch.distributed import local_only, rank, world_size

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=r, world_size=WORLD,
                            timeout=timedelta(seconds=60))
    try:
        assert (world_size(), rank()) == (WORLD, r)
        rows = slice(r * BATCH // WORLD, (r + 1) * BATCH // WORLD)
        result: dict[str, Any] = {"world_size": world_size(), "rank": rank(), "nine": {}, "normalize": {}}
        for i in range(len(NINE_CASES)):
            net, batches = nine_case(i)
            ddp = DDP(net, forward_sync_buffers=False)  # running statistics must agree on their own
            result["nine"][i] = run_nine(net, batches, ddp, rows)
        # the naive data-parallel run (local negatives, local statistics) must differ
        net, batches = nine_case(0)
        ddp = DDP(net, forward_sync_buffers=False)
        with local_only():
            result["naive"] = run_nine(net, batches[:1], ddp, rows)
        nrows = slice(r * 2 * BATCH // WORLD, (r + 1) * 2 * BATCH // WORLD)
        for i in range(len(NORM_CASES)):
            norm, norm_batches = norm_case(i)
            result["normalize"][i] = run_norm(norm, norm_batches, nrows)
        result["whiten"] = {}
        for i in range(len(WHITEN_CASES)):
            norm, norm_batches = whiten_case(i)
            result["whiten"][i] = run_norm(norm, norm_batches, nrows, WHITEN_BUFFERS)
        torch.save(result, Path(outdir) / f"rank{r}.pt")
    finally:
        dist.destroy_process_group()


def main(argv: list[str]) -> None:
    import torch.multiprocessing as mp

    port, outdir = int(argv[0]), argv[1]
    mp.spawn(_rank_main, args=(port, outdir), nprocs=WORLD, join=True)


if __name__ == "__main__":
    main(sys.argv[1:])
