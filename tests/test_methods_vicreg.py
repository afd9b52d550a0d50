"""VICReg's three terms against a hand-written numpy reference and closed-form cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infomatch.methods import make_objective
from infomatch.methods.vicreg import vicreg_loss, vicreg_terms
from infomatch.model import NINE


def _reference(za: np.ndarray, zb: np.ndarray, gamma: float = 1.0, eps: float = 1e-4) -> tuple[float, float, float]:
    n, d = za.shape
    inv = float(np.mean((za - zb) ** 2))

    def var(z: np.ndarray) -> float:
        std = np.sqrt(z.var(axis=0, ddof=1) + eps)
        return float(np.mean(np.maximum(0.0, gamma - std)))

    def cov(z: np.ndarray) -> float:
        c = z - z.mean(axis=0)
        m = c.T @ c / (n - 1)
        total = 0.0
        for i in range(d):
            for j in range(d):
                if i != j:
                    total += m[i, j] ** 2
        return total / d

    return inv, 0.5 * (var(za) + var(zb)), cov(za) + cov(zb)


@pytest.mark.parametrize("n,d,scale", [(8, 2, 0.3), (64, 5, 1.0), (200, 16, 2.5)])
def test_terms_match_numpy_reference(n: int, d: int, scale: float) -> None:
    rng = np.random.default_rng(n + d)
    za = rng.standard_normal((n, d)) * scale @ rng.standard_normal((d, d))
    zb = za + 0.1 * rng.standard_normal((n, d))
    got = vicreg_terms(torch.tensor(za), torch.tensor(zb))
    want = _reference(za, zb)
    for g, w in zip(got, want, strict=True):
        assert float(g) == pytest.approx(w, rel=1e-10, abs=1e-12)
    total = vicreg_loss(torch.tensor(za), torch.tensor(zb))
    assert float(total) == pytest.approx(25 * want[0] + 25 * want[1] + want[2], rel=1e-10)


def test_closed_forms() -> None:
    # identical, decorrelated, unit-std views: every term vanishes
    z = torch.tensor(np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]) * np.sqrt(0.75) * 2)
    inv, var, cov = vicreg_terms(z, z)
    assert float(inv) == 0.0 and float(var) == 0.0 and float(cov) == pytest.approx(0.0, abs=1e-12)
    # a collapsed representation pays the full variance hinge gamma - sqrt(eps)
    c = torch.zeros(10, 3, dtype=torch.float64)
    assert float(vicreg_terms(c, c)[1]) == pytest.approx(1.0 - 1e-2)


def test_objective_trains_encoder_not_critic_through_vicreg() -> None:
    torch.manual_seed(0)
    nine = NINE(dim=3, sigma=0.0)
    obj = make_objective("vicreg", dim=3)
    h1 = torch.randn(32, 3, requires_grad=True)
    h2 = torch.randn(32, 3, requires_grad=True)
    out = obj(nine, h1, h2)
    out.loss.backward()
    inv, var, cov = vicreg_terms(h1.detach(), h2.detach())
    assert h1.grad is not None and torch.isfinite(h1.grad).all()
    # the encoder's gradient is VICReg's alone (the critic term sees detached inputs)
    h1b = h1.detach().clone().requires_grad_(True)
    vicreg_loss(h1b, h2.detach()).backward()
    assert torch.allclose(h1.grad, h1b.grad, atol=1e-6)
    assert any(p.grad is not None for p in nine.critic.parameters())
    assert set(out.terms) == {"vicreg_inv", "vicreg_var", "vicreg_cov"}
    assert float(out.terms["vicreg_inv"]) == pytest.approx(float(inv))


def test_bad_options_name_the_value() -> None:
    with pytest.raises(ValueError, match="unknown method_params.*lambda"):
        make_objective("vicreg", dim=3, **{"lambda": 1.0})
    with pytest.raises(ValueError, match="gamma"):
        make_objective("vicreg", dim=3, gamma=0.0)
