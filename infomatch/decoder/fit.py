"""Fit a decoder on frozen representations with Lightning: checkpoints, resume, safetensors.

:func:`fit_decoder` trains on arrays ``(z, x)`` and writes into a folder::

    config.json              the resolved DecoderConfig, input shape, kind and dim
    run.json                 seed, package versions, platform, status
    checkpoints/last.ckpt    Lightning checkpoint of the last finished epoch (resume point)
    checkpoints/best.ckpt    checkpoint with the lowest held-out loss
    decoder.safetensors      final weights (no pickle)
    metrics.json             final training and held-out reconstruction losses
    logs/                    Lightning's CSV log (one row per epoch)

Example:
    >>> import torch, tempfile
    >>> z, x = torch.randn(64, 2), torch.randn(64, 3)
    >>> res = fit_decoder(z, x, z[:16], x[:16], "tabular", DecoderConfig(epochs=2, batch_size=16),
    ...                   tempfile.mkdtemp())  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._checks import check_positive, check_positive_int
from .nets import DeconvDecoder, MLPDecoder

DECODER_FILE = "decoder.safetensors"
# options that may change on resume without making it another decoder
_RESUMABLE = ("epochs", "max_time", "threads")


@dataclass(frozen=True)
class DecoderConfig:
    """Options of decoder training; validated on construction (one-line ``ValueError``).

    Example:
        >>> DecoderConfig(epochs=10).batch_size
        256
        >>> DecoderConfig(epochs=0)
        Traceback (most recent call last):
        ...
        ValueError: epochs must be a positive integer; got 0
    """

    epochs: int = 40
    batch_size: int = 256
    lr: float = 1e-3
    seed: int = 0
    max_time: float | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        check_positive_int("epochs", self.epochs)
        check_positive_int("batch_size", self.batch_size)
        check_positive("lr", self.lr)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer; got {self.seed!r}")
        if self.max_time is not None:
            check_positive("max_time", self.max_time)
        if self.threads is not None:
            check_positive_int("threads", self.threads)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class DecoderResult:
    """What :func:`fit_decoder` returns: the folder, the trained decoder, final metrics."""

    path: Path
    decoder: DeconvDecoder | MLPDecoder
    metrics: dict[str, Any]


def _loader(z: torch.Tensor, x: torch.Tensor, batch_size: int, seed: int | None) -> Any:
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(TensorDataset(z, x), batch_size=batch_size, shuffle=seed is not None, generator=g)


def _check_pairs(name: str, z: torch.Tensor, x: torch.Tensor, dim: int | None = None) -> None:
    if z.ndim != 2 or len(z) != len(x) or len(z) == 0:
        raise ValueError(f"{name}: need as many representations (N, d) as inputs and N > 0; "
                         f"got z {tuple(z.shape)} and x {tuple(x.shape)}")
    if dim is not None and z.shape[1] != dim:
        raise ValueError(f"{name}: representations must have {dim} columns; got {z.shape[1]}")
    if not (torch.isfinite(z).all() and torch.isfinite(x).all()):
        raise ValueError(f"{name}: contains NaN or inf values")


def stored_config(path: str | Path) -> dict[str, Any] | None:
    """The ``config.json`` of a decoder folder, or None when there is none."""
    p = Path(path) / "config.json"
    return json.loads(p.read_text()) if p.is_file() else None


def fit_decoder(z_train: torch.Tensor, x_train: torch.Tensor, z_val: torch.Tensor, x_val: torch.Tensor,
                kind: str, cfg: DecoderConfig, out: str | Path, *, resume: bool = False,
                log: Any = None) -> DecoderResult:
    """Train a decoder ``z -> x`` and fill the folder ``out`` (see the module docstring).

    ``out`` must be new or empty unless ``resume`` (then it must hold a decoder of the same
    config, apart from epochs, max_time and threads, with a ``checkpoints/last.ckpt``).
    """
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from .._io import atomic_write_text
    from ..training.callbacks import AtomicCheckpointIO
    from ..training.checkpoint import save_weights
    from ..training.rundir import environment
    from .module import DecoderModule

    say = log or (lambda msg: None)
    import logging

    for name in ("lightning.pytorch", "lightning.fabric"):  # no start-up banners in the user's terminal
        logging.getLogger(name).setLevel(logging.WARNING)
    z_train, x_train = torch.as_tensor(z_train).float(), torch.as_tensor(x_train).float()
    z_val, x_val = torch.as_tensor(z_val).float(), torch.as_tensor(x_val).float()
    _check_pairs("training pairs", z_train, x_train)
    _check_pairs("held-out pairs", z_val, x_val, dim=z_train.shape[1])
    if x_val.shape[1:] != x_train.shape[1:]:
        raise ValueError(f"held-out inputs have shape {tuple(x_val.shape[1:])}; training inputs {tuple(x_train.shape[1:])}")
    input_shape, dim = tuple(x_train.shape[1:]), int(z_train.shape[1])
    header = {"decoder": cfg.to_dict(), "input_shape": list(input_shape), "kind": kind, "dim": dim}
    out = Path(out)
    last = out / "checkpoints" / "last.ckpt"
    if resume:
        stored = stored_config(out)
        if stored is None:
            raise ValueError(f"--resume: {out} holds no decoder to resume (no config.json)")
        mine = {k: v for k, v in header["decoder"].items() if k not in _RESUMABLE}
        theirs = {k: v for k, v in stored.get("decoder", {}).items() if k not in _RESUMABLE}
        if mine != theirs or {k: stored.get(k) for k in ("input_shape", "kind", "dim")} != \
                {k: header[k] for k in ("input_shape", "kind", "dim")}:
            raise ValueError(f"--resume: {out} holds a decoder with a different config")
        if not last.is_file():
            raise ValueError(f"--resume: {out} has no checkpoint yet ({last} missing)")
        from ..training.checkpoint import load_checkpoint

        load_checkpoint(last)  # a damaged checkpoint fails here, before anything is written
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} already holds a decoder or other files; pass --resume to continue it, "
                              "or remove it first")
    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        atomic_write_text(out / "config.json", json.dumps(header, indent=2, sort_keys=True) + "\n")
        atomic_write_text(out / "run.json", json.dumps({"seed": cfg.seed, "status": "running", "started": time.time(),
                                                        **environment(cfg.threads)}, indent=2, sort_keys=True) + "\n")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = DecoderModule(input_shape, kind, dim, lr=cfg.lr)
    if isinstance(module.decoder, MLPDecoder):
        module.decoder.set_scale(x_train)
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_epochs=cfg.epochs,
        max_time={"seconds": cfg.max_time} if cfg.max_time else None,
        callbacks=[ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor="val_loss", mode="min",
                                   save_last=True, save_top_k=1, enable_version_counter=False)],
        logger=[CSVLogger(out, name="logs")], plugins=[AtomicCheckpointIO()],
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        log_every_n_steps=1, default_root_dir=out,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*Checkpoint directory.*exists and is not empty.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
        trainer.fit(module, _loader(z_train, x_train, min(cfg.batch_size, len(z_train)), cfg.seed),
                    _loader(z_val, x_val, 1024, None), ckpt_path=str(last) if resume else None)

    decoder = module.decoder.cpu().eval()
    metrics = {
        "train_loss": _mean_loss(decoder, z_train, x_train),
        "heldout_loss": _mean_loss(decoder, z_val, x_val),
        "heldout_mse": _mean_mse(decoder, z_val, x_val),
        "loss": "binary cross-entropy (sum over pixels)" if kind == "image" else "squared error on standardized features (sum)",
        "epochs_completed": trainer.current_epoch,
        "optimizer_steps": trainer.global_step,
        "n_train": len(z_train), "n_heldout": len(z_val),
    }
    save_weights(out / DECODER_FILE, decoder.state_dict(), header)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    if resume:  # the stored config keeps the original duration unless this call changed it
        atomic_write_text(out / "config.json", json.dumps(header, indent=2, sort_keys=True) + "\n")
    run = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else {"seed": cfg.seed}
    run.update(status="finished", finished=time.time(), torch_threads=cfg.threads or torch.get_num_threads(),
               **({"resumed": True} if resume else {}))
    atomic_write_text(out / "run.json", json.dumps(run, indent=2, sort_keys=True) + "\n")
    say(f"decoder: {out / DECODER_FILE} (held-out loss {metrics['heldout_loss']:.4g}, "
        f"held-out MSE {metrics['heldout_mse']:.4g})")
    return DecoderResult(out, decoder, metrics)


@torch.no_grad()
def decode(decoder: DeconvDecoder | MLPDecoder, z: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Decoded inputs of representations ``z`` (evaluation mode, in batches, CPU float32)."""
    decoder.eval()
    z = torch.as_tensor(z).float()
    if z.ndim != 2 or z.shape[1] != decoder.dim:
        raise ValueError(f"z must have shape (N, {decoder.dim}); got {tuple(z.shape)}")
    parts = [decoder.to_output(decoder(z[i:i + batch_size])) for i in range(0, len(z), batch_size)]
    return torch.cat(parts) if parts else torch.empty(0, *decoder.input_shape)


