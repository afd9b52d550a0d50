"""Post-hoc Gaussianization of a trained representation: PCA whitening, RBIG, a normalizing flow.

The alternative to matching the prior during training is to train without it (``plain``) and
fit an invertible map to N(0, I) afterwards. Each transform here is a scikit-learn style
estimator: ``fit`` on the training embeddings, ``transform`` held-out ones; its output follows
N(0, I) as far as the transform can make it, and :func:`to_prior` maps that to the prior's space
(the prior's inverse CDF of the normal CDF for product priors, e.g. U[0, 1]^d through Phi).

- :class:`PCAWhitening`: rotation to principal axes and scaling to unit variance
  (scikit-learn's ``PCA(whiten=True)``); matches the first two moments only.
- :class:`RBIG`: rotation-based iterative Gaussianization (Laparra, Camps-Valls and Malo,
  "Iterative Gaussianization: from ICA to Random Rotations", IEEE Trans. Neural Networks 2011):
  rounds of marginal Gaussianization (scikit-learn's ``QuantileTransformer``) and a random
  rotation, then a last marginal Gaussianization.
- :class:`FlowGaussianizer`: a neural spline flow (Durkan, Bekasov, Murray and Papamakarios,
  "Neural Spline Flows", NeurIPS 2019; ``zuko.flows.NSF``) fitted by maximum likelihood on
  marginally Gaussianized data; its forward transform maps the data to its N(0, I) base.

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).exponential(size=(2000, 3))
    >>> g = RBIG(rounds=3).fit(x).transform(x)
    >>> bool(abs(g.mean()) < 0.05 and abs(g.std() - 1) < 0.05)
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from infomatch._checks import check_positive_int
from infomatch.priors import Prior, get_prior

__all__ = ["POSTHOC", "FlowGaussianizer", "PCAWhitening", "RBIG", "make_posthoc", "to_prior"]


def _check_x(name: str, x: Any, dim: int | None = None) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"{name} must have shape (n, d) with n >= 2; got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite; got {int((~np.isfinite(a)).sum())} NaN/inf values")
    if dim is not None and a.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns (as fitted); got {a.shape[1]}")
    return a


class PCAWhitening:
    """``PCA(whiten=True)``: decorrelate and scale to unit variance.

    Example:
        >>> x = np.random.default_rng(0).standard_normal((500, 2)) @ np.array([[2.0, 1.0], [0.0, 0.5]])
        >>> bool(np.allclose(np.cov(PCAWhitening().fit(x).transform(x).T), np.eye(2)))
        True
    """

    def __init__(self) -> None:
        self.pca_: Any = None

    def fit(self, x: Any) -> PCAWhitening:
        from sklearn.decomposition import PCA

        a = _check_x("x", x)
        self.pca_ = PCA(whiten=True).fit(a)
        self.dim_ = a.shape[1]
        return self

    def transform(self, x: Any) -> np.ndarray:
        if self.pca_ is None:
            raise ValueError("PCAWhitening is not fitted; call fit(x) first")
        return self.pca_.transform(_check_x("x", x, self.dim_))


class RBIG:
    """Rotation-based iterative Gaussianization (``rounds`` rounds, random rotations).

    Args:
        rounds: marginal-Gaussianization + rotation rounds (default 30).
        n_quantiles: quantiles of each marginal map (default 1000, at most n).
        seed: seed of the rotations.
    """

    def __init__(self, rounds: int = 30, n_quantiles: int = 1000, seed: int = 0) -> None:
        self.rounds = check_positive_int("rounds", rounds)
        self.n_quantiles = check_positive_int("n_quantiles", n_quantiles)
        self.seed = seed
        self.steps_: list[tuple[Any, np.ndarray | None]] = []

    def _marginal(self, a: np.ndarray) -> Any:
        from sklearn.preprocessing import QuantileTransformer

        return QuantileTransformer(n_quantiles=min(self.n_quantiles, len(a)), output_distribution="normal",
                                   subsample=10**9, random_state=self.seed).fit(a)

    def fit(self, x: Any) -> RBIG:
        from scipy.stats import ortho_group

        a = _check_x("x", x)
        self.dim_ = a.shape[1]
        rng = np.random.default_rng(self.seed)
        self.steps_ = []
        for _ in range(self.rounds):
            qt = self._marginal(a)
            rot = ortho_group.rvs(self.dim_, random_state=rng) if self.dim_ > 1 else np.ones((1, 1))
            a = qt.transform(a) @ rot
            self.steps_.append((qt, rot))
        self.steps_.append((self._marginal(a), None))
        return self

    def transform(self, x: Any) -> np.ndarray:
        if not self.steps_:
            raise ValueError("RBIG is not fitted; call fit(x) first")
        a = _check_x("x", x, self.dim_)
        for qt, rot in self.steps_:
            a = qt.transform(a)
            if rot is not None:
                a = a @ rot
        return a


class FlowGaussianizer:
    """A ``zuko`` neural spline flow fitted by maximum likelihood after a marginal Gaussianization.

    The marginal step (scikit-learn's ``QuantileTransformer``) takes the heavy or bounded tails,
    which a spline flow on a bounded domain handles badly; the flow then removes the dependence.

    Args:
        transitions: autoregressive spline transforms (default 3); hidden: widths of their MLPs.
        steps: Adam steps (default 500) on mini-batches of ``batch_size`` (default 512).
        lr: learning rate (default 1e-3); seed: seed of the initialization and batches.
    """

    def __init__(self, transitions: int = 3, hidden: tuple[int, ...] = (64, 64), steps: int = 500,
                 batch_size: int = 512, lr: float = 1e-3, seed: int = 0) -> None:
        self.transitions = check_positive_int("transitions", transitions)
        self.hidden = tuple(int(h) for h in hidden)
        self.steps = check_positive_int("steps", steps)
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.lr, self.seed = float(lr), seed
        self.flow_: Any = None

    def fit(self, x: Any) -> FlowGaussianizer:
        import torch

        try:
            import zuko  # noqa: F401 - checked here, used in _train
        except ImportError:  # pragma: no cover - zuko is in the dev and flows extras
            raise ValueError("the flow transform needs zuko: pip install 'infomatch[flows]'") from None
        a = _check_x("x", x)
        self.dim_ = a.shape[1]
        from sklearn.preprocessing import QuantileTransformer

        self.marginal_ = QuantileTransformer(n_quantiles=min(1000, len(a)), output_distribution="normal",
                                             subsample=10**9, random_state=self.seed).fit(a)
        data = torch.as_tensor(self.marginal_.transform(a), dtype=torch.float32)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a small network: one thread is fastest and never waits on a busy core
        try:
            flow = self._train(data)
        finally:
            torch.set_num_threads(threads)
        self.flow_ = flow.eval()
        return self

    def _train(self, data: Any) -> Any:
        import torch
        import zuko

        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            flow = zuko.flows.NSF(self.dim_, transforms=self.transitions, hidden_features=self.hidden)
            opt = torch.optim.Adam(flow.parameters(), lr=self.lr)
            g = torch.Generator().manual_seed(self.seed)
            for _ in range(self.steps):
                idx = torch.randint(len(data), (min(self.batch_size, len(data)),), generator=g)
                loss = -flow().log_prob(data[idx]).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        return flow

    def transform(self, x: Any) -> np.ndarray:
        import torch

        if self.flow_ is None:
            raise ValueError("FlowGaussianizer is not fitted; call fit(x) first")
        a = _check_x("x", x, self.dim_)
        data = torch.as_tensor(self.marginal_.transform(a), dtype=torch.float32)
        with torch.no_grad():
            z = self.flow_().transform(data)
        return z.double().numpy()


POSTHOC: dict[str, type] = {"pca": PCAWhitening, "rbig": RBIG, "flow": FlowGaussianizer}


def make_posthoc(name: str, **params: Any) -> Any:
    """An unfitted post-hoc transform by name (``pca``, ``rbig``, ``flow``)."""
    if name not in POSTHOC:
        raise ValueError(f"post-hoc transform must be one of {', '.join(POSTHOC)}; got {name!r}")
    return POSTHOC[name](**params)


def to_prior(g: Any, prior: Prior | str) -> np.ndarray:
    """Map N(0, I) values ``g`` into ``prior``'s space (float32): the prior's inverse CDF of
    ``Phi(g)`` for product priors, the flow for a flow prior (Gaussian base).

    Example:
        >>> u = to_prior(np.zeros((1, 2)), "uniform")
        >>> u.tolist()
        [[0.5, 0.5]]
    """
    import torch

    p = get_prior(prior) if isinstance(prior, str) else prior
    r = torch.as_tensor(np.asarray(g, dtype=np.float64))
    if p.base == "uniform":
        r = torch.special.ndtr(r)
    with torch.no_grad():
        return p.from_representation(r).numpy().astype(np.float32)
