"""The Lightning module: two views, one encoder pass, the NINE head.

Example:
    >>> from infomatch.training.config import TrainConfig
    >>> m = NINEModule(TrainConfig(dim=8).to_dict(), (1, 8, 8), "image")
    >>> sum(p.numel() for p in m.parameters()) > 0
    True
"""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch

from ..distributed import cross_scores, global_bound
from ..methods import make_objective
from .components import Embedder, build_components
from .config import TrainConfig


class NINEModule(L.LightningModule):
    """Trains ``encoder`` + ``NINE`` on pairs of views of each batch."""

    def __init__(self, config: dict[str, Any], input_shape: tuple[int, ...] | list[int], kind: str) -> None:
        super().__init__()
        self.save_hyperparameters({"config": dict(config), "input_shape": list(input_shape), "kind": kind})
        self.cfg = TrainConfig.from_dict(dict(config))
        views, encoder, nine = build_components(self.cfg, tuple(input_shape), kind)
        self.embedder = Embedder(views, encoder, nine)
        # None for NINE (the default path below); otherwise the method's objective module
        self.objective = make_objective(self.cfg.method, self.cfg.dim, **self.cfg.method_params)
        self._t0: float | None = None
        self._seen = 0

    # convenient handles
    @property
    def views(self) -> torch.nn.Module:
        return self.embedder.views

    @property
    def encoder(self) -> torch.nn.Module:
        return self.embedder.encoder

    @property
    def nine(self) -> Any:
        return self.embedder.nine

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Clean representation f(X) (no noise)."""
        return self.embedder(x)

    def enable_compile(self) -> None:
        """Run the encoder through ``torch.compile`` in training (weights and state dict unchanged)."""
        object.__setattr__(self, "_compiled_encoder", torch.compile(self.encoder))

    def _encode_pair(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v1, v2 = self.views.pair(x)
        encoder = self.__dict__.get("_compiled_encoder") if self.training else None
        h = (encoder if encoder is not None else self.encoder)(torch.cat([v1, v2]))
        return h[: len(x)], h[len(x):]

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        h1, h2 = self._encode_pair(batch)
        if self.objective is None:
            out = self.nine(h1.float(), h2.float())
        else:
            out = self.objective(self.nine, h1.float(), h2.float())
            for name, value in out.terms.items():
                self.log(name, value, on_step=False, on_epoch=True)
        self._seen += len(batch) * self.trainer.world_size
        elapsed = time.perf_counter() - (self._t0 or time.perf_counter())
        self.log("loss", out.loss.detach(), prog_bar=True, on_step=True, on_epoch=True)
        self.log("mi", out.mi, prog_bar=True, on_step=True, on_epoch=True)
        self.log("capacity", float(out.capacity), prog_bar=True, on_step=False, on_epoch=True)
        if elapsed > 0:
            self.log("ex_per_s", self._seen / elapsed, prog_bar=True, on_step=True, on_epoch=False)
        return out.loss

    def setup(self, stage: str) -> None:
        """With several processes, give ranks > 0 their own random stream (rank 0 keeps the
        seeded one): the noise and the augmentations must be independent across the slices of
        a global batch, while ``seed_everything`` seeds every rank identically."""
        if self.trainer.world_size > 1 and self.trainer.global_rank > 0:
            import numpy as np

            seed = int(np.random.SeedSequence([self.cfg.seed, self.trainer.global_rank]).generate_state(1)[0])
            torch.manual_seed(seed)

    def on_train_epoch_start(self) -> None:
        self._t0, self._seen = time.perf_counter(), 0

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        """Held-out MI estimate: running statistics, noise injected as in training; with several
        processes the rows are scored against all ranks' columns, so ``val_mi`` is the estimate
        of the global batch (identical on every rank)."""
        h1, h2 = self._encode_pair(batch)
        nine = self.nine
        z1 = nine.representation(h1.float())
        z2 = nine.representation(h2.float())
        with _train_mode(nine.noise):
            z2 = nine.noise(z2)
        scores, offset = cross_scores(nine.critic, z1, z2)
        mi = global_bound(nine.bound, scores, offset).mi
        self.log("val_mi", mi, prog_bar=False, on_step=False, on_epoch=True, sync_dist=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store torch's random state (noise, views), so a resumed 1-process run continues the same draws."""
        checkpoint["torch_rng_state"] = torch.get_rng_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("torch_rng_state")
        if isinstance(state, torch.Tensor):
            self._resume_rng = state

    def on_train_start(self) -> None:
        # restored here, after Lightning has seeded and loaded everything it needs
        state = self.__dict__.pop("_resume_rng", None)
        # one process only: the checkpoint holds rank 0's state, and ranks must keep distinct streams
        if state is not None and self.trainer.world_size == 1:
            torch.set_rng_state(state)
            # an uninterrupted run draws the DataLoader's base seed from this state when it opens
            # the next epoch's iterator; on resume Lightning opened it before this hook
            torch.empty((), dtype=torch.int64).random_()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)


class _train_mode:
    """Temporarily put a module in training mode."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module, self.was = module, module.training

    def __enter__(self) -> None:
        self.module.train()

    def __exit__(self, *exc: object) -> None:
        self.module.train(self.was)
