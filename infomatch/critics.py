"""Critics ``T(a, b)``: score every row of ``a`` against every row of ``b``.

``forward(a: (B, d), b: (N, d)) -> scores (B, N)`` with ``scores[i, j] = T(a_i, b_j)``; the
bounds in :mod:`infomatch.bounds` read the positives at column ``offset + i``.

- :class:`SeparableCritic` ``T(a, b) = sim(g(a), h(b)) / temperature`` with ``sim`` the dot
  product, the cosine or the negative half squared Euclidean distance, and optional MLP
  projection heads ``g``, ``h``. Costs one matrix product.
- :class:`BilinearCritic` ``T(a, b) = a^T W b``.
- :class:`ConcatCritic` the paper's MLP on concatenated pairs,
  ``Linear(2d, 256) - LeakyReLU - Linear(256, 256) - LeakyReLU - Linear(256, 1)``, evaluated on
  all ``B x N`` pairs. The first layer is split (``W [a; b] = W_a a + W_b b``) so it costs two
  small products; the ``B x N x hidden`` activations are computed in row chunks, and with
  autograd on every chunk is checkpointed (recomputed in the backward pass), so peak memory is
  set by the chunk, not by ``B x N``. The chunk size is chosen from ``memory_budget_mb`` unless
  given.

Example:
    >>> import torch
    >>> critic = make_critic("concat", 16, hidden=32)
    >>> critic(torch.randn(8, 16), torch.randn(10, 16)).shape
    torch.Size([8, 10])
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from infomatch._checks import (
    check_choice,
    check_matrix,
    check_positive,
    check_positive_int,
    keyword_names,
)

__all__ = [
    "CRITIC_NAMES",
    "BilinearCritic",
    "ConcatCritic",
    "SeparableCritic",
    "make_critic",
]

CRITIC_NAMES = ("separable", "bilinear", "concat")
SIMILARITIES = ("dot", "cosine", "euclidean")


def _check_pair(a: Any, b: Any, dim: int) -> None:
    check_matrix("a", a, dim=dim, finite=False)
    check_matrix("b", b, dim=dim, finite=False)
    if a.dtype != b.dtype:
        raise ValueError(f"b must have the dtype of a ({a.dtype}); got dtype {b.dtype}")


def _mlp(dim: int, hidden: int, out: int, negative_slope: float = 0.01) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, hidden), nn.LeakyReLU(negative_slope), nn.Linear(hidden, out))


class _Scale(nn.Module):
    """Multiply by a learnable positive scalar (parametrized by its log, starts at 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.log_scale.exp().to(x.dtype)


class SeparableCritic(nn.Module):
    """``T(a, b) = sim(g(a), h(b)) / temperature``.

    Args:
        dim: input dimension ``d``.
        similarity: ``"dot"`` (``u.v``), ``"cosine"`` (``u.v / (|u| |v|)``) or ``"euclidean"``
            (``-|u - v|^2 / 2``; for InfoNCE this is the optimal critic of an additive Gaussian
            channel when ``temperature = sigma^2``).
        temperature: positive divisor of the similarity.
        learn_temperature: make ``log(temperature)`` a trainable parameter.
        head: heads applied to ``a`` and ``b`` before the similarity: ``None`` (none),
            ``"scale"`` (a learnable positive scalar per side), ``"linear"``
            (``Linear(d, projection)``) or ``"mlp"`` (``Linear(d, hidden)-LeakyReLU-Linear(hidden,
            projection)``). Default: ``"mlp"`` if ``projection`` is given, else none. With
            ``similarity="euclidean"`` and ``head="scale"`` the critic
            ``-|s_a a - s_b b|^2 / (2 t)`` contains the optimal InfoNCE critic of NINE's Gaussian
            channel, ``log p(a | b) = -(1 + sigma^2) |a - b / (1 + sigma^2)|^2 / (2 sigma^2)``.
        projection: output dimension of ``"linear"``/``"mlp"`` heads (default ``dim``).
        hidden: hidden width of the MLP heads (and of the potentials).
        shared_heads: use one head for both sides.
        potentials: add marginal terms ``u(a) + v(b)`` (two MLPs ``Linear(d, hidden)-LeakyReLU-
            Linear(hidden, 1)``). InfoNCE ignores ``u`` (it cancels in each row's softmax), but
            the bounds that compare positives with all negatives (DV, NWJ, JSD) need them: the
            optimal critic ``log p(a, b) / (p(a) p(b)) (+1 for NWJ)`` has marginal terms and a
            constant that a pure similarity cannot express.
    """

    def __init__(
        self,
        dim: int,
        similarity: str = "dot",
        temperature: float = 1.0,
        learn_temperature: bool = False,
        head: str | None = None,
        projection: int | None = None,
        hidden: int = 256,
        shared_heads: bool = False,
        potentials: bool = False,
    ) -> None:
        super().__init__()
        self.dim = check_positive_int("dim", dim)
        self.similarity = check_choice("similarity", similarity, SIMILARITIES)
        temperature = check_positive("temperature", temperature)
        log_t = torch.tensor(math.log(temperature))
        if learn_temperature:
            self.log_temperature = nn.Parameter(log_t)
        else:
            self.register_buffer("log_temperature", log_t)
        if head is None and projection is not None:
            head = "mlp"
        self.head = None if head is None else check_choice("head", head, ("scale", "linear", "mlp"))
        out_dim = dim if projection is None else check_positive_int("projection", projection)
        hidden = check_positive_int("hidden", hidden)

        def make() -> nn.Module:
            if self.head is None:
                return nn.Identity()
            if self.head == "scale":
                return _Scale()
            if self.head == "linear":
                return nn.Linear(dim, out_dim)
            return _mlp(dim, hidden, out_dim)

        self.head_a: nn.Module = make()
        self.head_b: nn.Module = self.head_a if shared_heads else make()
        self.potentials = bool(potentials)
        if self.potentials:
            self.potential_a = _mlp(dim, hidden, 1)
            self.potential_b = _mlp(dim, hidden, 1)

    @property
    def temperature(self) -> float:
        return float(self.log_temperature.detach().exp())

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        _check_pair(a, b, self.dim)
        u, v = self.head_a(a), self.head_b(b)
        if self.similarity == "cosine":
            u, v = F.normalize(u, dim=1), F.normalize(v, dim=1)
        scores = u @ v.T
        if self.similarity == "euclidean":
            # -|u - v|^2 / 2 = u.v - |u|^2/2 - |v|^2/2 (exact algebra, one matrix product)
            scores = scores - 0.5 * u.square().sum(1, keepdim=True) - 0.5 * v.square().sum(1)
        scores = scores / self.log_temperature.exp().to(scores.dtype)
        if self.potentials:
            scores = scores + self.potential_a(a) + self.potential_b(b).T
        return scores

    def extra_repr(self) -> str:
        return f"{self.dim}, similarity={self.similarity!r}, temperature={self.temperature:.4g}"


class BilinearCritic(nn.Module):
    """``T(a, b) = a^T W b`` with ``W`` initialized to the identity (a dot product).

    Args:
        dim: input dimension ``d``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = check_positive_int("dim", dim)
        self.weight = nn.Parameter(torch.eye(dim))

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        _check_pair(a, b, self.dim)
        return (a @ self.weight.to(a.dtype)) @ b.T

    def extra_repr(self) -> str:
        return f"{self.dim}"


class ConcatCritic(nn.Module):
    """The paper's concatenation MLP ``T(a, b) = MLP([a; b])`` on all ``B x N`` pairs, chunked.

    Args:
        dim: input dimension ``d`` (the MLP's input is ``2 d``).
        hidden: width of the two hidden layers (paper: 256).
        negative_slope: LeakyReLU slope.
        chunk_size: rows of ``a`` per chunk; ``None`` chooses it from ``memory_budget_mb``.
        memory_budget_mb: memory one chunk may use, counting ~6 live ``(rows, N, hidden)``
            float tensors (forward, recomputation and backward of a chunk).
        checkpoint_chunks: recompute chunk activations in the backward pass (keeps peak memory
            bounded by the chunk); if False every chunk's activations stay alive until backward.

    Memory: with autograd, peak ~ ``memory_budget_mb`` + O(B N) for the scores and their
    gradient + O((B + N) hidden). ``benchmarks/bench_critic_memory.py`` measures B = 2048.
    """

    BYTES_FACTOR = 6  # live (rows, N, hidden) tensors per chunk during backward

    def __init__(
        self,
        dim: int,
        hidden: int = 256,
        negative_slope: float = 0.01,
        chunk_size: int | None = None,
        memory_budget_mb: float = 256.0,
        checkpoint_chunks: bool = True,
    ) -> None:
        super().__init__()
        self.dim = check_positive_int("dim", dim)
        self.hidden = check_positive_int("hidden", hidden)
        self.negative_slope = check_positive("negative_slope", negative_slope)
        self.chunk_size = None if chunk_size is None else check_positive_int("chunk_size", chunk_size)
        self.memory_budget_mb = check_positive("memory_budget_mb", memory_budget_mb)
        self.checkpoint_chunks = bool(checkpoint_chunks)
        self.layer1 = nn.Linear(2 * dim, hidden)
        self.layer2 = nn.Linear(hidden, hidden)
        self.layer3 = nn.Linear(hidden, 1)

    def pair_scores(self, a: Tensor, b: Tensor) -> Tensor:
        """Row-aligned scores ``T(a_i, b_i)`` for ``a, b`` of shape ``(B, d)`` -> ``(B,)``."""
        _check_pair(a, b, self.dim)
        act = self.negative_slope
        h = F.leaky_relu(self.layer1(torch.cat([a, b], dim=1)), act)
        return self.layer3(F.leaky_relu(self.layer2(h), act)).squeeze(1)

    def rows_per_chunk(self, n: int, dtype: torch.dtype = torch.float32) -> int:
        """Rows of ``a`` per chunk for ``n`` columns (explicit ``chunk_size`` or from the budget)."""
        if self.chunk_size is not None:
            return self.chunk_size
        per_row = n * self.hidden * torch.finfo(dtype).bits // 8 * self.BYTES_FACTOR
        return max(1, int(self.memory_budget_mb * 2**20) // per_row)

    def _chunk(self, pa: Tensor, pb: Tensor, w2: Tensor, b2: Tensor, w3: Tensor, b3: Tensor) -> Tensor:
        act = self.negative_slope
        h = F.leaky_relu(pa.unsqueeze(1) + pb.unsqueeze(0), act)  # (c, N, hidden)
        h = F.leaky_relu(F.linear(h, w2, b2), act)
        return F.linear(h, w3, b3).squeeze(-1)  # (c, N)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        _check_pair(a, b, self.dim)
        w1 = self.layer1.weight
        pa = F.linear(a, w1[:, : self.dim], self.layer1.bias)  # (B, hidden), bias added once
        pb = F.linear(b, w1[:, self.dim :])  # (N, hidden)
        params = (self.layer2.weight, self.layer2.bias, self.layer3.weight, self.layer3.bias)
        rows = self.rows_per_chunk(b.shape[0], a.dtype)
        use_ckpt = self.checkpoint_chunks and torch.is_grad_enabled()
        out = []
        for start in range(0, a.shape[0], rows):
            chunk = pa[start : start + rows]
            if use_ckpt:
                out.append(checkpoint(self._chunk, chunk, pb, *params, use_reentrant=False))
            else:
                out.append(self._chunk(chunk, pb, *params))
        return torch.cat(out, dim=0)

    def extra_repr(self) -> str:
        return f"{self.dim}, hidden={self.hidden}, chunk_size={self.chunk_size}, memory_budget_mb={self.memory_budget_mb}"


_CRITICS: dict[str, type[nn.Module]] = {
    "separable": SeparableCritic,
    "bilinear": BilinearCritic,
    "concat": ConcatCritic,
}


def make_critic(name: str, dim: int, **kwargs: Any) -> nn.Module:
    """Build a critic by name: ``separable``, ``bilinear`` or ``concat``.

    Example:
        >>> critic = make_critic("separable", 8, similarity="cosine", temperature=0.1)
        >>> critic.similarity, round(critic.temperature, 4)
        ('cosine', 0.1)
    """
    check_choice("critic", name, CRITIC_NAMES)
    cls = _CRITICS[name]
    allowed = set(keyword_names(cls.__init__, exclude=["dim"]))
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(
            f"critic_kwargs must only contain {', '.join(sorted(allowed))} for the {name} critic; "
            f"got {unknown[0]!r}"
        )
    return cls(dim, **kwargs)
