"""Outlier scores of embeddings (higher = more unusual) and their detection figures.

Scores of new embeddings ``z`` (prior space, ``(n, d)``):

- ``density``: the prior's negative log-density ``-log p(z)``;
- ``typicality``: how far ``z`` is from the prior's typical set. ``z`` is mapped to the
  Gaussian scale (:meth:`ResolvedPrior.gaussianize`), and the score is the two-sided
  chi-square(d) tail of its squared radius, ``-log(2 min(F(r^2), 1 - F(r^2)))``: in d dimensions
  nearly all of N(0, I)'s mass lies near radius sqrt(d), so points *near the centre* are as
  atypical as points far out, although the density is highest there;
- ``mahalanobis``: squared Mahalanobis distance to a Gaussian fitted to training embeddings
  (``sklearn.covariance.EmpiricalCovariance``);
- ``knn``: mean Euclidean distance to the ``k`` nearest training embeddings
  (``sklearn.neighbors.NearestNeighbors``).

:func:`detection_figures` gives AUROC and the false-positive rate at 95 % true-positive rate
(outliers are the positives) from inlier and outlier scores.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> inl, centre = rng.standard_normal((500, 16)), 0.3 * rng.standard_normal((500, 16))
    >>> d = detection_figures(outlier_scores(inl, "density", "gaussian"), outlier_scores(centre, "density", "gaussian"))
    >>> t = detection_figures(outlier_scores(inl, "typicality", "gaussian"), outlier_scores(centre, "typicality", "gaussian"))
    >>> d["auroc"] < 0.01, t["auroc"] > 0.99
    (True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from infomatch.metrics._inputs import check_embeddings, resolve_prior
from infomatch.priors import Prior

__all__ = ["FITTED_SCORES", "SCORES", "detection_figures", "outlier_scores"]

SCORES = ("knn", "density", "typicality", "mahalanobis")
#: the scores fitted on the training embeddings (the others need only the prior)
FITTED_SCORES = ("knn", "mahalanobis")


def outlier_scores(z: Any, method: str, prior: Prior | str | None = "gaussian", *, train: Any = None,
                   k: int = 5, **prior_params: Any) -> np.ndarray:
    """Outlier score of each row of ``z`` (higher = more unusual); see the module docstring.

    ``prior`` is needed by ``density`` and ``typicality``; ``train`` (training embeddings) by
    ``mahalanobis`` and ``knn``.

    Example:
        >>> import numpy as np
        >>> train = np.random.default_rng(0).standard_normal((200, 2))
        >>> s = outlier_scores(np.array([[0.0, 0.0], [5.0, 5.0]]), "knn", train=train)
        >>> bool(s[1] > s[0])
        True
    """
    if method not in SCORES:
        raise ValueError(f"method must be one of {', '.join(map(repr, SCORES))}; got {method!r}")
    x = check_embeddings("embeddings", z, min_rows=1)
    if method not in FITTED_SCORES:
        if prior is None:
            raise ValueError(f"method {method!r} needs a prior")
        rp = resolve_prior(prior, **prior_params)
        x = check_embeddings("embeddings", x, dim=rp.dim, min_rows=1)
        if method == "density":
            s = -rp.log_prob(x)
            return np.nan_to_num(s, nan=np.inf, posinf=np.finfo(np.float64).max)
        r2 = (rp.gaussianize(x) ** 2).sum(axis=1)
        d = x.shape[1]
        two_sided = np.minimum(stats.chi2.logcdf(r2, d), stats.chi2.logsf(r2, d)) + np.log(2.0)
        return -np.minimum(two_sided, 0.0)
    if train is None:
        raise ValueError(f"method {method!r} needs the training embeddings (train=...)")
    t = check_embeddings("training embeddings", train, dim=x.shape[1], min_rows=2)
    if method == "mahalanobis":
        from sklearn.covariance import EmpiricalCovariance

        return EmpiricalCovariance().fit(t).mahalanobis(x)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(t):
        raise ValueError(f"k must be an integer in 1..{len(t)} (the number of training embeddings); got {k!r}")
    from sklearn.neighbors import NearestNeighbors

    dist, _ = NearestNeighbors(n_neighbors=int(k)).fit(t).kneighbors(x)
    return dist.mean(axis=1)


def detection_figures(inlier_scores: Any, outlier_scores_: Any) -> dict[str, float]:
    """AUROC and FPR at 95 % TPR of scores where outliers should score higher.

    Ties count as half (``sklearn.metrics.roc_auc_score``); the FPR is read off
    ``sklearn.metrics.roc_curve`` at the first threshold reaching 95 % TPR.

    Example:
        >>> detection_figures([0.0, 1.0, 2.0], [3.0, 4.0])
        {'auroc': 1.0, 'fpr_at_95_tpr': 0.0}
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    a = np.asarray(inlier_scores, dtype=np.float64).ravel()
    b = np.asarray(outlier_scores_, dtype=np.float64).ravel()
    if len(a) == 0 or len(b) == 0:
        raise ValueError(f"need inlier and outlier scores; got {len(a)} and {len(b)}")
    y = np.r_[np.zeros(len(a)), np.ones(len(b))]
    s = np.nan_to_num(np.r_[a, b], nan=np.inf, posinf=np.finfo(np.float64).max)
    fpr, tpr, _ = roc_curve(y, s)
    return {"auroc": float(roc_auc_score(y, s)), "fpr_at_95_tpr": float(fpr[np.searchsorted(tpr, 0.95)])}
