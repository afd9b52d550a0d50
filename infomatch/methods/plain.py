"""``plain``: InfoNCE on the standardized output without noise, the no-noise control.

This is Deep InfoMax's contrastive objective (Hjelm et al. 2019, "Learning deep
representations by mutual information estimation and maximization", ICLR) with InfoNCE (van den
Oord et al. 2018) on NINE's normalization: the NINE objective at noise scale 0. It controls for
everything but the noise: same encoder, views, critic, bound and normalization.

Example:
    >>> import torch
    >>> from infomatch.model import NINE
    >>> out = PlainObjective()(NINE(dim=4, sigma=0.0), torch.randn(32, 4), torch.randn(32, 4))
    >>> out.capacity
    inf
"""

from __future__ import annotations

from torch import Tensor, nn

from infomatch.methods._common import ObjectiveOutput, clean_infonce, clean_pair
from infomatch.model import NINE

__all__ = ["PlainObjective"]


class PlainObjective(nn.Module):
    """Maximize InfoNCE between the clean normalized views (no noise, no extra term)."""

    def forward(self, nine: NINE, h1: Tensor, h2: Tensor) -> ObjectiveOutput:
        """``h1``, ``h2``: encoder outputs ``(B, d)`` of two views of one batch."""
        b = h1.shape[0]
        _, z = clean_pair(nine, h1, h2)
        loss, mi = clean_infonce(nine, z[:b], z[b:])
        return ObjectiveOutput(loss=loss, mi=mi, capacity=float("inf"))