@torch.no_grad()
def _mean_loss(decoder: DeconvDecoder | MLPDecoder, z: torch.Tensor, x: torch.Tensor) -> float:
    decoder.eval()
    total = sum(float(decoder.loss(decoder(z[i:i + 1024]), x[i:i + 1024])) * len(z[i:i + 1024])
                for i in range(0, len(z), 1024))
    return total / len(z)


def _mean_mse(decoder: DeconvDecoder | MLPDecoder, z: torch.Tensor, x: torch.Tensor) -> float:
    return float(((decode(decoder, z) - x) ** 2).mean())


def load_decoder(path: str | Path) -> tuple[DeconvDecoder | MLPDecoder, dict[str, Any]]:
    """Rebuild a decoder from a folder written by :func:`fit_decoder` (or its ``.safetensors``)."""
    from ..training.checkpoint import load_weights
    from .nets import make_decoder

    p = Path(path)
    weights = p / DECODER_FILE if p.is_dir() else p
    if not weights.is_file():
        raise FileNotFoundError(f"no decoder at {p} ({weights.name} missing): train one with 'infomatch decoder RUN'")
    state, meta = load_weights(weights)
    try:
        decoder = make_decoder(tuple(meta["input_shape"]), meta["kind"], int(meta["dim"]))
        decoder.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError) as exc:
        raise ValueError(f"decoder file {weights} does not hold a decoder: {str(exc).splitlines()[0]}") from None
    return decoder.eval(), meta
