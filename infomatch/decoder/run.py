"""Decoders of run directories: train one on a run's frozen representation, generate from the
prior, reconstruct given inputs.

The decoder of a run lives in ``RUN/decoder/`` (layout: :mod:`infomatch.decoder.fit`). It is
trained on the run's training split, checked on its held-out split, and maps the representation
in the prior's space (what ``infomatch embed`` writes and what the prior samples) to the input.

Example:
    >>> res = train_run_decoder("runs/my-run", DecoderConfig(epochs=20))  # doctest: +SKIP
    >>> z, x = generate_from_run("runs/my-run", 64, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import ArrayDataset, load_dataset
from ..priors import Prior
from ..training.components import Embedder, build_prior, embed_array
from ..training.config import TrainConfig

# the one import of the training engine's run loader (renaming it is a one-line change here)
from ..training.engine import load_model as _load_trained_run
from .fit import DecoderConfig, DecoderResult, decode, fit_decoder, load_decoder
from .nets import DeconvDecoder, MLPDecoder

DECODER_DIR = "decoder"


@dataclass
class TrainedRun:
    """A finished run: its config, embedder, prior and the input shape / kind it was trained on."""

    path: Path
    config: TrainConfig
    model: Embedder
    prior: Prior
    input_shape: tuple[int, ...]
    kind: str

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Clean representations of inputs ``x`` in the prior's space."""
        x = torch.as_tensor(x).float()
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"inputs have shape {tuple(x.shape[1:])}; the run was trained on {self.input_shape}")
        return self.prior.from_representation(embed_array(self.model, x)).float()

    def check_dataset(self, ds: ArrayDataset, name: str) -> ArrayDataset:
        """``ds`` if its inputs have the run's shape, else a one-line ``ValueError``."""
        if tuple(ds.input_shape) != self.input_shape:
            raise ValueError(f"{name} has inputs of shape {tuple(ds.input_shape)}; the run was trained on "
                             f"{self.input_shape}")
        return ds


def open_run(path: str | Path) -> TrainedRun:
    """Load the trained model of run directory ``path`` (a missing run is a one-line error)."""
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"run directory not found: {p}")
    cfg, model, meta = _load_trained_run(p)
    return TrainedRun(p, cfg, model.eval(), build_prior(cfg), tuple(meta["input_shape"]), meta["kind"])


def decoder_dir(run: str | Path) -> Path:
    return Path(run) / DECODER_DIR


def train_run_decoder(run: str | Path, cfg: DecoderConfig, *, resume: bool = False, data: str | None = None,
                      log: Any = None) -> DecoderResult:
    """Train the decoder of ``run`` on its stored train / held-out split of its data (or ``data``,
    which must have as many rows as the run's data)."""
    from ..training.rundir import RunDir

    tr = open_run(run)
    ds = tr.check_dataset(load_dataset(data or tr.config.data), f"data {data or tr.config.data!r}")
    train_idx, held_idx = RunDir(run).load_split()
    top = int(max(train_idx.max(initial=-1), held_idx.max(initial=-1)))
    if top >= len(ds):
        raise ValueError(f"data {data or tr.config.data!r} has {len(ds)} rows; the run's split needs at least {top + 1}")
    x_train, x_held = ds.x[torch.as_tensor(train_idx)], ds.x[torch.as_tensor(held_idx)]
    if len(x_held) == 0:  # a run without held-out rows: check on the training rows
        x_held = x_train
    return fit_decoder(tr.embed(x_train), x_train, tr.embed(x_held), x_held, tr.kind, cfg, decoder_dir(run),
                       resume=resume, log=log)


def run_decoder(run: str | Path) -> tuple[TrainedRun, DeconvDecoder | MLPDecoder]:
    """The trained run and its decoder; a run without a decoder is a one-line error."""
    tr = open_run(run)
    folder = decoder_dir(run)
    if not (folder / "decoder.safetensors").is_file():
        raise FileNotFoundError(f"run {tr.path} has no decoder ({folder}/decoder.safetensors missing): "
                                f"train one with 'infomatch decoder {tr.path}'")
    decoder, meta = load_decoder(folder)
    if tuple(meta["input_shape"]) != tr.input_shape or int(meta["dim"]) != tr.config.dim:
        raise ValueError(f"decoder in {folder} does not fit run {tr.path} (input shape {meta['input_shape']}, "
                         f"dim {meta['dim']})")
    return tr, decoder


def sample_prior(prior: Prior, n: int, dim: int, seed: int | None = 0) -> torch.Tensor:
    """``n`` seeded draws from ``prior`` in ``dim`` dimensions (float32)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    g = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    return prior.sample(int(n), dim, generator=g).float()


def generate_from_run(run: str | Path, n: int, seed: int | None = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` points z from the run's prior and decode them: ``(z, x)``."""
    tr, decoder = run_decoder(run)
    z = sample_prior(tr.prior, n, tr.config.dim, seed)
    return z, decode(decoder, z)


def reconstruct_with_run(run: str | Path, x: torch.Tensor) -> torch.Tensor:
    """Decoded embeddings of inputs ``x`` (the conditional use: input -> f(x) -> decoder)."""
    tr, decoder = run_decoder(run)
    return decode(decoder, tr.embed(x))
