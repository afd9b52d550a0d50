"""DIM's adversarial prior matching: the discriminator learns to tell the prior apart, and each
player's loss reaches only its own parameters."""

from __future__ import annotations

import torch

from infomatch.methods.dim_adv import DIMAdversarialObjective, discriminator_loss
from infomatch.methods.plain import PlainObjective
from infomatch.model import NINE


def _accuracy(d: torch.nn.Module, prior: torch.Tensor, other: torch.Tensor) -> float:
    with torch.no_grad():
        return float(((d(prior) > 0).float().mean() + (d(other) <= 0).float().mean()) / 2)


def test_discriminator_improves_on_prior_vs_non_prior() -> None:
    torch.manual_seed(0)
    obj = DIMAdversarialObjective(dim=2, hidden=(64, 32))
    d = obj.discriminator
    opt = torch.optim.Adam(d.parameters(), lr=1e-3)

    def other(n: int) -> torch.Tensor:  # not N(0, I): a squeezed, shifted Gaussian
        return 0.4 * torch.randn(n, 2) + torch.tensor([1.0, 0.0])

    test_prior, test_other = torch.randn(2000, 2), other(2000)
    loss0 = float(discriminator_loss(d(test_prior), d(test_other)))
    acc0 = _accuracy(d, test_prior, test_other)
    for _ in range(300):
        loss = discriminator_loss(d(torch.randn(256, 2)), d(other(256)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    loss1 = float(discriminator_loss(d(test_prior), d(test_other)))
    acc1 = _accuracy(d, test_prior, test_other)
    assert loss1 < loss0 - 0.3
    assert acc1 > 0.8 and acc1 > acc0 + 0.2


def test_players_get_only_their_own_gradient() -> None:
    h1 = torch.randn(32, 3, generator=torch.Generator().manual_seed(2), requires_grad=True)
    h2 = torch.randn(32, 3, generator=torch.Generator().manual_seed(3))

    def grads(weight: float) -> tuple[list[torch.Tensor], torch.Tensor]:
        torch.manual_seed(1)  # same critic, discriminator and prior draw for every weight
        nine = NINE(dim=3, sigma=0.0)
        obj = DIMAdversarialObjective(dim=3, weight=weight, hidden=(16, 8))
        out = obj(nine, h1, h2)
        params = list(obj.discriminator.parameters())
        g = torch.autograd.grad(out.loss, [*params, h1])
        return list(g[:-1]), g[-1]

    d1, e1 = grads(1.0)
    d5, e5 = grads(5.0)
    d0, e0 = grads(0.0)
    # the generator term never reaches the discriminator: its gradient is the same for any weight
    for a, b in zip(d1, d5, strict=True):
        assert torch.allclose(a, b, atol=1e-7)
    # the discriminator term never reaches the encoder: with weight 0 the encoder gets InfoNCE's
    torch.manual_seed(1)
    nine = NINE(dim=3, sigma=0.0)
    plain = PlainObjective()(nine, h1, h2)
    assert torch.allclose(e0, torch.autograd.grad(plain.loss, h1)[0], atol=1e-7)
    # ... and the generator term does reach it, linearly in the weight
    assert not torch.allclose(e1, e0)
    assert torch.allclose(e5 - e0, 5.0 * (e1 - e0), atol=1e-5)
