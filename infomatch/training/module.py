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
from .hardware import CompileTrial, adam_options


class NINEModule(L.LightningModule):
    """Trains ``encoder`` + ``NINE`` on pairs of views of each batch."""

    def __init__(self, config: dict[str, Any], input_shape: tuple[int, ...] | list[int], kind: str) -> None:
        super().__init__()
        cfg = TrainConfig.from_stored(dict(config))
        views, encoder, nine = build_components(cfg, tuple(input_shape), kind)
        # the fraction of pairs augmented made explicit (given, else the views preset's), so the
        # config and the checkpoint's hyperparameters record what the run uses
        self.cfg = cfg.replace(view_fraction=cfg.view_fraction_for(views.preset))
        self.save_hyperparameters({"config": {**dict(config), "view_fraction": self.cfg.view_fraction},
                                   "input_shape": list(input_shape), "kind": kind})
        self.embedder = Embedder(views, encoder, nine)
        # None for NINE (the default path below); otherwise the method's objective module
        self.objective = make_objective(self.cfg.method, self.cfg.dim, **self.cfg.method_params)
        self._t0: float | None = None
        self._seen = 0
        self._epoch_sums: dict[str, torch.Tensor] = {}  # running sums of the logged epoch means
        self._epoch_steps = 0

    # convenient handles
    @property
    def view_fraction(self) -> float:
        """The fraction of each batch's pairs that get augmented views."""
        return float(self.cfg.view_fraction)

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

    def enable_compile(self, trial: bool = True, log: Any = None) -> None:
        """Run the encoder through ``torch.compile`` in training (weights and state dict unchanged).

        With ``trial`` (and on a CPU), the first steps time the compiled and the eager encoder
        alternately (:class:`~infomatch.training.hardware.CompileTrial`) and the slower one is
        dropped; ``log`` receives the one-line note.
        """
        object.__setattr__(self, "_compiled_encoder", torch.compile(self.encoder))
        object.__setattr__(self, "_compile_trial", CompileTrial() if trial else None)
        object.__setattr__(self, "_compile_log", log)

    def compile_report(self) -> dict[str, Any]:
        """What became of ``--compile``: kept or skipped, with the measured step times."""
        trial = self.__dict__.get("_compile_trial")
        if trial is None:
            return {"requested": "_compiled_encoder" in self.__dict__, "trial": False}
        return {"requested": True, "trial": True, "choice": trial.choice,
                "speedup": trial.speedup if trial.decided else None,
                "eager_s": trial.times["eager"], "compiled_s": trial.times["compiled"]}

    def _trial(self) -> CompileTrial | None:
        trial = self.__dict__.get("_compile_trial")
        return trial if trial is not None and not trial.decided and self.device.type == "cpu" else None

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        trial = self._trial()
        if trial is not None:
            object.__setattr__(self, "_trial_step", (trial.mode(), time.perf_counter()))

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        trial, started = self._trial(), self.__dict__.pop("_trial_step", None)
        if trial is None or started is None:
            return
        if trial.record(started[0], time.perf_counter() - started[1]) is not None:
            log = self.__dict__.get("_compile_log")
            if log is not None and self.trainer.is_global_zero:
                log(trial.note())
            if trial.choice == "eager":
                object.__setattr__(self, "_compiled_encoder", None)

    def _encode_pair(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder outputs of the two branches: view 1 is augmented; view 2 (the branch that gets
        the noise, whose law is matched) is the clean input when ``matched_view == "clean"``,
        else a second augmented view. With a view fraction < 1 (given, else the preset's) each
        pair is augmented with that probability; the other pairs see the clean input in both
        branches. One encoder pass on both."""
        if self.cfg.matched_view == "clean":
            v1, v2 = self.views(x), self.views.eval_transform(x)
        else:
            v1, v2 = self.views.pair(x)
        if self.view_fraction < 1.0:
            clean = v2 if self.cfg.matched_view == "clean" else self.views.eval_transform(x)
            v1, v2 = mix_pairs(v1, v2, clean, self.view_fraction)
        encoder = self.__dict__.get("_compiled_encoder") if self.training else None
        started = self.__dict__.get("_trial_step")
        if started is not None and started[0] == "eager":
            encoder = None
        h = (encoder if encoder is not None else self.encoder)(torch.cat([v1, v2]))
        return h[: len(x)], h[len(x):]

    def _noise_schedule(self) -> None:
        """Grow the noise linearly from 0 to its target over the first ``noise_warmup`` of the steps."""
        if self.cfg.noise_warmup <= 0:
            return
        total = self.__dict__.get("_total_steps")
        if total is None:  # asked of the trainer once: estimating it walks the data loader
            total = max(1, int(self.trainer.estimated_stepping_batches))
            object.__setattr__(self, "_total_steps", total)
        frac = min(1.0, self.global_step / (self.cfg.noise_warmup * total))
        self.nine.noise.scale = self.cfg.noise_scale * frac

    def on_train_end(self) -> None:
        self.nine.noise.scale = self.cfg.noise_scale

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        self._noise_schedule()
        h1, h2 = self._encode_pair(batch)
        if self.objective is None:
            out = self.nine(h1.float(), h2.float())
            terms: dict[str, torch.Tensor] = {}
        else:
            out = self.objective(self.nine, h1.float(), h2.float())
            terms = dict(out.terms)
        self._seen += len(batch) * self.trainer.world_size
        # Each self.log call costs about a millisecond of Lightning bookkeeping, as much as a
        # whole step of the digits MLP: epoch means are summed here and logged once, at the
        # epoch's last batch (loss_epoch, mi_epoch, capacity and the objective's terms); step
        # values only on the steps the loggers write, or every step when a progress bar shows them.
        self._epoch_steps += 1
        for name, value in {"loss": out.loss, "mi": out.mi, **terms}.items():
            self._epoch_sums[name] = self._epoch_sums.get(name, 0.0) + value.detach().float()
        bar = self.trainer.progress_bar_callback is not None
        if bar or (self.global_step + 1) % max(1, self.trainer.log_every_n_steps) == 0:
            elapsed = time.perf_counter() - (self._t0 or time.perf_counter())
            self.log("loss_step", out.loss.detach(), prog_bar=bar, on_step=True, on_epoch=False)
            self.log("mi_step", out.mi, prog_bar=bar, on_step=True, on_epoch=False)
            if elapsed > 0:
                self.log("ex_per_s", self._seen / elapsed, prog_bar=bar, on_step=True, on_epoch=False)
        if batch_idx + 1 >= self.trainer.num_training_batches:
            for name, total in self._epoch_sums.items():
                key = f"{name}_epoch" if name in ("loss", "mi") else name
                self.log(key, total / self._epoch_steps, prog_bar=bar and name in ("loss", "mi"), on_step=False,
                         on_epoch=True)
            self.log("capacity", float(out.capacity), prog_bar=bar, on_step=False, on_epoch=True)
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
        self._epoch_sums, self._epoch_steps = {}, 0

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

    def configure_optimizers(self) -> Any:
        """Adam; with ``lr_schedule="cosine"`` a linear warm-up over ``warmup`` of the steps, then
        cosine decay to 0 at the last step (stepped every optimizer step)."""
        params = list(self.parameters())
        opt = torch.optim.Adam(params, lr=self.cfg.lr, weight_decay=self.cfg.weight_decay, **adam_options(params))
        if self.cfg.lr_schedule == "constant":
            return opt
        total = max(1, int(self.trainer.estimated_stepping_batches))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=cosine_warmup(total, self.cfg.warmup))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def mix_pairs(v1: torch.Tensor, v2: torch.Tensor, clean: torch.Tensor, fraction: float,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep each pair of views with probability ``fraction``; replace the others by the clean
    input in both branches (``--view-fraction``).

    Example:
        >>> x = torch.zeros(4, 1, 2, 2)
        >>> v1, v2 = mix_pairs(x + 1, x + 2, x, 0.0)
        >>> bool((v1 == x).all() and (v2 == x).all())
        True
    """
    keep = torch.rand(len(clean), device=clean.device, generator=generator) < fraction
    keep = keep.view(-1, *([1] * (clean.dim() - 1)))
    return torch.where(keep, v1, clean), torch.where(keep, v2, clean)


def cosine_warmup(total: int, warmup: float) -> Any:
    """Multiplier of the learning rate at step ``t``: linear warm-up over ``warmup * total``
    steps, then half a cosine down to 0 at ``total``.

    Example:
        >>> f = cosine_warmup(100, 0.1)
        >>> round(f(0), 3), round(f(9), 3), round(f(55), 3), round(f(100), 3)
        (0.1, 1.0, 0.5, 0.0)
    """
    import math

    ramp = max(1, int(round(warmup * total)))

    def factor(t: int) -> float:
        if t < ramp:
            return (t + 1) / ramp
        progress = min(1.0, (t - ramp) / max(1, total - ramp))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


class _train_mode:
    """Temporarily put a module in training mode."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module, self.was = module, module.training

    def __enter__(self) -> None:
        self.module.train()

    def __exit__(self, *exc: object) -> None:
        self.module.train(self.was)
