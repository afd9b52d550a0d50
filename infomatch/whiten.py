"""Batch whitening of the encoder's output: full-covariance normalization for NINE.

:class:`~infomatch.normalize.Normalize` standardizes each coordinate on its own, so the
representation's *correlations* are left for the noise to remove, slowly. ``Whiten`` removes
them in the layer: in training the batch is centred and multiplied by ``W`` with
``W Sigma_B W^T = I`` (``Sigma_B`` the biased batch covariance), so every training batch has
mean 0 and covariance exactly ``I``; in evaluation the running mean and covariance are used.
The capacity bound of NINE still holds: a unit-covariance output has at most the entropy of
``N(0, I)`` (the Gaussian is the maximum-entropy law at fixed covariance), with equality only
for the Gaussian, so maximizing the MI still drives the whitened output to the prior.

Two whitening matrices:

- ``"cholesky"`` (default; W-MSE, Ermolov et al. 2021): ``W = L^{-1}`` with
  ``Sigma + eps I = L L^T``; a triangular solve, numerically stable gradients.
- ``"zca"`` (decorrelated batch norm, Huang et al. 2018): ``W = U diag(lambda)^{-1/2} U^T``,
  the whitening closest to the identity (each output coordinate moves least from its input).
  Its gradient is not ``eigh``'s, which divides by ``lambda_i - lambda_j`` and blows up when
  two eigenvalues nearly coincide (as they do for a covariance near ``I``): it is
  :func:`inverse_sqrt_psd`'s, the Daleckii-Krein formula whose divided differences of
  ``lambda^{-1/2}`` have a closed form with no such division.

Uniform mode squashes the whitened value into ``[0, 1]`` with the normal CDF (default) or the
sigmoid, as ``Normalize`` does. Statistics are computed in float32 or wider. ``forward(h,
update=False)`` whitens with the batch statistics without touching the running ones (used for
NINE's second branch). The batch-statistics computation is the overridable method
:meth:`Whiten._batch_stats` (the distributed subclass makes it global).

Example:
    >>> import torch
    >>> w = Whiten(3)
    >>> h = torch.randn(256, 3) @ torch.tensor([[2.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 3.0, 0.5]])
    >>> z = w(h)
    >>> bool((torch.cov(z.T, correction=0) - torch.eye(3)).abs().max() < 1e-3)
    True
"""

from __future__ import annotations

import torch
from torch import Tensor

from infomatch._checks import check_choice
from infomatch._precision import widened
from infomatch._running import RunningNormalization

__all__ = ["WHITEN_METHODS", "Whiten", "inverse_sqrt_psd", "whitening_matrix"]

WHITEN_METHODS = ("cholesky", "zca")


class _InverseSqrtPSD(torch.autograd.Function):
    """``A^{-1/2}`` of a symmetric positive definite ``A``, with a stable backward pass."""

    @staticmethod
    def forward(ctx, a: Tensor, floor: float) -> Tensor:  # type: ignore[override]
        evals, evecs = torch.linalg.eigh(a)
        roots = evals.clamp_min(floor).sqrt()
        ctx.save_for_backward(roots, evecs)
        return (evecs / roots) @ evecs.T

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        roots, evecs = ctx.saved_tensors
        # Daleckii-Krein: dF = U (K * (U^T dA U)) U^T with K_ij the divided difference of
        # f(l) = l^{-1/2} at (l_i, l_j): -1 / (s_i s_j (s_i + s_j)), s = sqrt(l); on the
        # diagonal it is f'(l_i) = -1 / (2 s_i^3). No division by l_i - l_j.
        k = -1.0 / (roots[:, None] * roots[None, :] * (roots[:, None] + roots[None, :]))
        inner = evecs.T @ ((grad + grad.T) / 2) @ evecs
        return evecs @ (k * inner) @ evecs.T, None


