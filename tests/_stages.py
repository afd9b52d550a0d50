"""Test helper: a normalization's output with its stages (marginal, radial, final) set aside."""

from __future__ import annotations

import torch

from infomatch._running import RunningNormalization


def before_stages(norm: RunningNormalization, h: torch.Tensor) -> torch.Tensor:
    """``norm.standardize(h)`` (the normalized value, before any squash) as if ``norm`` had no
    stages; the stages are restored."""
    stages = norm.marginal, norm.radial, norm.final
    norm.marginal = norm.radial = norm.final = None
    try:
        return norm.standardize(h)
    finally:
        norm.marginal, norm.radial, norm.final = stages
