"""Input handling shared by the metrics: embeddings, labels and the prior they are judged against.

Metrics work on plain numpy arrays ``(n, d)`` in the prior's space. A prior is given as an
:class:`infomatch.priors.Prior` or as a name plus parameters (``get_prior(name, **params)``).
Everything numeric is done in float64 numpy; a product prior's scipy ``marginal`` gives CDFs,
densities and samples, a flow prior (``marginal is None``) is used through its torch methods.

Example:
    >>> import numpy as np
    >>> p = resolve_prior("uniform")
    >>> p.gaussianize(np.array([[0.25, 0.975]])).round(2)
    array([[-0.67,  1.96]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import special

from infomatch.priors import Prior, get_prior

__all__ = ["ResolvedPrior", "check_embeddings", "check_labels", "resolve_prior"]

# ndtri(1e-300) ~ -37: probabilities are clipped here so that Gaussianized values stay finite.
_P_TINY = 1e-300


def check_embeddings(name: str, z: Any, *, dim: int | None = None, min_rows: int = 10) -> np.ndarray:
    """Return ``z`` as a float64 array ``(n, d)``; one-line ``ValueError`` on bad input.

    Rejects non-numeric or non-2-D input, fewer than ``min_rows`` rows, a column count other
    than ``dim`` and rows containing NaN or inf (naming how many and the first one).

    Example:
        >>> check_embeddings("z", [[0.0, 1.0]] * 10).shape
        (10, 2)
    """
    if isinstance(z, torch.Tensor):
        z = z.detach().cpu().numpy()
    try:
        arr = np.asarray(z, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array of shape (n, d); got {type(z).__name__}") from exc
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d); got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} rows; got shape {arr.shape}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column; got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns to match the prior; got shape {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} has {int(bad.sum())} rows with NaN or inf values (first: row {first})")
    return arr


def check_labels(name: str, y: Any, n: int) -> np.ndarray:
    """Return ``y`` as a 1-D array of length ``n`` (integer or string class labels).

    Example:
        >>> check_labels("labels", [0, 1, 1], 3)
        array([0, 1, 1])
    """
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels; got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} must have one label per embedding row ({n}); got {arr.shape[0]}")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or inf values")
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold class labels (integers); got non-integer floats")
        arr = arr.astype(np.int64)
    if len(np.unique(arr)) < 2:
        raise ValueError(f"{name} must contain at least two classes; got {len(np.unique(arr))}")
    return arr


@dataclass(frozen=True)
class ResolvedPrior:
    """A prior seen through numpy: what the battery needs and nothing else.

    Attributes:
        prior: the underlying :class:`~infomatch.priors.Prior`.
        key: a hashable description used to cache reference draws.
        dim: the fixed dimension of a flow prior, None for product priors.
    """

    prior: Prior
    key: tuple[Any, ...]
    dim: int | None

    @property
    def name(self) -> str:
        return self.prior.name

    @property
    def marginal(self) -> Any:
        return self.prior.marginal

    def sample(self, n: int, d: int, seed: int) -> np.ndarray:
        """An i.i.d. sample ``(n, d)`` float64 from the prior, deterministic in ``seed``."""
        if self.marginal is not None:
            return np.asarray(self.marginal.rvs(size=(n, d), random_state=np.random.default_rng(seed)),
                              dtype=np.float64)
        gen = torch.Generator().manual_seed(int(seed))
        return self.prior.sample(n, d, generator=gen).double().numpy()

    def cdf(self, z: np.ndarray) -> np.ndarray:
        """Marginal CDF of every entry (product priors only)."""
        return np.asarray(self.marginal.cdf(z), dtype=np.float64)

    def gaussianize(self, z: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """Map prior-space values to the N(0, I) scale, float64, finite (tails clipped near 1e-300).

        ``u``: the marginal CDF of ``z`` if already computed (product priors).
        """
        m = self.marginal
        if m is None:
            with torch.no_grad():
                g = self.prior.gaussianize(torch.as_tensor(z, dtype=torch.float32)).double().numpy()
            return np.nan_to_num(g, nan=0.0, posinf=37.5, neginf=-37.5)
        if self.name == "gaussian":
            return (z - float(m.mean())) / float(m.std())
        lower = self.cdf(z) if u is None else u
        g = special.ndtri(np.clip(lower, _P_TINY, 1.0))
        upper = lower > 0.5  # far in the upper tail 1 - cdf loses digits: use the survival function
        if upper.any():
            g[upper] = -special.ndtri(np.clip(np.asarray(m.sf(z[upper]), dtype=np.float64), _P_TINY, 1.0))
        return g

    def log_prob(self, z: np.ndarray) -> np.ndarray:
        """Joint log-density of each row ``(n,)``."""
        if self.marginal is not None:
            return np.asarray(self.marginal.logpdf(z), dtype=np.float64).sum(axis=1)
        with torch.no_grad():
            return self.prior.log_prob(torch.as_tensor(z, dtype=torch.float32)).double().numpy()


def resolve_prior(prior: Prior | str | ResolvedPrior, **params: Any) -> ResolvedPrior:
    """Accept a :class:`Prior` or a prior name (plus parameters) and return a :class:`ResolvedPrior`.

    Example:
        >>> resolve_prior("student_t", df=5.0).marginal.kwds["df"]
        5.0
    """
    if isinstance(prior, ResolvedPrior):
        return prior
    if isinstance(prior, str):
        prior = get_prior(prior, **params)
    elif params:
        raise ValueError(f"prior parameters are only accepted with a prior name; got {sorted(params)}")
    if not isinstance(prior, Prior):
        raise ValueError(f"prior must be a Prior or a prior name; got {type(prior).__name__}")
    dim = getattr(prior, "dim", None) if prior.marginal is None else None
    if prior.marginal is not None:
        key: tuple[Any, ...] = ("product", tuple(sorted(prior.to_dict().items())))
    else:  # a flow's weights are not in to_dict(): cache by object identity
        key = ("flow", id(prior), dim)
    return ResolvedPrior(prior=prior, key=key, dim=dim)
