"""Linear probe, kNN and outlier AUROC agree with scikit-learn / scipy run directly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from infomatch.metrics import knn_accuracy, linear_probe, outlier_auroc, stratified_split


@pytest.fixture(scope="module")
def digits_embeddings():
    x, y = load_digits(return_X_y=True)
    z = x @ np.random.default_rng(0).standard_normal((64, 12))
    z = (z - z.mean(0)) / z.std(0)
    tr, te = stratified_split(len(y), y, test_size=0.25, seed=0)
    return z[tr], y[tr], z[te], y[te]


def test_linear_probe_matches_sklearn(digits_embeddings):
    ztr, ytr, zte, yte = digits_embeddings
    scaler = StandardScaler().fit(ztr)
    clf = LogisticRegression(max_iter=2000, random_state=0).fit(scaler.transform(ztr), ytr)
    expected = float(np.mean(clf.predict(scaler.transform(zte)) == yte))
    got = linear_probe(ztr, ytr, zte, yte)
    assert got == expected
    assert 0.5 < got < 1.0          # informative but not trivial embeddings of digits


@pytest.mark.parametrize("k", [1, 5, 15])
def test_knn_matches_sklearn(digits_embeddings, k):
    ztr, ytr, zte, yte = digits_embeddings
    expected = float(np.mean(KNeighborsClassifier(n_neighbors=k).fit(ztr, ytr).predict(zte) == yte))
    assert knn_accuracy(ztr, ytr, zte, yte, k=k) == expected


def test_knn_one_neighbour_by_hand():
    ztr = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    ytr = np.array([0, 1, 2])
    zte = np.array([[0.9, 0.1], [0.1, 0.8], [0.2, 0.1]])
    assert knn_accuracy(ztr, ytr, zte, np.array([1, 2, 0]), k=1) == 1.0
    assert knn_accuracy(ztr, ytr, zte, np.array([1, 2, 1]), k=1) == pytest.approx(2 / 3)


def test_outlier_auroc_matches_hand_computation():
    rng = np.random.default_rng(1)
    inl, out = rng.laplace(size=(150, 3)), rng.laplace(size=(120, 3)) * 2.0
    score = -np.concatenate([stats.laplace.logpdf(inl).sum(1), stats.laplace.logpdf(out).sum(1)])
    truth = np.r_[np.zeros(150), np.ones(120)]
    assert outlier_auroc(inl, out, "laplace") == pytest.approx(roc_auc_score(truth, score))
    assert outlier_auroc(inl, out, "laplace") > 0.7


def test_outlier_auroc_handles_out_of_support():
    inl = np.random.default_rng(2).uniform(size=(50, 2))
    out = inl + 5.0                                 # zero density under U[0,1]^2
    assert outlier_auroc(inl, out, "uniform") == 1.0


def test_stratified_split_is_seeded_and_stratified():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    tr, te = stratified_split(len(y), y, test_size=0.2, seed=3)
    tr2, _ = stratified_split(len(y), y, test_size=0.2, seed=3)
    assert np.array_equal(tr, tr2) and not set(tr) & set(te) and len(te) == 20
    assert np.bincount(y[te]).tolist() == [10, 6, 4]


@pytest.mark.parametrize("fn", [linear_probe, knn_accuracy])
def test_wrong_label_length_is_a_clear_error(fn, digits_embeddings):
    ztr, ytr, zte, yte = digits_embeddings
    with pytest.raises(ValueError, match=r"train labels must have one label per embedding row"):
        fn(ztr, ytr[:-1], zte, yte)
    with pytest.raises(ValueError, match=r"test labels must have one label per test embedding"):
        fn(ztr, ytr, zte, yte[:-3])
    with pytest.raises(ValueError, match="NaN"):
        bad = ztr.copy()
        bad[4, 1] = np.nan
        fn(bad, ytr, zte, yte)
    with pytest.raises(ValueError, match="columns"):
        fn(ztr, ytr, zte[:, :5], yte)
