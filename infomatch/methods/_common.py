"""What every training objective shares: its output record and the clean InfoNCE term.

Every method trains the same encoder on the same two views and reports the same fields, so
the Lightning module logs and checkpoints them alike. Without noise the InfoNCE term scores the
clean normalized view 1 against the clean normalized view 2 with the NINE head's critic.

Example:
    >>> import torch
    >>> from infomatch.model import NINE
    >>> nine = NINE(dim=3, sigma=0.0)
    >>> s, z = clean_pair(nine, torch.randn(8, 3), torch.randn(8, 3))
    >>> tuple(s.shape), bool(torch.equal(s, z))
    ((16, 3), True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from infomatch.distributed import cross_scores, global_bound
from infomatch.model import NINE

__all__ = ["ObjectiveOutput", "clean_infonce", "clean_pair", "squash"]


@dataclass(frozen=True)
class ObjectiveOutput:
    """One training step of a method.

    Attributes:
        loss: the differentiable loss to minimize.
        mi: detached MI estimate of the method's contrastive term in nats (InfoNCE of the clean
            views; for methods without one, of a critic trained on detached representations).
        capacity: capacity of the training channel (``inf``: no noise).
        terms: further detached scalars to log (the method's named loss terms).
    """

    loss: Tensor
    mi: Tensor
    capacity: float
    terms: dict[str, Tensor] = field(default_factory=dict)


def squash(nine: NINE, s: Tensor) -> Tensor:
    """The representation from standardized values ``s``: identity (Gaussian base) or the
    normalization's squashing into [0, 1] (uniform base: normal CDF by default)."""
    norm = nine.normalize
    if norm.mode != "uniform":
        return s
    return torch.special.ndtr(s) if norm.squash == "ndtr" else torch.sigmoid(s)


def clean_pair(nine: NINE, h1: Tensor, h2: Tensor) -> tuple[Tensor, Tensor]:
    """Standardize both views with shared batch statistics (updating the running ones once).

    Returns ``(s, z)``, both ``(2B, d)``: the standardized values and the representation
    (``s`` squashed for the uniform base).
    """
    s = nine.normalize.standardize(torch.cat([h1, h2], dim=0))
    return s, squash(nine, s)


def clean_infonce(nine: NINE, z1: Tensor, z2: Tensor) -> tuple[Tensor, Tensor]:
    """``(loss, mi)`` of the NINE head's bound and critic on clean pairs ``(z1_i, z2_i)``."""
    scores, offset = cross_scores(nine.critic, z1, z2)
    out = global_bound(nine.bound, scores, offset)
    return out.loss, out.mi
