"""Downstream quality of embeddings: linear probe, kNN accuracy and density-based outlier AUROC.

The probes are plain scikit-learn, so their numbers can be reproduced with a few lines:

- linear probe: ``make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))``
  fitted on the training embeddings, accuracy on the held-out ones;
- kNN: ``KNeighborsClassifier(n_neighbors=k)`` (Euclidean, uniform weights) on the raw
  embeddings (they already live on the prior's scale);
- outlier AUROC: score ``-log p(z)`` under the prior for in-distribution and "other" embeddings
  (e.g. classes excluded from training); AUROC of telling them apart (1 = perfect, 0.5 = chance).

When there is only one labelled array, :func:`stratified_split` makes a seeded stratified
train / test split (``sklearn.model_selection.train_test_split(..., stratify=labels)``).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400); z = rng.standard_normal((400, 3)) + 2.0 * y[:, None]
    >>> tr, te = stratified_split(len(y), y, test_size=0.25, seed=0)
    >>> linear_probe(z[tr], y[tr], z[te], y[te]) > 0.9
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from infomatch._checks import check_positive_int, check_probability
from infomatch.metrics._inputs import check_embeddings, check_labels, resolve_prior
from infomatch.priors import Prior

__all__ = ["knn_accuracy", "linear_probe", "linear_probe_model", "outlier_auroc", "stratified_split"]


def _check_pair(z_train: Any, y_train: Any, z_test: Any, y_test: Any
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    xtr = check_embeddings("train embeddings", z_train, min_rows=2)
    xte = check_embeddings("test embeddings", z_test, dim=xtr.shape[1], min_rows=1)
    ytr = check_labels("train labels", y_train, xtr.shape[0])
    yte = np.asarray(y_test)
    if yte.ndim != 1 or yte.shape[0] != xte.shape[0]:
        raise ValueError(f"test labels must have one label per test embedding ({xte.shape[0]}); "
                         f"got shape {yte.shape}")
    return xtr, ytr, xte, yte.astype(ytr.dtype) if ytr.dtype.kind in "iu" else yte


def linear_probe_model(max_iter: int = 2000, C: float = 1.0, seed: int = 0) -> Pipeline:
    """The probe pipeline: standardize, then multinomial logistic regression (lbfgs).

    Example:
        >>> [name for name, _ in linear_probe_model().steps]
        ['standardscaler', 'logisticregression']
    """
    return make_pipeline(StandardScaler(),
                         LogisticRegression(max_iter=check_positive_int("max_iter", max_iter), C=C,
                                            random_state=seed))


def linear_probe(z_train: Any, y_train: Any, z_test: Any, y_test: Any, *, max_iter: int = 2000,
                 C: float = 1.0, seed: int = 0) -> float:
    """Accuracy on ``(z_test, y_test)`` of a logistic-regression probe fitted on the training pair.

    Example:
        >>> z = np.array([[0.0], [0.1], [0.2], [1.0], [1.1], [1.2]]); y = np.array([0, 0, 0, 1, 1, 1])
        >>> linear_probe(z, y, np.array([[0.05], [1.15]]), np.array([0, 1]))
        1.0
    """
    xtr, ytr, xte, yte = _check_pair(z_train, y_train, z_test, y_test)
    model = linear_probe_model(max_iter=max_iter, C=C, seed=seed).fit(xtr, ytr)
    return float(model.score(xte, yte))


def knn_accuracy(z_train: Any, y_train: Any, z_test: Any, y_test: Any, *, k: int = 5) -> float:
    """Accuracy of a ``k``-nearest-neighbour classifier (Euclidean, majority vote).

    Example:
        >>> z = np.array([[0.0], [0.1], [1.0], [1.1]]); y = np.array([0, 0, 1, 1])
        >>> knn_accuracy(z, y, np.array([[0.05], [1.05]]), np.array([0, 1]), k=1)
        1.0
    """
    xtr, ytr, xte, yte = _check_pair(z_train, y_train, z_test, y_test)
    k = check_positive_int("k", k)
    if k > xtr.shape[0]:
        raise ValueError(f"k must not exceed the number of training embeddings ({xtr.shape[0]}); got {k}")
    return float(KNeighborsClassifier(n_neighbors=k).fit(xtr, ytr).score(xte, yte))


def stratified_split(n: int, labels: Any, test_size: float = 0.2, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split of ``range(n)`` into sorted train and test indices.

    Example:
        >>> tr, te = stratified_split(10, [0] * 5 + [1] * 5, test_size=0.2, seed=0)
        >>> len(tr), len(te), sorted(np.array([0] * 5 + [1] * 5)[te].tolist())
        (8, 2, [0, 1])
    """
    y = check_labels("labels", labels, n)
    test_size = check_probability("test_size", test_size)
    idx = np.arange(n)
    tr, te = train_test_split(idx, test_size=test_size, random_state=seed, stratify=y)
    return np.sort(tr), np.sort(te)


def outlier_auroc(inliers: Any, outliers: Any, prior: Prior | str = "gaussian",
                  **prior_params: Any) -> float:
    """AUROC of the outlier score ``-log p(z)`` (prior density) separating ``outliers`` from ``inliers``.

    Ties (e.g. the uniform prior's flat density inside the cube) count as half, as in
    ``sklearn.metrics.roc_auc_score``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> inl = rng.standard_normal((200, 2)); out = 4.0 + rng.standard_normal((200, 2))
        >>> outlier_auroc(inl, out, "gaussian") > 0.99
        True
    """
    rp = resolve_prior(prior, **prior_params)
    zin = check_embeddings("inliers", inliers, dim=rp.dim, min_rows=1)
    zout = check_embeddings("outliers", outliers, dim=zin.shape[1], min_rows=1)
    score = -np.concatenate([rp.log_prob(zin), rp.log_prob(zout)])
    score = np.nan_to_num(score, nan=np.inf, posinf=np.finfo(np.float64).max)
    truth = np.concatenate([np.zeros(len(zin)), np.ones(len(zout))])
    return float(roc_auc_score(truth, score))
