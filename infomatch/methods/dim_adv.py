"""``dim-adv``: InfoNCE plus Deep InfoMax's adversarial prior matching.

Hjelm, Fedorov, Lavoie-Marchildon, Grewal, Bachman, Trischler and Bengio, "Learning deep
representations by mutual information estimation and maximization", ICLR 2019, section 3.5: a
discriminator ``D`` tells samples of the prior from encoder outputs,

    min_encoder max_D  E_prior[log D(v)] + E_data[log(1 - D(f(x)))],

and the encoder receives the generator loss, here the non-saturating ``-log D(f(x))`` (the
usual GAN practice). ``f(x)`` is NINE's clean normalized representation (standardized for the
Gaussian base, squashed into [0, 1] for the uniform base) and the prior samples are drawn in the
same base space (N(0, I) or U[0, 1]^d), so the same priors are reached. The discriminator has the
paper's two hidden layers of 1000 and 200 ReLU units. One optimizer serves both players: the
discriminator's loss sees detached representations, the generator loss is computed with
detached discriminator weights, so each player's gradient reaches only its own parameters.

Example:
    >>> import torch
    >>> from infomatch.model import NINE
    >>> obj = DIMAdversarialObjective(dim=4)
    >>> out = obj(NINE(dim=4, sigma=0.0), torch.randn(32, 4), torch.randn(32, 4))
    >>> sorted(out.terms)
    ['adv_discriminator', 'adv_generator']
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from infomatch._checks import check_nonnegative, check_positive_int
from infomatch.methods._common import ObjectiveOutput, clean_infonce, clean_pair
from infomatch.model import NINE

__all__ = ["DIMAdversarialObjective", "PriorDiscriminator", "discriminator_loss", "generator_loss"]


class PriorDiscriminator(nn.Module):
    """``D(v)``: a logit, high for prior samples. MLP ``d -> 1000 -> 200 -> 1`` with ReLU."""

    def __init__(self, dim: int, hidden: tuple[int, int] = (1000, 200)) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden[0]), nn.ReLU(), nn.Linear(hidden[0], hidden[1]),
                                 nn.ReLU(), nn.Linear(hidden[1], 1))

    def forward(self, v: Tensor) -> Tensor:
        return self.net(v).squeeze(-1)


def discriminator_loss(d_prior: Tensor, d_data: Tensor) -> Tensor:
    """Binary cross-entropy: prior logits labelled 1, representation logits labelled 0."""
    return (F.binary_cross_entropy_with_logits(d_prior, torch.ones_like(d_prior))
            + F.binary_cross_entropy_with_logits(d_data, torch.zeros_like(d_data)))


def generator_loss(d_data: Tensor) -> Tensor:
    """Non-saturating generator loss ``-mean log D(f(x))``."""
    return F.binary_cross_entropy_with_logits(d_data, torch.ones_like(d_data))


class DIMAdversarialObjective(nn.Module):
    """Clean InfoNCE ``+ weight * generator loss``; the discriminator learns in the same step.

    Args:
        dim: representation dimension.
        weight: weight of the adversarial term for the encoder (default 1.0).
        hidden: the discriminator's hidden widths (default the paper's 1000, 200).
    """

    def __init__(self, dim: int, weight: float = 1.0, hidden: tuple[int, int] | list[int] = (1000, 200)) -> None:
        super().__init__()
        self.weight = check_nonnegative("weight", weight)
        if len(hidden) != 2:
            raise ValueError(f"hidden must hold two layer widths; got {hidden!r}")
        self.discriminator = PriorDiscriminator(check_positive_int("dim", dim),
                                                (check_positive_int("hidden", hidden[0]), check_positive_int("hidden", hidden[1])))

    def forward(self, nine: NINE, h1: Tensor, h2: Tensor) -> ObjectiveOutput:
        """``h1``, ``h2``: encoder outputs ``(B, d)`` of two views of one batch."""
        b = h1.shape[0]
        _, z = clean_pair(nine, h1, h2)
        nce_loss, mi = clean_infonce(nine, z[:b], z[b:])
        z = z.float()
        if nine.normalize.mode == "uniform":
            prior = torch.rand_like(z)
        else:
            prior = torch.randn_like(z)
        d_loss = discriminator_loss(self.discriminator(prior), self.discriminator(z.detach()))
        frozen = {k: v.detach() for k, v in self.discriminator.named_parameters()}
        g_loss = generator_loss(functional_call(self.discriminator, frozen, (z,)))
        return ObjectiveOutput(loss=nce_loss + self.weight * g_loss + d_loss, mi=mi, capacity=float("inf"),
                               terms={"adv_discriminator": d_loss.detach(), "adv_generator": g_loss.detach()})
