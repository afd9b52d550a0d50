"""Data-parallel NINE: 2 gloo processes on CPU against 1 process on the same global batch.

Every multi-process case runs in its own subprocess (its own session, a free port, a timeout;
the whole process group is killed afterwards and must already be empty): a DDP Trainer or
process group inside the pytest process would relaunch pytest as the second rank.

- ``tests/_dist_worker.py`` spawns 2 ranks (torch.multiprocessing) for NINE under real DDP
  (float64; bounds x critics x priors, two SGD steps) and for SyncNormalize; the 1-process
  references are computed here, in the pytest process, without torch.distributed.
- ``infomatch train --devices 2`` (Lightning DDP) on digits, then ``infomatch embed`` of the
  run in one process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from infomatch.bounds import make_bound
from infomatch.distributed import (
    SyncNormalize,
    convert_sync_normalize,
    cross_scores,
    gather,
    global_batch_stats,
    global_bound,
    local_only,
    rank,
    world_size,
)
from infomatch.model import NINE
from infomatch.normalize import Normalize
from infomatch.training.rundir import RunDir

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("_dist_worker", HERE / "_dist_worker.py")
assert _spec is not None and _spec.loader is not None
worker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(worker)

TOL64 = 1e-5  # the tolerance in float64 (measured differences are ~1e-15)
_LAUNCH_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "GROUP_RANK", "LOCAL_WORLD_SIZE",
                "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID", "SLURM_NTASKS", "SLURM_PROCID")


# ---------------------------------------------------------------- subprocess plumbing
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _live_members(pgid: int) -> list[str]:
    """Processes of group ``pgid`` that are still alive (zombies excluded)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        state, _ppid, group = text.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            live.append(text.split(")", 1)[0] + ")")
    return live


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LAUNCH_VARS}
    env.update({"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", **extra})
    return env


def run_isolated(cmd: list[str], log: Path, timeout: float, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> str:
    """Run ``cmd`` in a new session; return its output. Fails on a non-zero exit, a timeout, or
    a process of its group still alive after it exits; the group is always killed."""
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env or _clean_env(),
                                cwd=cwd, start_new_session=True)
    leftovers: list[str] = []
    try:
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        # children of a finished job may take a moment to exit: allow 5 s before calling them
        # left behind (they are killed below either way)
        deadline = time.monotonic() + 5.0
        leftovers = _live_members(proc.pid)
        while leftovers and time.monotonic() < deadline:
            time.sleep(0.1)
            leftovers = _live_members(proc.pid)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    text = log.read_text()
    assert rc is not None, f"timed out after {timeout} s: {' '.join(cmd)}\n{text[-3000:]}"
    assert rc == 0, f"exit status {rc}: {' '.join(cmd)}\n{text[-3000:]}"
    assert not leftovers, f"processes left behind by {' '.join(cmd)}: {leftovers}"
    return text


