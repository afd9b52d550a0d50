"""Train a NINE encoder with Lightning and write everything a run directory holds.

Example:
    >>> from infomatch.training import TrainConfig, train  # doctest: +SKIP
    >>> result = train(TrainConfig(epochs=5), "runs/demo")  # doctest: +SKIP
    >>> result.metrics["linear_probe_accuracy"]  # doctest: +SKIP
    0.93
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import atomic_write_text
from ..data import ArrayDataset, load_dataset, split_indices
from ..distributed import local_only
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
from .rundir import RunDir, atomic_save_npy, environment


@dataclass
class TrainResult:
    """What :func:`train` returns: the run directory, the trained embedder and final metrics."""

    run_dir: Path
    model: Embedder
    metrics: dict[str, Any]


class RunExistsError(ValueError):
    """The output directory already holds a different run (or a run and no ``--resume``)."""


def prepare_run_dir(cfg: TrainConfig, out: str | Path, *, resume: bool) -> RunDir:
    """Check that ``out`` may receive this run; never modifies an existing run on failure."""
    run = RunDir(out)
    if run.path.exists() and not run.path.is_dir():
        raise RunExistsError(f"--out {run.path} exists and is not a directory")
    if resume:
        if not run.is_run():
            raise RunExistsError(f"--resume: {run.path} holds no run to resume (no config.yaml)")
        stored = TrainConfig.from_yaml(run.config)
        if _resume_key(stored) != _resume_key(cfg.resolved()):
            diff = [k for k, v in stored.to_dict().items() if cfg.resolved().to_dict()[k] != v and k not in _RESUMABLE]
            raise RunExistsError(f"--resume: {run.path} holds a run with a different config (differs in: {', '.join(diff)})")
        if not run.last_checkpoint.is_file():
            raise RunExistsError(f"--resume: {run.path} has no checkpoint yet ({run.last_checkpoint} missing)")
        return run
    if run.path.is_dir() and any(run.path.iterdir()):
        if run.is_run():
            raise RunExistsError(f"--out {run.path} already holds a run; pass --resume to continue it or choose another --out")
        raise RunExistsError(f"--out {run.path} exists and is not empty; choose a new or empty directory")
    return run


# Options that may change on resume (how long, how loud, on what hardware) without making it
# a different run.
_RESUMABLE = {"epochs", "max_time", "progress", "threads", "accelerator", "devices", "num_nodes", "tensorboard"}


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


def train(cfg: TrainConfig, out: str | Path, *, resume: bool = False, dataset: ArrayDataset | None = None,
          log: Any = None) -> TrainResult:
    """Train on ``cfg.data`` (or ``dataset``) and fill the run directory ``out``."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from .callbacks import AtomicCheckpointIO, EpochMetricsCSV, EpochPrinter
    from .module import NINEModule
    from .sampler import batch_loader

    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    _quiet_lightning()
    cfg = cfg.resolved()
    # several processes: only rank 0 checks and writes the run directory (Lightning relaunches
    # this command for the other local ranks; torchrun and SLURM start every rank with it)
    lead = _launch_rank(cfg) == 0
    if not lead:
        say = lambda msg: None  # noqa: E731
    run = prepare_run_dir(cfg, out, resume=resume) if lead else RunDir(out)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ds = dataset if dataset is not None else load_dataset(cfg.data)
    train_idx, held_idx = split_indices(len(ds), held_out=cfg.held_out, seed=cfg.split_seed)
    if len(held_idx) < 2 or len(train_idx) < cfg.batch_size:
        raise ValueError(
            f"batch_size must not exceed the {len(train_idx)} training examples of {cfg.data!r} "
            f"(held out: {len(held_idx)}); got {cfg.batch_size}"
        )
    # printed once the input is known to be good, so a user error stays a one-line message
    precision = resolve_precision(cfg.precision, cfg.accelerator)
    say(f"precision: {precision.resolved} ({precision.reason})")
    if precision.slow_bf16 and precision.device == "cpu" and lead:
        say(_slow_bf16_warning(measure_bf16_ratio()))

    if lead:
        run.path.mkdir(parents=True, exist_ok=True)
    if lead and not resume:
        atomic_write_text(run.config, cfg.to_yaml())
        run.save_split(train_idx, held_idx, seed=cfg.split_seed, held_out=cfg.held_out)
        run.write_json("run.json", {"seed": cfg.seed, "status": "running", "started": time.time(),
                                    "command": sys.argv, **environment(), "precision": precision.to_dict()})
    elif lead:
        stored_train, stored_held = run.load_split()
        if not (np.array_equal(stored_train, train_idx) and np.array_equal(stored_held, held_idx)):
            raise RunExistsError(f"--resume: the data {cfg.data!r} no longer gives the split stored in {run.path}")
        # the stored config keeps the original duration unless this call changed it
        atomic_write_text(run.config, cfg.to_yaml())
        run.update_json("run.json", status="running", resumed=time.time(), precision=precision.to_dict())

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = NINEModule(cfg.to_dict(), ds.input_shape, ds.kind)
    info = describe(cfg, module.nine, cfg.batch_size)
    if not info["capacity_below_ceiling"]:
        say(f"warning: capacity {info['capacity']:.3f} nats >= log(batch_size) = {info['log_batch_ceiling']:.3f}: "
            "the bound cannot pull the representation towards the prior; raise sigma/eps, lower dim or raise batch_size")

    progress = _progress_mode(cfg)
    callbacks: list[Any] = [
        ModelCheckpoint(dirpath=run.checkpoints, filename="best", monitor="val_mi", mode="max",
                        save_last=True, save_top_k=1, enable_version_counter=False),
        EpochMetricsCSV(run.metrics_csv),
    ]
    if progress == "epoch":
        callbacks.append(EpochPrinter(every=max(1, cfg.epochs // 10)))
    loggers: list[Any] = [CSVLogger(run.path, name="logs")]
    if cfg.tensorboard:
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(run.path, name="tensorboard"))
    steps_per_epoch = len(train_idx) // cfg.batch_size
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
        log_every_n_steps=max(1, min(50, steps_per_epoch)),
        use_distributed_sampler=False,
        default_root_dir=run.path,
    )
    x_train, x_held = ds.x[torch.as_tensor(train_idx)], ds.x[torch.as_tensor(held_idx)]
    rank, world = trainer.global_rank, trainer.world_size
    if (rank == 0) != lead:  # pragma: no cover - Lightning assigned another rank than the probe
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
        trainer.fit(module, train_loader, val_loader, ckpt_path=str(run.last_checkpoint) if resume else None)
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
    summary = f"  metrics:     {run.path / 'metrics.json'}: MI {metrics['mi_estimate']:.3f} / capacity {metrics['capacity']:.3f} nats"
    if metrics.get("linear_probe_accuracy") is not None:
        summary += f", linear probe {metrics['linear_probe_accuracy']:.3f}"
    say(summary)
    return TrainResult(run.path, model, metrics)


def _slow_bf16_warning(ratio: float) -> str:
    """The one warning for an explicit bf16 on a CPU without bfloat16 units, with the measured ratio."""
    if ratio > 1.0:
        return (f"warning: --precision bf16 without native bfloat16 on this CPU: a bfloat16 convolution measured "
                f"{ratio:.1f}x the float32 time here; --precision auto (the default) or 32 trains faster")
    return (f"note: --precision bf16 without native bfloat16 on this CPU, yet a bfloat16 convolution measured "
            f"{ratio:.2f}x the float32 time here; keeping bf16 as requested")


def _quiet_lightning() -> None:
    """Keep Lightning's start-up banners (accelerator lines, tips) out of the user's terminal."""
    import logging

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
        "encoder_export": export_ok,
        "linear_probe_accuracy": None,
    }
    if ds.labels is not None:
        from ..metrics.downstream import linear_probe

        y = ds.labels.numpy()
        metrics["linear_probe_accuracy"] = float(
            linear_probe(arrays["train"], y[train_idx], arrays["heldout"], y[held_idx])
        )
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
        self.register_buffer("inv_std", torch.rsqrt(norm.running_var.detach().float() + norm.eps))
        self.squash = None if norm.mode == "gaussian" else norm.squash

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.crop is not None:
            t, b, left, r = self.crop
            x = x[..., t:b, left:r]
        s = (self.encoder(x).float() - self.mean) * self.inv_std
        if self.squash == "ndtr":
            s = torch.special.ndtr(s)
        elif self.squash == "sigmoid":
            s = torch.sigmoid(s)
        return s


def load_run(path: str | Path) -> tuple[TrainConfig, Embedder, dict[str, Any]]:
    """Rebuild the trained model of a run directory (or a ``.safetensors`` weights file)."""
    p = Path(path)
    weights = p / "model.safetensors" if p.is_dir() else p
    if p.is_dir() and not weights.is_file():
        if (p / "config.yaml").is_file():
            raise FileNotFoundError(f"run {p} has not finished: {weights.name} is missing (resume it with --resume)")
        raise FileNotFoundError(f"{p} is not an infomatch run directory (no config.yaml)")
    state, meta = load_weights(weights)
    cfg = TrainConfig.from_dict(meta["config"])
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
    cfg = TrainConfig.from_dict(hp["config"])
    views, encoder, nine = build_components(cfg, tuple(hp["input_shape"]), hp["kind"])
    model = Embedder(views, encoder, nine)
    state = {k.removeprefix("embedder."): v for k, v in data["state_dict"].items()}
    model.load_state_dict(state)
    model.eval()
    return cfg, model, {"input_shape": hp["input_shape"], "kind": hp["kind"], "config": hp["config"]}

