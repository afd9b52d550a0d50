"""Build the views, the encoder and the NINE head that a configuration describes.

This is the one place that turns a :class:`TrainConfig` into modules; the Lightning module,
the scikit-learn style estimator and ``infomatch embed`` all call it, so a saved run always
rebuilds the same network.

Example:
    >>> from infomatch.training.config import TrainConfig
    >>> views, encoder, nine = build_components(TrainConfig(dim=8), (1, 8, 8), "image")
    >>> nine.dim
    8
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..data import make_views
from ..encoders import default_encoder, make_encoder, width_kwargs
from ..model import NINE
from ..priors import Prior, get_prior
from .config import TrainConfig


def build_prior(cfg: TrainConfig) -> Prior:
    """The prior object a config names (its ``base`` and parameters included)."""
    return get_prior(cfg.prior, **{"base": cfg.base, **cfg.prior_params})


def encoder_name(cfg: TrainConfig, view_shape: tuple[int, ...]) -> str:
    return default_encoder(view_shape) if cfg.encoder == "auto" else cfg.encoder


def build_components(cfg: TrainConfig, input_shape: tuple[int, ...], kind: str) -> tuple[nn.Module, nn.Module, NINE]:
    """Return ``(views, encoder, nine)`` for data of ``input_shape`` (without the batch axis)."""
    preset = None if cfg.views == "auto" else cfg.views
    views = make_views(kind, preset, tuple(input_shape), strength=cfg.view_strength)
    view_shape = tuple(views.output_shape)
    name = encoder_name(cfg, view_shape)
    widths = width_kwargs(name, cfg.encoder_width) if cfg.encoder_width != 1 else {}
    encoder = make_encoder(name, view_shape, cfg.dim, **widths)
    nine = NINE(
        dim=cfg.dim,
        prior=build_prior(cfg),
        sigma=cfg.noise_scale if cfg.base == "gaussian" else None,
        eps=cfg.noise_scale if cfg.base == "uniform" else None,
        bound=cfg.bound,
        critic=cfg.critic,
        critic_kwargs=dict(cfg.critic_params) or None,
        bound_kwargs=dict(cfg.bound_params) or None,
        normalization=cfg.normalization,
        whiten_method=cfg.whiten_method,
        branch_statistics="separate" if cfg.matched_view == "clean" else "shared",
        symmetric=cfg.symmetric,
        queue=cfg.queue,
        gaussianize=cfg.uses_gaussianize,
        radialize=cfg.uses_radialize,
        final_whiten=cfg.uses_final_whiten,
        final_whiten_method=cfg.final_whiten_method,
    )
    return views, encoder, nine


class Embedder(nn.Module):
    """Clean representation f(X): eval transform, encoder, normalization; no noise.

    Example:
        >>> import torch
        >>> from infomatch.training.config import TrainConfig
        >>> views, enc, nine = build_components(TrainConfig(dim=4), (1, 8, 8), "image")
        >>> Embedder(views, enc, nine).eval()(torch.rand(5, 1, 8, 8)).shape
        torch.Size([5, 4])
    """

    def __init__(self, views: nn.Module, encoder: nn.Module, nine: NINE) -> None:
        super().__init__()
        self.views, self.encoder, self.nine = views, encoder, nine

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nine.representation(self.encoder(self.views.eval_transform(x)))


@torch.no_grad()
def embed_array(model: Embedder, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Clean representations of ``x`` in evaluation mode, in batches (float32, CPU)."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        outs = [model(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(outs) if outs else torch.empty(0, model.nine.dim)


@torch.no_grad()
def recalibrate_normalization(model: Embedder, x: torch.Tensor, batch_size: int = 1024) -> None:
    """Re-estimate the normalization's running statistics on clean inputs ``x``.

    Statistics gathered on augmented, noisy views bias the clean representation; this replaces
    them by the mean and (co)variance of all the clean encoder outputs of ``x`` at once (an average
    of per-batch statistics would miss the spread of the batch means whenever the order of ``x``
    has structure; MNIST's test set, for one, has two writer populations in its two halves) and, with
    ``gaussianize`` / ``radialize`` / ``final_whiten``, each stage's quantiles (or mean and covariance)
    by those of its input on the clean outputs (the normalization's ``calibrate``; the encoder itself
    stays in evaluation mode, so nothing else changes).
    """
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        outputs = [model.encoder(model.views.eval_transform(x[i:i + batch_size].to(device)))
                   for i in range(0, len(x), batch_size)]
        if outputs:
            model.nine.normalize.calibrate(torch.cat(outputs))
    finally:
        model.train(was_training)


def describe(cfg: TrainConfig, nine: NINE, batch_size: int) -> dict[str, Any]:
    """Capacity, the bound's ceiling and whether the capacity is usable at ``batch_size``."""
    import math

    from ..priors import matched_mi

    capacity = float(nine.capacity)
    ceiling = math.log(batch_size) if cfg.bound == "infonce" else None
    return {
        "capacity": capacity,
        # the MI an exactly matched representation reaches: the capacity for the Gaussian base,
        # less for the uniform base (the gap to judge a uniform run by)
        "matched_mi": matched_mi(cfg.base, cfg.dim, cfg.noise_scale),
        "log_batch_ceiling": math.log(batch_size),
        "bound_ceiling": ceiling,
        "capacity_below_ceiling": capacity < math.log(batch_size),
    }
