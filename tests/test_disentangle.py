"""MIG and DCI against hand-written numpy references and constructed representations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from infomatch.metrics import dci, dci_scores, mig
from infomatch.metrics.disentangle import discretize, mutual_info_matrix


def _grid(*sizes: int) -> np.ndarray:
    return np.array(list(itertools.product(*[range(m) for m in sizes])), dtype=np.int64)


def _mi_numpy(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats from the joint count table (hand-written reference)."""
    av, ai = np.unique(a, return_inverse=True)
    bv, bi = np.unique(b, return_inverse=True)
    joint = np.zeros((len(av), len(bv)))
    np.add.at(joint, (ai, bi), 1.0)
    p = joint / joint.sum()
    pa, pb = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / (pa @ pb)[nz])).sum())


def test_mutual_info_matrix_matches_count_table() -> None:
    rng = np.random.default_rng(0)
    f = rng.integers(0, 4, size=(500, 2))
    codes = np.c_[f[:, 0] // 2, (f[:, 1] + rng.integers(0, 2, 500)) % 4]
    mi = mutual_info_matrix(codes, f)
    ref = np.array([[_mi_numpy(codes[:, i], f[:, k]) for k in range(2)] for i in range(2)])
    np.testing.assert_allclose(mi, ref, atol=1e-12)
    assert mi[0, 0] == pytest.approx(np.log(2), abs=0.02)  # half of a 4-valued uniform factor


def test_mig_hand_computed_case() -> None:
    # factors a (4 values) and b (2 values), full grid x 5 copies: exactly independent.
    f = np.repeat(_grid(4, 2), 5, axis=0)
    # code 0 = a, code 1 = a // 2 (half of a), code 2 = b
    z = np.c_[f[:, 0], f[:, 0] // 2, f[:, 1]].astype(float)
    out = mig(z, f, bins=20)
    h = np.array([np.log(4), np.log(2)])
    np.testing.assert_allclose(out["entropy"], h, atol=1e-12)
    # factor a: MI with codes = (log 4, log 2, 0) -> gap log 2, / log 4 = 0.5; factor b: gap log 2 / log 2 = 1
    np.testing.assert_allclose(out["per_factor"], [0.5, 1.0], atol=1e-12)
    assert out["mig"] == pytest.approx(0.75, abs=1e-12)


def test_mig_identity_is_one_and_rotation_is_low() -> None:
    f = _grid(3, 6, 6, 8, 8)
    z = (f - f.mean(0)) / f.std(0)
    assert mig(z, f)["mig"] == pytest.approx(1.0, abs=1e-9)
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))
    assert mig(z @ q, f)["mig"] < 0.5


def test_dci_scores_closed_form() -> None:
    r = np.array([[0.6, 0.2], [0.1, 0.1], [0.0, 0.5]])
    # by hand: rows normalized, entropies in base K = 2, weighted by row sums / total
    p = r / r.sum(1, keepdims=True)
    ent = [-(pi[pi > 0] * np.log(pi[pi > 0])).sum() / np.log(2) for pi in p]
    dis = sum((1 - e) * w for e, w in zip(ent, r.sum(1) / r.sum(), strict=True))
    q = r / r.sum(0, keepdims=True)
    comp = np.mean([1 + (qk[qk > 0] * np.log(qk[qk > 0])).sum() / np.log(3) for qk in q.T])
    out = dci_scores(r)
    assert out["disentanglement"] == pytest.approx(dis, abs=1e-12)
    assert out["completeness"] == pytest.approx(comp, abs=1e-12)
    # the numbers themselves, worked out on paper: row 0 p = (.75, .25): H = 0.811278 bits, weight 0.8/1.5
    assert out["disentanglement"] == pytest.approx((1 - 0.8112781) * 0.8 / 1.5 + 0 * 0.2 / 1.5 + 1 * 0.5 / 1.5, abs=1e-6)
    assert dci_scores(np.eye(4)) == {"disentanglement": 1.0, "completeness": 1.0}
    assert dci_scores(np.ones((3, 3))) == pytest.approx({"disentanglement": 0.0, "completeness": 0.0})


@pytest.mark.parametrize("model", ["lasso", "forest"])
def test_dci_identity_near_one_rotation_low(model: str) -> None:
    f = _grid(3, 6, 6, 8, 8)[::2]
    z = (f - f.mean(0)) / f.std(0)
    ident = dci(z, f, model=model)
    assert ident["disentanglement"] > 0.97 and ident["completeness"] > 0.97
    assert ident["informativeness"] > 0.95
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((5, 5)))
    rot = dci(z @ q, f, model=model)
    assert rot["disentanglement"] < 0.6 and rot["completeness"] < 0.6
    assert rot["importance"].shape == (5, 5)


def test_discretize_bins_and_bad_input() -> None:
    codes = discretize(np.linspace(0, 1, 101)[:, None], bins=10)
    assert codes.min() == 0 and codes.max() == 9 and np.bincount(codes[:, 0]).min() >= 9
    with pytest.raises(ValueError, match="bins"):
        discretize(np.zeros((5, 1)), bins=1)
    with pytest.raises(ValueError, match="factors must have shape"):
        mig(np.zeros((20, 2)), np.zeros((19, 1), dtype=int))
    with pytest.raises(ValueError, match="integer indices"):
        mig(np.zeros((20, 2)), np.full((20, 1), 0.5))
    with pytest.raises(ValueError, match="NaN"):
        dci(np.full((20, 2), np.nan), np.zeros((20, 1), dtype=int))
    with pytest.raises(ValueError, match="model"):
        dci(np.zeros((20, 2)), np.zeros((20, 1), dtype=int), model="svm")
