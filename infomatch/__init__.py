"""infomatch: self-supervised representations that follow a prior you choose.

Noise-Injected Deep InfoMax (NINE): normalize the encoder's output, add independent noise
during training, and maximize an InfoMax lower bound. The clean normalized output then follows
the prior (Gaussian, uniform, or any continuous law through an invertible map).

Example:
    >>> import infomatch
    >>> infomatch.__version__
    '0.1.0'
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "NINE": ("infomatch.model", "NINE"),
    "NINEEstimator": ("infomatch.api", "NINEEstimator"),
    "load": ("infomatch.api", "load"),
    "get_prior": ("infomatch.priors", "get_prior"),
    "Normalize": ("infomatch.normalize", "Normalize"),
    "NoiseInjection": ("infomatch.noise", "NoiseInjection"),
    "make_critic": ("infomatch.critics", "make_critic"),
    "make_bound": ("infomatch.bounds", "make_bound"),
    "make_encoder": ("infomatch.encoders", "make_encoder"),
    "load_dataset": ("infomatch.data", "load_dataset"),
    "TrainConfig": ("infomatch.training.config", "TrainConfig"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    """Import public names on first use, so ``import infomatch`` stays light."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'infomatch' has no attribute {name!r}")