def inverse_sqrt_psd(a: Tensor, floor: float = 0.0) -> Tensor:
    """The symmetric inverse square root ``A^{-1/2}`` of a symmetric positive definite matrix,
    eigenvalues clamped below at ``floor``; differentiable, with a gradient that stays finite
    when eigenvalues coincide (``A = I`` included). The gradient treats ``A`` as symmetric; for an
    eigenvalue under ``floor`` it is that of ``lambda^{-1/2}`` at ``floor`` (not the clamp's zero).

    Example:
        >>> import torch
        >>> a = torch.tensor([[4.0, 2.0], [2.0, 3.0]], dtype=torch.float64)
        >>> w = inverse_sqrt_psd(a)
        >>> torch.allclose(w @ a @ w, torch.eye(2, dtype=torch.float64))
        True
        >>> eye = torch.eye(3, dtype=torch.float64, requires_grad=True)
        >>> inverse_sqrt_psd(eye).sum().backward()
        >>> eye.grad.diagonal().tolist()
        [-0.5, -0.5, -0.5]
    """
    return _InverseSqrtPSD.apply(a, floor)


def whitening_matrix(cov: Tensor, method: str = "cholesky", eps: float = 1e-5) -> Tensor:
    """``W`` with ``W (cov + eps I) W^T = I``: ``L^{-1}`` (Cholesky) or the symmetric inverse
    square root (ZCA). Differentiable.

    Example:
        >>> import torch
        >>> c = torch.tensor([[4.0, 2.0], [2.0, 3.0]])
        >>> w = whitening_matrix(c, "zca", eps=0.0)
        >>> torch.allclose(w @ c @ w.T, torch.eye(2), atol=1e-5), torch.allclose(w, w.T)
        (True, True)
    """
    check_choice("method", method, WHITEN_METHODS)
    d = cov.shape[0]
    eye = torch.eye(d, dtype=cov.dtype, device=cov.device)
    reg = cov + eps * eye
    if method == "cholesky":
        chol = torch.linalg.cholesky(reg)
        return torch.linalg.solve_triangular(chol, eye, upper=False)
    return inverse_sqrt_psd(reg, eps)


class Whiten(RunningNormalization):
    """Full-covariance whitening (Gaussian mode) and squashing into [0, 1] (uniform mode).

    Args:
        dim: number of coordinates ``d``.
        mode: ``"gaussian"`` (whiten) or ``"uniform"`` (whiten, then squash).
        squash: ``"ndtr"`` (default) or ``"sigmoid"``; uniform mode only.
        momentum: weight of a new batch in the running statistics; ``None``: cumulative average.
        eps: added to the covariance's diagonal before whitening.
        method: ``"cholesky"`` or ``"zca"``.

    Shapes:
        ``forward(h: (B, d), update: bool = True) -> (B, d)``; ``B >= 2`` in training.
    """

    second_moment = "running_cov"
    running_cov: Tensor
    method: str

    def __init__(self, dim: int, mode: str = "gaussian", squash: str = "ndtr",
                 momentum: float | None = 0.1, eps: float = 1e-5, method: str = "cholesky",
                 gaussianize: bool = False, radialize: bool = False,
                 final_whiten: bool = False, final_whiten_method: str = "cholesky") -> None:
        super().__init__(dim, mode=mode, squash=squash, momentum=momentum, eps=eps, gaussianize=gaussianize,
                         radialize=radialize, final_whiten=final_whiten, final_whiten_method=final_whiten_method)
        self.method = check_choice("method", method, WHITEN_METHODS)

    def _identity(self) -> Tensor:
        return torch.eye(self.dim)

    def _batch_stats(self, h: Tensor) -> tuple[Tensor, Tensor, int]:
        """Mean, *biased* covariance and row count of ``h`` (differentiable)."""
        mean = h.mean(dim=0)
        centred = h - mean
        return mean, centred.T @ centred / h.shape[0], h.shape[0]

    def _normalize(self, work: Tensor, mean: Tensor, cov: Tensor) -> Tensor:
        return (work - mean) @ whitening_matrix(cov, self.method, self.eps).T

    # as the last stage of another normalization (``final_whiten``) it is used like the rank stages;
    # its ``calibrate`` is the base class's
    def _eval_map(self, s: Tensor) -> Tensor:
        """``s`` whitened with the running mean and covariance (the evaluation map)."""
        return self._running_normalize(widened(s)).to(s.dtype)

    def extra_repr(self) -> str:
        sq = f", squash={self.squash!r}" if self.mode == "uniform" else ""
        return f"{self.dim}, mode={self.mode!r}{sq}, method={self.method!r}, momentum={self.momentum}, eps={self.eps}"
