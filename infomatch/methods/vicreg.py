"""``vicreg``: Variance-Invariance-Covariance Regularization.

Bardes, Ponce and LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
Self-Supervised Learning", ICLR 2022. On the encoder outputs ``za, zb`` ``(n, d)`` of two views:

- invariance: mean squared error ``mean((za - zb)^2)`` (over rows and coordinates, as in the
  authors' code, for which the weights below were tuned);
- variance: ``v(Z) = mean_j max(0, gamma - sqrt(Var(Z_j) + eps))`` (unbiased variance,
  ``gamma = 1``, ``eps = 1e-4``), averaged over the two views;
- covariance: ``c(Z) = sum_{i != j} C(Z)_ij^2 / d`` with ``C`` the unbiased covariance,
  summed over the two views;

loss ``= 25 invariance + 25 variance + 1 covariance``. The loss acts on the encoder output; the
representation that is evaluated is, as for every method, NINE's normalization of it. No MI
term trains the encoder; the NINE head's critic is trained on detached representations only to
report an MI estimate beside the other methods'.

Example:
    >>> import torch
    >>> z = torch.randn(64, 4)
    >>> inv, var, cov = vicreg_terms(z, z)
    >>> float(inv)
    0.0
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from infomatch._checks import check_nonnegative, check_positive
from infomatch.methods._common import ObjectiveOutput, clean_infonce, clean_pair
from infomatch.model import NINE

__all__ = ["VICRegObjective", "vicreg_loss", "vicreg_terms"]


def _variance(z: Tensor, gamma: float, eps: float) -> Tensor:
    std = torch.sqrt(z.var(dim=0) + eps)
    return torch.relu(gamma - std).mean()


def _covariance(z: Tensor) -> Tensor:
    n, d = z.shape
    c = z - z.mean(dim=0)
    cov = (c.T @ c) / (n - 1)
    off = cov - torch.diag(torch.diagonal(cov))
    return off.square().sum() / d


def vicreg_terms(za: Tensor, zb: Tensor, gamma: float = 1.0, eps: float = 1e-4) -> tuple[Tensor, Tensor, Tensor]:
    """``(invariance, variance, covariance)`` of two views ``(n, d)``, ``n >= 2`` (see module doc)."""
    if za.shape != zb.shape or za.ndim != 2 or za.shape[0] < 2:
        raise ValueError(f"za and zb must have one shape (n, d) with n >= 2; got {tuple(za.shape)} and {tuple(zb.shape)}")
    inv = torch.nn.functional.mse_loss(za, zb)
    var = 0.5 * (_variance(za, gamma, eps) + _variance(zb, gamma, eps))
    cov = _covariance(za) + _covariance(zb)
    return inv, var, cov


def vicreg_loss(za: Tensor, zb: Tensor, sim_weight: float = 25.0, var_weight: float = 25.0,
                cov_weight: float = 1.0, gamma: float = 1.0, eps: float = 1e-4) -> Tensor:
    """The weighted VICReg loss ``sim_weight inv + var_weight var + cov_weight cov``."""
    inv, var, cov = vicreg_terms(za, zb, gamma, eps)
    return sim_weight * inv + var_weight * var + cov_weight * cov


class VICRegObjective(nn.Module):
    """VICReg on the encoder outputs; the critic learns on detached representations.

    Args:
        sim_weight, var_weight, cov_weight: the paper's lambda, mu, nu (25, 25, 1).
        gamma: target standard deviation (1); eps: added to the variance (1e-4).
    """

    def __init__(self, sim_weight: float = 25.0, var_weight: float = 25.0, cov_weight: float = 1.0,
                 gamma: float = 1.0, eps: float = 1e-4) -> None:
        super().__init__()
        self.sim_weight = check_nonnegative("sim_weight", sim_weight)
        self.var_weight = check_nonnegative("var_weight", var_weight)
        self.cov_weight = check_nonnegative("cov_weight", cov_weight)
        self.gamma = check_positive("gamma", gamma)
        self.eps = check_positive("eps", eps)

    def forward(self, nine: NINE, h1: Tensor, h2: Tensor) -> ObjectiveOutput:
        """``h1``, ``h2``: encoder outputs ``(B, d)`` of two views of one batch."""
        inv, var, cov = vicreg_terms(h1, h2, self.gamma, self.eps)
        loss = self.sim_weight * inv + self.var_weight * var + self.cov_weight * cov
        b = h1.shape[0]
        _, z = clean_pair(nine, h1.detach(), h2.detach())
        critic_loss, mi = clean_infonce(nine, z[:b], z[b:])
        return ObjectiveOutput(loss=loss + critic_loss, mi=mi, capacity=float("inf"),
                               terms={"vicreg_inv": inv.detach(), "vicreg_var": var.detach(),
                                      "vicreg_cov": cov.detach()})
