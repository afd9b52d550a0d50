"""Train a NINE encoder with Lightning and write everything a run directory holds.

Example:
    >>> from infomatch.training import TrainConfig, train  # doctest: +SKIP
    >>> result = train(TrainConfig(epochs=5), "runs/demo")  # doctest: +SKIP
    >>> result.metrics["linear_probe_accuracy"]  # doctest: +SKIP
    0.93
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import atomic_write_text
from .._running import apply_eval_maps
from ..data import ArrayDataset, load_dataset, split_indices
from ..distributed import local_only
from ..errors import InputError, RunBusyError, RunInterrupted, user_input
from ..model import CapacityWarning, capacity_message
from .checkpoint import load_weights, save_weights
from .components import (
    Embedder,
    build_components,
    build_prior,
    describe,
    embed_array,
    recalibrate_normalization,
)
from .config import TrainConfig
from .hardware import measure_bf16_ratio, resolve_precision
from .rundir import RunDir, RunLock, atomic_save_npy, environment


@dataclass
class TrainResult:
    """What :func:`train` returns: the run directory, the trained embedder and final metrics."""

    run_dir: Path
    model: Embedder
    metrics: dict[str, Any]


class RunExistsError(InputError):
    """The output directory already holds a different run (or a run and no ``--resume``)."""


# The widest representation accepted: beyond it the embeddings alone run to gigabytes and no
# batch that fits in memory gives the contrastive bound enough negatives to shape it.
MAX_DIM = 4096
# Inputs beyond this magnitude overflow float32 statistics in the encoder and the normalization.
MAX_ABS_INPUT = 1e8


def prepare_run_dir(cfg: TrainConfig, out: str | Path, *, resume: bool, locked: bool = False) -> RunDir:
    """Check that ``out`` may receive this run; reads only, writes nothing.

    A directory whose run never reached a checkpoint (it failed or was stopped before its first
    epoch ended) may be started again; one that holds a checkpoint needs ``--resume``.
    """
    run = RunDir(out)
    if run.path.exists() and not run.path.is_dir():
        raise RunExistsError(f"--out {run.path} exists and is not a directory")
    holder = run.lock_holder() if run.path.is_dir() and not locked else None
    if holder is not None:
        raise RunBusyError(f"--out {run.path} is in use by another training (pid {holder if holder > 0 else '?'}); "
                           "wait for it to end or choose another --out")
    if resume:
        if not run.is_run():
            raise RunExistsError(f"--resume: {run.path} holds no run to resume (no config.yaml)")
        stored = TrainConfig.from_stored_yaml(run.config)
        cfg = with_stored_fraction(cfg, stored)
        if _resume_key(stored) != _resume_key(cfg.resolved()):
            diff = [k for k, v in stored.to_dict().items() if cfg.resolved().to_dict()[k] != v and k not in _RESUMABLE]
            raise RunExistsError(f"--resume: {run.path} holds a run with a different config (differs in: {', '.join(diff)})")
        if run.status() == "finished":
            done = _epochs_completed(run)
            if done is not None and cfg.epochs <= done:
                raise RunExistsError(f"--resume: {run.path} has finished its {done} epochs; pass a larger --epochs to train it further")
        return run
    if run.entries():
        if run.is_run():
            if _restartable(run):
                return run
            raise RunExistsError(f"--out {run.path} already holds a run; pass --resume to continue it or choose another --out")
        raise RunExistsError(f"--out {run.path} exists and is not empty; choose a new or empty directory")
    return run


def _restartable(run: RunDir) -> bool:
    """A run that holds no trained state: no checkpoint, no weights, not finished."""
    return not run.last_checkpoint.exists() and not run.weights.exists() and run.status() != "finished"


def _epochs_completed(run: RunDir) -> int | None:
    try:
        value = run.read_json("metrics.json").get("epochs_completed")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, (int, float)) else None


# Options that may change on resume (how long, how loud, on what hardware) without making it
# a different run.
_RESUMABLE = {"epochs", "max_time", "progress", "threads", "accelerator", "devices", "num_nodes", "tensorboard"}


def with_stored_fraction(cfg: TrainConfig, stored: TrainConfig) -> TrainConfig:
    """``cfg`` with an unset ``view_fraction`` taken from the run ``stored`` (which records the
    fraction it used), so that continuing or recognising that run does not depend on the views
    preset's default of the day."""
    return cfg.replace(view_fraction=stored.view_fraction) if cfg.view_fraction is None else cfg


