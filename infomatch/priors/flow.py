"""Non-product priors: a normalizing flow whose base distribution is N(0, I) (optional zuko)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from infomatch._checks import check_choice, check_positive, check_positive_int
from infomatch.priors.base import Prior, _check_rows


class FlowPrior(nn.Module, Prior):
    """A non-product prior: a normalizing flow whose base distribution is N(0, I).

    The network learns a Gaussian representation ``r ~ N(0, I)`` (base ``"gaussian"``);
    ``from_representation`` pushes it through the flow's sampling direction (base -> data), so
    the result is distributed as the flow's distribution; ``to_representation`` is the flow's
    normalizing direction (data -> base) and equals :meth:`gaussianize`. ``log_prob`` is the
    flow's density. Works with a ``zuko`` flow (``flow()`` returns a distribution with a
    ``transform`` from data to base and a standard normal ``base``); ``zuko`` is only needed to
    build one (see :func:`make_flow_prior`).

    Args:
        flow: an unconditional ``zuko.flows.Flow`` (any module whose call with no argument
            returns a ``zuko.distributions.NormalizingFlow``) with an N(0, I) base.
        dim: the number of dimensions of the flow.

    Example:
        >>> import torch, zuko
        >>> prior = FlowPrior(zuko.flows.MAF(features=2, transforms=1), dim=2)
        >>> prior.sample(3, 2).shape
        torch.Size([3, 2])
    """

    name = "flow"
    base = "gaussian"
    marginal = None

    def __init__(self, flow: nn.Module, dim: int) -> None:
        super().__init__()
        self.dim = check_positive_int("dim", dim)
        if not callable(flow):
            raise ValueError(f"flow must be a callable zuko flow; got {type(flow).__name__}")
        self.flow = flow

    def _dist(self) -> Any:
        return self.flow()

    def _check(self, z: Any, name: str) -> Tensor:
        z = _check_rows(z, name)
        if z.shape[1] != self.dim:
            raise ValueError(f"{name} must have {self.dim} columns; got shape {tuple(z.shape)}")
        return z

    def from_representation(self, r: Tensor) -> Tensor:
        r = self._check(r, "r")
        return self._dist().transform.inv(r)

    def to_representation(self, z: Tensor) -> Tensor:
        z = self._check(z, "z")
        return self._dist().transform(z)

    def gaussianize(self, z: Tensor) -> Tensor:
        return self.to_representation(z)

    def log_prob(self, z: Tensor) -> Tensor:
        z = self._check(z, "z")
        return self._dist().log_prob(z)

    def sample(self, n: int, d: int, generator: torch.Generator | None = None) -> Tensor:
        n = check_positive_int("n", n)
        d = check_positive_int("d", d)
        if d != self.dim:
            raise ValueError(f"d must equal the flow's dimension {self.dim}; got {d!r}")
        param = next(self.flow.parameters(), None)
        device = param.device if param is not None else None
        r = torch.randn(n, d, generator=generator, device=device)
        with torch.no_grad():
            return self.from_representation(r).float()

    def to_dict(self) -> dict[str, Any]:
        """Description only: the flow's weights live in its ``state_dict``, not in the config."""
        return {"name": "flow", "base": "gaussian", "dim": self.dim}

    def fit(self, data: Tensor, steps: int = 500, lr: float = 1e-3, batch_size: int = 256,
            generator: torch.Generator | None = None) -> FlowPrior:
        """Fit the flow to samples of the target by maximum likelihood (Adam); returns self."""
        data = self._check(data, "data")
        steps = check_positive_int("steps", steps)
        batch_size = check_positive_int("batch_size", batch_size)
        lr = check_positive("lr", lr)
        opt = torch.optim.Adam(self.flow.parameters(), lr=lr)
        for _ in range(steps):
            idx = torch.randint(0, data.shape[0], (min(batch_size, data.shape[0]),), generator=generator)
            loss = -self.log_prob(data[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return self


def make_flow_prior(dim: int, transforms: int = 3, hidden: tuple[int, ...] = (64, 64),
                    kind: str = "nsf") -> FlowPrior:
    """Build a :class:`FlowPrior` around a fresh zuko flow (``kind``: ``"nsf"`` or ``"maf"``).

    Raises ``ImportError`` with install instructions when ``zuko`` is missing.

    Example:
        >>> prior = make_flow_prior(2, transforms=1)
        >>> prior.base
        'gaussian'
    """
    dim = check_positive_int("dim", dim)
    transforms = check_positive_int("transforms", transforms)
    check_choice("kind", kind, ("nsf", "maf"))
    try:
        import zuko  # noqa: PLC0415  (optional dependency, imported lazily)
    except ImportError as exc:  # pragma: no cover - exercised only without zuko
        raise ImportError(
            "flow priors need the optional dependency zuko: pip install 'infomatch[flows]'"
        ) from exc
    cls = zuko.flows.NSF if kind == "nsf" else zuko.flows.MAF
    flow = cls(features=dim, context=0, transforms=transforms, hidden_features=tuple(hidden))
    return FlowPrior(flow, dim)
