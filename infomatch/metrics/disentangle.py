"""Disentanglement of a representation against known factors: MIG and DCI (scikit-learn inside).

- **MIG** (mutual information gap, Chen et al. 2018): each code column is discretized into
  ``bins`` equal-width bins; ``I(code_i; factor_k)`` comes from
  ``sklearn.metrics.mutual_info_score``; per factor, the gap between the largest and the second
  largest MI over the codes, divided by the factor's entropy; MIG is the mean over factors.
- **DCI** (Eastwood & Williams 2018): an importance matrix ``R`` (codes x factors) from one
  predictor per factor (``model="forest"``: ``RandomForestClassifier.feature_importances_``;
  ``model="lasso"``: ``|coef|`` of ``Lasso`` on standardized codes and factors).
  *Disentanglement*: per code ``1 - H_K(R_i. / sum R_i.)`` (entropy in base K = number of
  factors), averaged with weights ``sum R_i. / sum R``. *Completeness*: per factor
  ``1 - H_d(R_.k / sum R_.k)`` (base d = number of codes), averaged. *Informativeness*: held-out
  accuracy (forest) or R^2 (lasso) of the predictors, averaged over factors.

A representation equal to the factors scores 1 on both; a random rotation of it mixes every
code with every factor and scores low.

Example:
    >>> import numpy as np
    >>> f = np.array([(a, b) for a in range(4) for b in range(5)] * 10)
    >>> round(mig(f.astype(float), f)["mig"], 6)
    1.0
    >>> dci_scores(np.eye(3))
    {'disentanglement': 1.0, 'completeness': 1.0}
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["dci", "dci_scores", "discretize", "mig", "mutual_info_matrix"]


def _check(z: Any, factors: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(z, dtype=np.float64)
    f = np.asarray(factors)
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"z must have shape (n, d); got {x.shape}")
    if f.ndim != 2 or f.shape[1] < 1 or len(f) != len(x):
        raise ValueError(f"factors must have shape (n, K) with n = {len(x)} rows of z; got {f.shape}")
    if len(x) < 10:
        raise ValueError(f"need at least 10 rows; got {len(x)}")
    if not np.isfinite(x).all():
        raise ValueError("z contains NaN or inf values")
    if not np.issubdtype(f.dtype, np.integer):
        if not (np.isfinite(f).all() and np.all(f == np.round(f))):
            raise ValueError("factors must be integer indices (discrete factor values)")
        f = f.astype(np.int64)
    return x, f


def discretize(z: Any, bins: int = 20) -> np.ndarray:
    """Each column of ``z`` into ``bins`` equal-width bins over its own range: ints ``0..bins-1``.

    Example:
        >>> discretize(np.array([[0.0], [0.5], [1.0]]), bins=2).ravel().tolist()
        [0, 1, 1]
    """
    x = np.asarray(z, dtype=np.float64)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins must be an integer >= 2; got {bins!r}")
    out = np.empty(x.shape, dtype=np.int64)
    for j in range(x.shape[1]):
        edges = np.histogram_bin_edges(x[:, j], bins=bins)
        out[:, j] = np.clip(np.digitize(x[:, j], edges[1:-1]), 0, bins - 1)
    return out


def mutual_info_matrix(codes: Any, factors: Any) -> np.ndarray:
    """``I(codes_i; factors_k)`` in nats for discrete ``codes (n, d)`` and ``factors (n, K)``: ``(d, K)``."""
    from sklearn.metrics import mutual_info_score

    c, f = np.asarray(codes), np.asarray(factors)
    return np.array([[mutual_info_score(c[:, i], f[:, k]) for k in range(f.shape[1])] for i in range(c.shape[1])])


def mig(z: Any, factors: Any, bins: int = 20) -> dict[str, Any]:
    """Mutual information gap of ``z (n, d)`` against integer ``factors (n, K)``.

    Returns ``{"mig", "per_factor", "mutual_info" (d x K, nats), "entropy" (K,)}``; a factor
    with one value (zero entropy) gets ``nan`` and is left out of the mean. With one code
    column, the gap is the MI itself.
    """
    x, f = _check(z, factors)
    mi = mutual_info_matrix(discretize(x, bins), f)
    h = np.array([mutual_info_matrix(f[:, [k]], f[:, [k]])[0, 0] for k in range(f.shape[1])])
    top = np.sort(mi, axis=0)[::-1]
    gap = top[0] - (top[1] if len(top) > 1 else 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.where(h > 0, gap / np.where(h > 0, h, 1.0), np.nan)
    return {"mig": float(np.nanmean(per)) if np.isfinite(per).any() else float("nan"),
            "per_factor": per.tolist(), "mutual_info": mi, "entropy": h}


def _entropy_base(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each row of a probability matrix, in log base ``base`` (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -terms.sum(axis=1) / np.log(base)


def dci_scores(importance: Any) -> dict[str, float]:
    """Disentanglement and completeness of an importance matrix ``R`` (codes x factors, >= 0).

    Example:
        >>> dci_scores(np.ones((2, 2)))
        {'disentanglement': 0.0, 'completeness': 0.0}
    """
    r = np.abs(np.asarray(importance, dtype=np.float64))
    if r.ndim != 2 or min(r.shape) < 1 or not np.isfinite(r).all():
        raise ValueError(f"importance must be a finite (codes, factors) matrix; got shape {r.shape}")
    d, k = r.shape
    total = r.sum()
    if total <= 0:
        return {"disentanglement": 0.0, "completeness": 0.0}
    row, col = r.sum(axis=1), r.sum(axis=0)
    if k > 1:
        p = r[row > 0] / row[row > 0, None]
        dis = float(((1.0 - _entropy_base(p, k)) * (row[row > 0] / total)).sum())
    else:
        dis = 1.0
    if d > 1:
        q = (r[:, col > 0] / col[col > 0]).T
        comp = float((1.0 - _entropy_base(q, d)).mean())
    else:
        comp = 1.0
    return {"disentanglement": dis, "completeness": comp}


def dci(z: Any, factors: Any, *, z_test: Any = None, factors_test: Any = None, model: str = "forest",
        test_size: float = 0.3, seed: int = 0) -> dict[str, Any]:
    """DCI of ``z`` against integer ``factors``; see the module docstring.

    Predictors are fitted on ``(z, factors)`` and scored on ``(z_test, factors_test)`` when
    given, else on a seeded ``test_size`` split of the rows. Returns ``disentanglement``,
    ``completeness``, ``informativeness``, ``informativeness_per_factor`` and ``importance``.
    """
    from sklearn.model_selection import train_test_split

    x, f = _check(z, factors)
    if model not in ("forest", "lasso"):
        raise ValueError(f"model must be 'forest' or 'lasso'; got {model!r}")
    if z_test is None:
        x, xt, f, ft = train_test_split(x, f, test_size=test_size, random_state=seed)
    else:
        xt, ft = _check(z_test, factors_test)
        if xt.shape[1] != x.shape[1] or ft.shape[1] != f.shape[1]:
            raise ValueError(f"test rows must have {x.shape[1]} codes and {f.shape[1]} factors; got {xt.shape}, {ft.shape}")
    importance = np.zeros((x.shape[1], f.shape[1]))
    info = []
    for k in range(f.shape[1]):
        if model == "forest":
            from sklearn.ensemble import RandomForestClassifier

            clf = RandomForestClassifier(n_estimators=30, max_depth=8, max_features=None, random_state=seed,
                                         n_jobs=1).fit(x, f[:, k])
            importance[:, k] = clf.feature_importances_
            info.append(float(clf.score(xt, ft[:, k])))
        else:
            from sklearn.linear_model import Lasso
            from sklearn.preprocessing import StandardScaler

            sx = StandardScaler().fit(x)
            y = f[:, k].astype(np.float64)
            mu, sd = y.mean(), y.std() or 1.0
            reg = Lasso(alpha=0.02, random_state=seed).fit(sx.transform(x), (y - mu) / sd)
            importance[:, k] = np.abs(reg.coef_)
            info.append(float(reg.score(sx.transform(xt), (ft[:, k] - mu) / sd)))
    out: dict[str, Any] = dict(dci_scores(importance))
    out.update(informativeness=float(np.mean(info)), informativeness_per_factor=info, importance=importance,
               model=model)
    return out