# ---------------------------------------------------------------- one process: nothing changes
def test_helpers_without_process_group() -> None:
    assert (world_size(), rank()) == (1, 0)
    x = torch.randn(3, 2, requires_grad=True)
    assert gather(x) is x
    with local_only():
        assert (world_size(), rank()) == (1, 0)
    h = torch.randn(10, 3, dtype=torch.float64) * 4 + 7
    mean, var, n = global_batch_stats(h)
    assert n == 10
    torch.testing.assert_close(mean, torch.tensor(h.numpy().mean(0)), rtol=0, atol=1e-12)
    torch.testing.assert_close(var, torch.tensor(h.numpy().var(0)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("bad", [torch.tensor(1.0), 3.0])
def test_gather_rejects_input_without_batch_axis(bad: Any) -> None:
    with pytest.raises(ValueError, match="x must"):
        gather(bad)


def test_sync_normalize_rejects_bad_sync() -> None:
    with pytest.raises(ValueError, match="sync must be True or False; got 'yes'"):
        SyncNormalize(3, sync="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["gaussian", "uniform"])
def test_sync_normalize_is_normalize_on_one_process(mode: str) -> None:
    plain, sync = Normalize(4, mode=mode), SyncNormalize(4, mode=mode)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        h = torch.randn(16, 4, generator=g) * 3 + 1
        assert torch.equal(plain(h), sync(h))
    for key, value in plain.state_dict().items():
        assert torch.equal(value, sync.state_dict()[key]), key
    plain.eval(), sync.eval()
    assert torch.equal(plain(h), sync(h))


def test_convert_sync_normalize_keeps_settings_and_state() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), Normalize(3, mode="uniform", squash="sigmoid", momentum=None))
    net(torch.randn(8, 3))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net = convert_sync_normalize(net)
    assert type(net[1]) is SyncNormalize and net[1].squash == "sigmoid" and net[1].momentum is None
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("bound", ["infonce", "jsd", "dv", "nwj"])
@pytest.mark.parametrize("critic", ["separable", "concat"])
def test_nine_one_process_is_critic_then_bound(bound: str, critic: str) -> None:
    """The wiring through cross_scores / global_bound is the plain computation on one process."""
    torch.manual_seed(0)
    nine = NINE(4, bound=bound, critic=critic, critic_kwargs={"hidden": 8} if critic == "concat" else None)
    h1, h2 = torch.randn(12, 4), torch.randn(12, 4)
    out = nine(h1, h2, generator=torch.Generator().manual_seed(3))
    ref_nine = NINE(4, bound=bound, critic=critic, critic_kwargs={"hidden": 8} if critic == "concat" else None)
    ref_nine.load_state_dict(nine.state_dict())
    ref_nine.normalize.reset_running_stats()
    if bound == "dv":
        ref_nine.bound.initialized.fill_(False)
    z = ref_nine.normalize(torch.cat([h1, h2]))
    noisy = ref_nine.noise(z[12:], generator=torch.Generator().manual_seed(3))
    ref = ref_nine.bound(ref_nine.critic(z[:12], noisy))
    assert torch.equal(out.loss, ref.loss) and torch.equal(out.mi, ref.mi)
    scores, offset = cross_scores(nine.critic, z[:12], noisy)
    assert offset == 0 and scores.shape == (12, 12)
    assert torch.equal(global_bound(make_bound("infonce"), scores).mi, make_bound("infonce")(scores).mi)


# ---------------------------------------------------------------- 2 processes vs 1 process
@pytest.fixture(scope="module")
def spawned(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Run tests/_dist_worker.py once (2 gloo ranks) and load both ranks' results."""
    out = tmp_path_factory.mktemp("dist")
    run_isolated([sys.executable, str(HERE / "_dist_worker.py"), str(_free_port()), str(out)],
                 out / "worker.log", timeout=240)
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(worker.WORLD)]


def _max_diffs(ref: dict[str, Any], res: dict[str, Any]) -> dict[str, float]:
    d = {"loss": 0.0, "mi": 0.0, "grad": 0.0}
    for s_ref, s in zip(ref["steps"], res["steps"], strict=True):
        d["loss"] = max(d["loss"], float((s_ref["loss"] - s["loss"]).abs()))
        d["mi"] = max(d["mi"], float((s_ref["mi"] - s["mi"]).abs()))
        assert s_ref["grads"].keys() == s["grads"].keys()
        for k, g in s_ref["grads"].items():
            d["grad"] = max(d["grad"], float((g - s["grads"][k]).abs().max()))
    return d


@pytest.mark.slow
@pytest.mark.parametrize("case", range(len(worker.NINE_CASES)),
                         ids=["-".join(c.values()) for c in worker.NINE_CASES])
def test_two_processes_match_one_process(spawned: list[dict[str, Any]], case: int) -> None:
    """Loss, MI, DDP-averaged parameter gradients (2 steps) and statistics equal 1 process with B."""
    net, batches = worker.nine_case(case)
    ref = worker.run_nine(net, batches)  # one process, global batch of BATCH rows
    assert worker.NINE_CASES[case]["bound"] != "dv" or "log_ema" in ref["state"]
    for r, res in enumerate(spawned):
        assert (res["world_size"], res["rank"]) == (worker.WORLD, r)
        got = res["nine"][case]
        diffs = _max_diffs(ref, got)
        assert max(diffs.values()) < TOL64, (r, diffs)
        for key, value in ref["state"].items():
            assert float((torch.as_tensor(value) - torch.as_tensor(got["state"][key])).abs().max()) < TOL64, key
    # every rank holds the same statistics (not only close to the reference)
    for key in spawned[0]["nine"][case]["state"]:
        a, b = (torch.as_tensor(res["nine"][case]["state"][key]) for res in spawned)
        assert torch.equal(a, b), key


@pytest.mark.slow
def test_naive_data_parallel_differs(spawned: list[dict[str, Any]]) -> None:
    """Local negatives and statistics (what the gather and SyncNormalize fix) miss the reference:
    the comparison above can fail."""
    net, batches = worker.nine_case(0)
    ref = worker.run_nine(net, batches[:1])
    diffs = _max_diffs(ref, spawned[0]["naive"])
    assert diffs["loss"] > 1e-3 and diffs["grad"] > 1e-2, diffs


@pytest.mark.slow
@pytest.mark.parametrize("case", range(len(worker.NORM_CASES)),
                         ids=[f"{c['mode']}-m{c['momentum']}-{str(c.get('dtype', torch.float64))[6:]}"
                              for c in worker.NORM_CASES])
def test_sync_normalize_matches_one_process(spawned: list[dict[str, Any]], case: int) -> None:
    """Outputs, input gradients and running statistics of 3 batches equal 1 process on the
    global batch; the running statistics are identical on both ranks."""
    spec = worker.NORM_CASES[case]
    dtype = spec.get("dtype", torch.float64)
    tol = TOL64 if dtype == torch.float64 else 1e-4
    _, batches = worker.norm_case(case)
    ref = worker.run_norm(Normalize(4, mode=spec["mode"], momentum=spec["momentum"]).to(dtype), batches)
    n = 2 * worker.BATCH // worker.WORLD
    for r, res in enumerate(spawned):
        got = res["normalize"][case]
        for k in range(len(batches)):
            rows = slice(r * n, (r + 1) * n)
            assert float((ref["outs"][k][rows] - got["outs"][k]).abs().max()) < tol
            assert float((ref["grads"][k][rows] - got["grads"][k]).abs().max()) < tol
        # running variance ~9 on inputs of mean 100: compare relative to its size
        assert float((ref["running_mean"] - got["running_mean"]).abs().max()) < tol * 100
        assert float(((ref["running_var"] - got["running_var"]) / ref["running_var"]).abs().max()) < tol
        assert got["num_batches_tracked"] == ref["num_batches_tracked"] == 3
    a, b = (res["normalize"][case] for res in spawned)
    assert torch.equal(a["running_mean"], b["running_mean"]) and torch.equal(a["running_var"], b["running_var"])


# ---------------------------------------------------------------- the CLI: Lightning DDP
@pytest.mark.slow
def test_cli_two_process_training_loads_in_one_process(tmp_path: Path) -> None:
    """``infomatch train --devices 2`` on digits finishes (rank 1 exits cleanly, no process is
    left), rank 0 alone writes the run, and a 1-process ``infomatch embed`` loads it."""
    run = tmp_path / "run"
    cli = [sys.executable, "-m", "infomatch"]
    env = _clean_env(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    text = run_isolated(cli + ["train", "--data", "digits", "--devices", "2", "--epochs", "1", "--batch-size", "128",
                               "--dim", "4", "--threads", "1", "--progress", "none", "--out", str(run)],
                        tmp_path / "train.log", timeout=240, env=env, cwd=tmp_path)
    assert text.count("run directory:") == 1  # only rank 0 reports
    assert not (tmp_path / "runs").exists()  # rank 1 created no directory of its own
    metrics = json.loads((run / "metrics.json").read_text())
    train_idx, held_idx = RunDir(run).load_split()
    assert metrics["optimizer_steps"] == len(train_idx) // 128  # global batches of 128 = 2 x 64
    assert json.loads((run / "run.json").read_text())["status"] == "finished"
    assert (run / "checkpoints" / "last.ckpt").is_file()

    z = tmp_path / "z.npy"
    run_isolated(cli + ["embed", str(run), "--out", str(z)], tmp_path / "embed.log", timeout=120, cwd=tmp_path)
    z_all = np.load(z)
    assert z_all.shape == (len(train_idx) + len(held_idx), 4) and np.isfinite(z_all).all()
    np.testing.assert_allclose(z_all[train_idx], np.load(run / "embeddings" / "train.npy"), atol=1e-5)
    zc = tmp_path / "zc.npy"
    run_isolated(cli + ["embed", str(run), "--checkpoint", "last", "--out", str(zc)], tmp_path / "embed_ckpt.log",
                 timeout=120, cwd=tmp_path)
    assert np.load(zc).shape == z_all.shape and np.isfinite(np.load(zc)).all()


@pytest.mark.parametrize("case", range(len(worker.WHITEN_CASES)),
                         ids=["-".join(str(v) for v in c.values()) for c in worker.WHITEN_CASES])
def test_sync_whiten_matches_one_process(spawned: list[dict[str, Any]], case: int) -> None:
    """Whitening with global-batch mean and covariance (and, with ``gaussianize`` / ``radialize``,
    ranks within the global batch; with ``final_whiten``, the global batch's statistics of their output): outputs, input gradients and running statistics of 3 batches on 2
    processes equal 1 process on the global batch (float64)."""
    from infomatch.whiten import Whiten

    spec = worker.WHITEN_CASES[case]
    _, batches = worker.whiten_case(case)
    ref = worker.run_norm(Whiten(4, mode=spec["mode"], momentum=spec["momentum"], method=spec["method"],
                                 gaussianize=spec.get("gaussianize", False),
                                 radialize=spec.get("radialize", False),
                                 final_whiten=spec.get("final_whiten", False),
                                 final_whiten_method=spec.get("final_whiten_method", "cholesky")).double(),
                          batches, buffers=worker.WHITEN_BUFFERS)
    n = 2 * worker.BATCH // worker.WORLD
    for r, res in enumerate(spawned):
        got = res["whiten"][case]
        for k in range(len(batches)):
            rows = slice(r * n, (r + 1) * n)
            assert float((ref["outs"][k][rows] - got["outs"][k]).abs().max()) < 1e-9
            assert float((ref["grads"][k][rows] - got["grads"][k]).abs().max()) < 1e-9
        assert float((ref["running_mean"] - got["running_mean"]).abs().max()) < 1e-9
        assert float((ref["running_cov"] - got["running_cov"]).abs().max()) < 1e-9
        assert got["num_batches_tracked"] == ref["num_batches_tracked"] == 3
        if spec.get("gaussianize"):  # ranks, gradient and quantiles of the global batch
            assert float((ref["running_quantiles"] - got["running_quantiles"]).abs().max()) < 1e-6
        if spec.get("radialize"):  # the radius is ranked within the global batch too
            assert float((ref["radius_quantiles"] - got["radius_quantiles"]).abs().max()) < 1e-6
        if spec.get("final_whiten"):  # the last whitening uses the global batch's mean and covariance
            assert float((ref["final_cov"] - got["final_cov"]).abs().max()) < 1e-6
            assert float((ref["final_mean"] - got["final_mean"]).abs().max()) < 1e-6
    a, b = (res["whiten"][case] for res in spawned)
    assert torch.equal(a["running_cov"], b["running_cov"])