def _resume_key(cfg: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in cfg.to_dict().items() if k not in _RESUMABLE}


def _launch_rank(cfg: TrainConfig) -> int:
    """The global rank Lightning gives this process (0 for a 1-process run), known before
    anything is written: a throwaway Trainer with the run's hardware options reads it from the
    launcher's environment (Lightning's own relaunch, torchrun, SLURM)."""
    if cfg.devices * cfg.num_nodes == 1:
        return 0
    import lightning as L

    probe = L.Trainer(accelerator=cfg.accelerator, devices=cfg.devices, num_nodes=cfg.num_nodes, strategy="ddp",
                      logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    return int(probe.global_rank)


def _progress_mode(cfg: TrainConfig) -> str:
    if cfg.progress != "auto":
        return cfg.progress
    return "bar" if sys.stderr.isatty() else "epoch"


def check_hardware(cfg: TrainConfig) -> None:
    """Refuse hardware options this machine cannot honour (before Lightning tries, or hangs)."""
    import importlib.util
    import os

    if cfg.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ValueError(f"accelerator {cfg.accelerator!r}: no CUDA GPU is available here (use --accelerator cpu or auto)")
    if cfg.accelerator == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError("accelerator 'mps': Apple's MPS backend is not available here (use --accelerator cpu or auto)")
    if cfg.num_nodes > 1 and not any(os.environ.get(k) for k in ("WORLD_SIZE", "SLURM_NTASKS", "SLURM_JOB_NUM_NODES")):
        raise ValueError(f"num_nodes {cfg.num_nodes}: a multi-node run must be started on every node by torchrun or "
                         "SLURM (WORLD_SIZE / SLURM_NTASKS are not set); on one machine use --devices")
    if cfg.tensorboard and not any(importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX")):
        raise ValueError("tensorboard: the optional package 'tensorboard' is not installed (pip install tensorboard)")


def check_data(ds: ArrayDataset, cfg: TrainConfig) -> None:
    """Refuse data no encoder can learn from: too few rows, every input identical, huge values."""
    n = len(ds.x)
    if n < 4:
        raise ValueError(f"data {cfg.data!r} has {n} example{'s' if n != 1 else ''}; training needs at least 4 "
                         "(a training batch of 2 and a held-out batch of 2)")
    flat = ds.x.reshape(n, -1)
    if bool((flat.amax(0) == flat.amin(0)).all()):
        raise ValueError(f"data {cfg.data!r}: all {n} inputs are identical; there is nothing to learn")
    peak = float(flat.abs().max())
    if not peak < MAX_ABS_INPUT:
        raise ValueError(f"data {cfg.data!r}: inputs reach |x| = {peak:.3g}; rescale them (e.g. standardize) "
                         f"below {MAX_ABS_INPUT:.0e}")


@dataclass
class RunPlan:
    """Everything a run needs, built and checked in memory before the run directory is touched."""

    cfg: TrainConfig
    run: RunDir
    resume: bool
    dataset: ArrayDataset
    train_idx: np.ndarray
    held_idx: np.ndarray
    module: Any
    info: dict[str, Any]
    lead: bool
    precision: Any = None


def plan_run(cfg: TrainConfig, out: str | Path, *, resume: bool = False,
             dataset: ArrayDataset | None = None) -> RunPlan:
    """Validate everything a run depends on and build its components; writes nothing.

    Config, hardware, the output directory, the data, the split, the views, the encoder, the
    NINE head (prior, critic, bound) and, for ``resume``, the checkpoint and the stored split:
    a run that would fail on any of them fails here, naming the problem, with nothing written.
    With ``resume`` and no checkpoint yet (stopped during its first epoch) the run starts over.
    """
    from .module import NINEModule

    with user_input():
        cfg = cfg.resolved()
        if cfg.dim > MAX_DIM:
            raise ValueError(f"dim must be at most {MAX_DIM}; got {cfg.dim}")
        check_hardware(cfg)
        lead = _launch_rank(cfg) == 0
        run = prepare_run_dir(cfg, out, resume=resume) if lead else RunDir(out)
        ds = dataset if dataset is not None else load_dataset(cfg.data)
        check_data(ds, cfg)
        train_idx, held_idx = split_indices(len(ds), held_out=cfg.held_out, seed=cfg.split_seed)
        if len(held_idx) < 2 or len(train_idx) < cfg.batch_size:
            raise ValueError(
                f"batch_size must not exceed the {len(train_idx)} training examples of {cfg.data!r} "
                f"(held out: {len(held_idx)}, needs at least 2); got {cfg.batch_size}"
            )
        resume = resume and run.last_checkpoint.exists()
        if resume and lead:
            from .checkpoint import load_checkpoint

            ckpt = load_checkpoint(run.last_checkpoint)
            if "state_dict" not in ckpt or "loops" not in ckpt:
                raise ValueError(f"checkpoint {run.last_checkpoint} is not a training checkpoint of infomatch")
            stored_train, stored_held = run.load_split()
            if not (np.array_equal(stored_train, train_idx) and np.array_equal(stored_held, held_idx)):
                raise RunExistsError(f"--resume: the data {cfg.data!r} no longer gives the split stored in {run.path}")
        fraction_source = "given" if cfg.view_fraction is not None else "stored" if resume else "preset"
        if resume:
            cfg = with_stored_fraction(cfg, TrainConfig.from_stored_yaml(run.config))
        import lightning as L

        L.seed_everything(cfg.seed, workers=True, verbose=False)
        module = NINEModule(cfg.to_dict(), ds.input_shape, ds.kind)
        cfg = cfg.replace(view_fraction=module.view_fraction)  # as resolved by the module: config.yaml records it
        info = {**describe(cfg, module.nine, cfg.batch_size), "view_fraction_source": fraction_source}
        precision = resolve_precision(cfg.precision, cfg.accelerator)
    return RunPlan(cfg, run, resume, ds, train_idx, held_idx, module, info, lead, precision)


_SIGINT_SEEN = threading.Event()


@contextlib.contextmanager
def _sigint_stops_run(enabled: bool) -> Iterator[None]:
    """While training, Ctrl-C raises :class:`RunInterrupted` (Lightning's handler would exit 1)."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        _SIGINT_SEEN.set()
        raise RunInterrupted("SIGINT")

    _SIGINT_SEEN.clear()
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def train(cfg: TrainConfig, out: str | Path, *, resume: bool = False, dataset: ArrayDataset | None = None,
          log: Any = None, handle_sigint: bool = False) -> TrainResult:
    """Train on ``cfg.data`` (or ``dataset``) and fill the run directory ``out``.

    Everything is validated first (:func:`plan_run`); only then is ``out`` created and locked
    for the life of the run (a second training into it fails at once). With ``handle_sigint``
    (the CLI), Ctrl-C stops the run, marks it ``interrupted`` and raises
    :class:`~infomatch.errors.RunInterrupted`; its last epoch-end checkpoint stays, and
    ``resume=True`` continues it exactly as the uninterrupted run would have gone on.
    """
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    _quiet_lightning()
    with _sigint_stops_run(handle_sigint):
        try:
            plan = plan_run(cfg, out, resume=resume, dataset=dataset)
        except RunInterrupted:
            raise RunInterrupted(f"before the run started; nothing was written to {out}") from None
        if not plan.lead:
            return _fit(plan, lambda msg: None)
        run = plan.run
        created = not run.path.exists()
        run.path.mkdir(parents=True, exist_ok=True)
        lock = RunLock(run.path)
        try:
            lock.acquire()
            # again, now that no other process can write here
            prepare_run_dir(plan.cfg, run.path, resume=resume, locked=True)
        except InputError:
            lock.release()
            if created:
                _remove_if_empty(run.path)
            raise
        try:
            try:
                _start_files(plan)
                result = _fit(plan, say)
            except BaseException as exc:
                # Lightning's own clean-up after the interrupt can raise in its place (e.g. a
                # data fetcher torn down before its first batch): the signal decides
                if not (isinstance(exc, RunInterrupted) or _SIGINT_SEEN.is_set()):
                    run.update_json("run.json", status="failed", failed=time.time())
                    raise
                run.update_json("run.json", status="interrupted", interrupted=time.time())
                kept = "its last epoch-end checkpoint is kept" if run.last_checkpoint.exists() else \
                    "it had not finished an epoch, so it starts over"
                raise RunInterrupted(f"run {run.path} stopped ({kept}); continue it with: "
                                     f"infomatch train --out {run.path} --resume") from None
        finally:
            lock.release()
    return result


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        (path / ".lock").unlink()
        path.rmdir()


def _start_files(plan: RunPlan) -> None:
    """Write the run's config, split and status (a fresh start), or mark a resumed run running."""
    run, cfg = plan.run, plan.cfg
    if plan.resume:
        # the stored config keeps the original duration unless this call changed it
        atomic_write_text(run.config, cfg.to_yaml())
        run.update_json("run.json", status="running", resumed=time.time(), precision=plan.precision.to_dict(),
                        torch_threads=cfg.threads or torch.get_num_threads())
        return
    atomic_write_text(run.config, cfg.to_yaml())
    run.save_split(plan.train_idx, plan.held_idx, seed=cfg.split_seed, held_out=cfg.held_out)
    for stale in (run.path / "metrics.json", run.metrics_csv):  # from an attempt that never reached a checkpoint
        stale.unlink(missing_ok=True)
    run.write_json("run.json", {"seed": cfg.seed, "status": "running", "started": time.time(),
                                "command": sys.argv, **environment(cfg.threads), "precision": plan.precision.to_dict()})


def _views_line(preset: str, fraction: float, source: str) -> str:
    """The start-up line naming the views preset and the fraction of pairs it augments, and where
    that fraction came from: ``given`` (``--view-fraction``), ``preset`` (its default) or ``stored``
    (an unset fraction on resume takes the resumed run's).

    Example:
        >>> _views_line("digits", 0.25, "preset")
        "views: digits preset, 25% of the pairs augmented (the preset's default; --view-fraction sets it)"
        >>> _views_line("digits", 0.4, "stored")
        'views: digits preset, 40% of the pairs augmented (as stored in the resumed run)'
        >>> _views_line("none", 1.0, "preset")
        'views: none (no augmentation)'
    """
    if preset == "none":
        return "views: none (no augmentation)"
    notes = {"given": "", "preset": " (the preset's default; --view-fraction sets it)",
             "stored": " (as stored in the resumed run)"}
    return f"views: {preset} preset, {100 * fraction:.3g}% of the pairs augmented" + notes[source]


VALIDATE_EVERY_STEPS = 50


def validation_interval(epochs: int, steps_per_epoch: int, target_steps: int = VALIDATE_EVERY_STEPS) -> int:
    """Epochs between validations (held-out MI, checkpoint, ``metrics.csv`` write): about every
    ``target_steps`` optimizer steps, and a divisor of ``epochs`` so that the last epoch is
    always validated and checkpointed. On a small dataset (the bundled digits: 5 steps per
    epoch) validating every epoch would cost a tenth of the run. Runs with a time budget
    (``max_time``) validate every epoch instead.

    Example:
        >>> validation_interval(600, 5), validation_interval(24, 11), validation_interval(80, 15), validation_interval(7, 1)
        (10, 4, 4, 7)
    """
    want = max(1, -(-target_steps // max(1, steps_per_epoch)))
    return max(d for d in range(1, min(want, max(1, epochs)) + 1) if epochs % d == 0)


def _fit(plan: RunPlan, say: Any) -> TrainResult:
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from .callbacks import AtomicCheckpointIO, EpochMetricsCSV, EpochPrinter, RNGState
    from .sampler import batch_loader

    cfg, run, ds, module, info = plan.cfg, plan.run, plan.dataset, plan.module, plan.info
    train_idx, held_idx, precision, lead = plan.train_idx, plan.held_idx, plan.precision, plan.lead
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
        if cfg.devices * cfg.num_nodes > 1:  # else Lightning's DDP launch resets it to cores / processes
            os.environ["OMP_NUM_THREADS"] = str(cfg.threads)
    say(f"precision: {precision.resolved} ({precision.reason})")
    say(_views_line(module.views.preset, module.view_fraction, info["view_fraction_source"]))
    if precision.slow_bf16 and precision.device == "cpu" and lead:
        say(_slow_bf16_warning(measure_bf16_ratio()))
    if not info["capacity_below_ceiling"]:
        say(f"warning: {capacity_message(info['capacity'], cfg.batch_size)}")

    progress = _progress_mode(cfg)
    steps_per_epoch = len(train_idx) // cfg.batch_size
    # a time budget can stop any epoch: validate every epoch so the last figures are fresh
    val_every = 1 if cfg.max_time else validation_interval(cfg.epochs, steps_per_epoch)
    callbacks: list[Any] = [
        ModelCheckpoint(dirpath=run.checkpoints, filename="best", monitor="val_mi", mode="max",
                        save_last=True, save_top_k=1, enable_version_counter=False,
                        every_n_epochs=val_every, save_on_train_epoch_end=True),
        EpochMetricsCSV(run.metrics_csv, write_every=val_every),
        RNGState(),
    ]
    if progress == "epoch":
        callbacks.append(EpochPrinter(every=max(1, cfg.epochs // 10 // val_every) * val_every))
    loggers: list[Any] = [CSVLogger(run.path, name="logs")]
    if cfg.tensorboard:
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(run.path, name="tensorboard"))
    trainer = L.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy="ddp" if cfg.devices * cfg.num_nodes > 1 else "auto",
        precision=precision.lightning,
        max_epochs=cfg.epochs,
        max_time={"seconds": cfg.max_time} if cfg.max_time else None,
        callbacks=callbacks,
        logger=loggers,
        plugins=[AtomicCheckpointIO()],
        enable_progress_bar=progress == "bar",
        enable_model_summary=False,
        num_sanity_val_steps=0,
        check_val_every_n_epoch=val_every,
        log_every_n_steps=max(1, min(50, steps_per_epoch)),
        use_distributed_sampler=False,
        default_root_dir=run.path,
    )
    x_train, x_held = ds.x[torch.as_tensor(train_idx)], ds.x[torch.as_tensor(held_idx)]
    rank, world = trainer.global_rank, trainer.world_size
    if (rank == 0) != plan.lead:  # pragma: no cover - Lightning assigned another rank than the probe
        raise RuntimeError(f"process rank {rank} differs from the rank found before training")
    val_batch = min(cfg.batch_size, len(held_idx)) // world * world
    train_loader = batch_loader(x_train, cfg.batch_size, cfg.seed, rank=rank, world_size=world)
    val_loader = batch_loader(x_held, val_batch, cfg.seed, rank=rank, world_size=world, shuffle=False)
    if cfg.compile:
        module.enable_compile(log=say)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*Checkpoint directory.*exists and is not empty.*")
        # NINE's loss and MI are already global-batch values, identical on every rank
        warnings.filterwarnings("ignore", message=".*when logging on epoch level in distributed setting.*")
        # said once above, in the CLI's words; the model's own warning would repeat it
        warnings.filterwarnings("ignore", category=CapacityWarning)
        trainer.fit(module, train_loader, val_loader, ckpt_path=str(run.last_checkpoint) if plan.resume else None)
    if lead and cfg.compile:
        run.update_json("run.json", compile=module.compile_report())

    if not trainer.is_global_zero:
        return TrainResult(run.path, module.embedder, {})
    model = module.embedder.cpu()
    with local_only():  # rank 0 alone from here (the other ranks have returned): no collectives
        if cfg.recalibrate:
            recalibrate_normalization(model, x_train)
        metrics = finalize(run, cfg, model, ds, train_idx, held_idx, trainer=trainer, info=info)
    say(f"run directory: {run.path}")
    say(f"  checkpoints: {run.checkpoints}/{{last,best}}.ckpt, weights: {run.weights.name}, encoder export: {run.encoder_export.name}")
    say(f"  embeddings:  {run.embeddings}/heldout.npy ({len(held_idx)} x {cfg.dim}), train.npy ({len(train_idx)} x {cfg.dim})")
    summary = (f"  metrics:     {run.path / 'metrics.json'}: MI {_fmt(metrics['mi_estimate'])} / "
               f"capacity {_fmt(metrics['capacity'])} nats")
    if metrics.get("linear_probe_accuracy") is not None:
        summary += f", linear probe {metrics['linear_probe_accuracy']:.3f}"
    say(summary)
    if metrics.get("dm") is not None:
        from .verdict import format_verdict

        say("  " + format_verdict(metrics["dm"]))
    return TrainResult(run.path, model, metrics)


def _slow_bf16_warning(ratio: float) -> str:
    """The one warning for an explicit bf16 on a CPU without bfloat16 units, with the measured ratio."""
    if ratio > 1.0:
        return (f"warning: --precision bf16 without native bfloat16 on this CPU: a bfloat16 convolution measured "
                f"{ratio:.1f}x the float32 time here; --precision auto (the default) or 32 trains faster")
    return (f"note: --precision bf16 without native bfloat16 on this CPU, yet a bfloat16 convolution measured "
            f"{ratio:.2f}x the float32 time here; keeping bf16 as requested")


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def _quiet_lightning() -> None:
    """Keep Lightning's start-up banners (accelerator lines, tips) out of the user's terminal."""
    import logging

    import lightning  # noqa: F401 - its import sets the log levels this function then lowers

    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def finalize(run: RunDir, cfg: TrainConfig, model: Embedder, ds: ArrayDataset, train_idx: np.ndarray,
             held_idx: np.ndarray, *, trainer: Any = None, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write weights, the encoder export, embeddings and final metrics of a trained model."""
    model.eval()
    prior = build_prior(cfg)
    meta = {"config": cfg.to_dict(), "input_shape": list(ds.input_shape), "kind": ds.kind}
    save_weights(run.weights, model.state_dict(), meta)
    export_ok = export_encoder(model, ds.x[:2], run.encoder_export)

    run.embeddings.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for part, idx in (("train", train_idx), ("heldout", held_idx)):
        z = embed_array(model, ds.x[torch.as_tensor(idx)])
        arrays[part] = prior.from_representation(z).numpy().astype(np.float32)
        atomic_save_npy(run.embeddings / f"{part}.npy", arrays[part])
        if ds.labels is not None:
            atomic_save_npy(run.embeddings / f"{part}_labels.npy", ds.labels[torch.as_tensor(idx)].numpy())

    m = trainer.callback_metrics if trainer is not None else {}
    info = info or describe(cfg, model.nine, cfg.batch_size)
    metrics: dict[str, Any] = {
        "mi_estimate": _float(m.get("mi_epoch")),
        "heldout_mi_estimate": _float(m.get("val_mi")),
        "capacity": info["capacity"],
        "matched_mi": info["matched_mi"],
        "log_batch_ceiling": info["log_batch_ceiling"],
        "capacity_below_ceiling": info["capacity_below_ceiling"],
        "epochs_completed": trainer.current_epoch if trainer is not None else None,
        "optimizer_steps": trainer.global_step if trainer is not None else None,
        "recalibrated_normalization": cfg.recalibrate,
        "views": {"preset": model.views.preset, "view_fraction": cfg.view_fraction_for(model.views.preset)},
        "encoder_export": export_ok,
        "linear_probe_accuracy": None,
    }
    if ds.labels is not None:
        from ..metrics.downstream import linear_probe

        y = ds.labels.numpy()
        metrics["linear_probe_accuracy"] = float(
            linear_probe(arrays["train"], y[train_idx], arrays["heldout"], y[held_idx])
        )
    from .verdict import heldout_verdict

    enough = len(held_idx) >= max(10, cfg.dim + 2)  # the battery needs n >= 10 and n > d
    metrics["dm"] = heldout_verdict(arrays["heldout"], prior) if enough else None
    run.write_json("metrics.json", metrics)
    run.update_json("run.json", status="finished", finished=time.time())
    return metrics


def _float(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v.item() if isinstance(v, torch.Tensor) else v)
    return f if math.isfinite(f) else None


def export_encoder(model: Embedder, example: torch.Tensor, path: str | Path) -> bool:
    """Save encoder + normalization (eval mode) with ``torch.export``; plain PyTorch loads it.

    Load it with ``torch.export.load(path).module()(x)``. Returns False (and writes nothing)
    if the model cannot be exported.
    """
    import io

    from .._io import atomic_write_bytes

    model.eval()
    batch = torch.export.Dim("batch", min=1)
    try:
        with torch.no_grad():
            program = torch.export.export(_Clean(model), (example,), dynamic_shapes=({0: batch},))
        buf = io.BytesIO()
        torch.export.save(program, buf)
    except Exception as exc:  # noqa: BLE001 - export support varies by model; the run still succeeds
        warnings.warn(f"encoder export skipped: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", stacklevel=2)
        return False
    atomic_write_bytes(path, buf.getvalue())
    return True


class _Clean(torch.nn.Module):
    """Encoder + evaluation-mode normalization written with plain tensor ops, for export.

    Equal to ``Embedder`` in evaluation mode, without its input validation (which needs
    data-dependent checks that ``torch.export`` cannot trace).
    """

    def __init__(self, model: Embedder) -> None:
        super().__init__()
        views, norm = model.views, model.nine.normalize
        self.encoder = model.encoder
        self.crop: tuple[int, int, int, int] | None = None
        if getattr(views, "kind", "tabular") == "image" and tuple(views.output_shape) != tuple(views.input_shape):
            _, h, w = views.input_shape
            _, ch, cw = views.output_shape
            top, left = (h - ch) // 2, (w - cw) // 2
            self.crop = (top, top + ch, left, left + cw)
        self.register_buffer("mean", norm.running_mean.detach().clone().float())
        if hasattr(norm, "running_cov"):  # whitening: (x - mean) @ W^T with W from the running covariance
            from ..whiten import whitening_matrix

            self.register_buffer("whiten", whitening_matrix(norm.running_cov.detach().double(), norm.method,
                                                            norm.eps).float().T.contiguous())
        else:
            self.register_buffer("inv_std", torch.rsqrt(norm.running_var.detach().float() + norm.eps))
        self.squash = None if norm.mode == "gaussian" else norm.squash
        self.stages = torch.nn.ModuleList(copy.deepcopy(stage).eval() for stage in norm.stages())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.crop is not None:
            t, b, left, r = self.crop
            x = x[..., t:b, left:r]
        centred = self.encoder(x).float() - self.mean
        s = centred @ self.whiten if hasattr(self, "whiten") else centred * self.inv_std
        s = apply_eval_maps(self.stages, s)
        if self.squash == "ndtr":
            s = torch.special.ndtr(s)
        elif self.squash == "sigmoid":
            s = torch.sigmoid(s)
        return s


def load_model(path: str | Path) -> tuple[TrainConfig, Embedder, dict[str, Any]]:
    """Rebuild the trained model of a run directory (or a ``.safetensors`` weights file).

    Returns ``(config, embedder, meta)``. (:func:`infomatch.metrics.load_run` reads a run's
    files for evaluation instead.)

    Example:
        >>> cfg, model, meta = load_model("runs/my-run")  # doctest: +SKIP
        >>> model(x).shape  # doctest: +SKIP
        torch.Size([100, 8])
    """
    p = Path(path)
    weights = p / "model.safetensors" if p.is_dir() else p
    if p.is_dir() and not weights.is_file():
        if (p / "config.yaml").is_file():
            raise FileNotFoundError(f"run {p} has not finished: {weights.name} is missing (resume it with --resume)")
        raise FileNotFoundError(f"{p} is not an infomatch run directory (no config.yaml)")
    state, meta = load_weights(weights)
    cfg = TrainConfig.from_stored(meta["config"])
    views, encoder, nine = build_components(cfg, tuple(meta["input_shape"]), meta["kind"])
    model = Embedder(views, encoder, nine)
    model.load_state_dict(state)
    model.eval()
    return cfg, model, meta



def load_checkpoint_model(ckpt: str | Path) -> tuple[TrainConfig, Embedder, dict[str, Any]]:
    """Rebuild the model from a Lightning checkpoint (loaded with weights_only=True)."""
    from .checkpoint import load_checkpoint

    data = load_checkpoint(ckpt)
    hp = data.get("hyper_parameters") or {}
    if "config" not in hp:
        raise ValueError(f"checkpoint {ckpt} was not written by infomatch (no config in hyper_parameters)")
    cfg = TrainConfig.from_stored(hp["config"])
    views, encoder, nine = build_components(cfg, tuple(hp["input_shape"]), hp["kind"])
    model = Embedder(views, encoder, nine)
    state = {k.removeprefix("embedder."): v for k, v in data["state_dict"].items()}
    model.load_state_dict(state)
    model.eval()
    return cfg, model, {"input_shape": hp["input_shape"], "kind": hp["kind"], "config": hp["config"]}

