"""MI bounds: numpy references, exact masking, stability, and correlated Gaussians with known MI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from infomatch.bounds import (
    DVBound,
    dv,
    infonce,
    jsd,
    jsd_objective,
    make_bound,
    nwj,
)
from infomatch.critics import make_critic

# ----------------------------------------------------------------------------- numpy references


def np_parts(s: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray]:
    b, n = s.shape
    pos = np.array([s[i, offset + i] for i in range(b)])
    neg = np.array([s[i, j] for i in range(b) for j in range(n) if j != offset + i])
    return pos, neg


def np_infonce(s: np.ndarray, offset: int) -> float:
    b, n = s.shape
    return float(np.mean([s[i, offset + i] - logsumexp(s[i]) for i in range(b)]) + np.log(n))


def np_softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def np_jsd_objective(s: np.ndarray, offset: int) -> float:
    pos, neg = np_parts(s, offset)
    return float(np.mean(-np_softplus(-pos)) - np.mean(np_softplus(neg)))


def np_dv(s: np.ndarray, offset: int) -> float:
    pos, neg = np_parts(s, offset)
    return float(pos.mean() - (logsumexp(neg) - np.log(neg.size)))


def np_nwj(s: np.ndarray, offset: int) -> float:
    pos, neg = np_parts(s, offset)
    return float(pos.mean() - np.mean(np.exp(neg - 1.0)))


CASES = [(5, 5, 0), (4, 12, 0), (4, 12, 4), (4, 12, 8), (1, 3, 2), (16, 16, 0)]


@pytest.mark.parametrize(("b", "n", "offset"), CASES)
@pytest.mark.parametrize(
    ("fn", "ref"),
    [(infonce, np_infonce), (jsd_objective, np_jsd_objective), (jsd, np_dv), (dv, np_dv), (nwj, np_nwj)],
    ids=["infonce", "jsd_objective", "jsd", "dv", "nwj"],
)
def test_matches_numpy_reference(fn, ref, b: int, n: int, offset: int) -> None:
    rng = np.random.default_rng(b * 100 + n + offset)
    s = rng.normal(0.0, 3.0, size=(b, n))
    got = fn(torch.from_numpy(s), offset=offset)
    assert got.shape == () and got.dtype == torch.float64
    assert abs(float(got) - ref(s, offset)) < 1e-6
    got32 = fn(torch.from_numpy(s).float(), offset=offset)
    assert abs(float(got32) - ref(s, offset)) < 1e-4


def test_closed_forms() -> None:
    n = 8
    perfect = torch.eye(n) * 1e4  # huge margin: no overflow, exactly at the ceiling
    assert float(infonce(perfect)) == pytest.approx(math.log(n), abs=1e-6)
    assert float(infonce(torch.zeros(n, n))) == pytest.approx(0.0, abs=1e-6)
    assert float(dv(torch.zeros(n, n))) == 0.0
    assert float(nwj(torch.ones(n, n))) == 0.0
    assert float(jsd_objective(torch.zeros(n, n))) == pytest.approx(-2 * math.log(2), abs=1e-6)
    # constant shifts: InfoNCE and DV are invariant, NWJ is not
    s = torch.randn(6, 6)
    assert float(infonce(s + 100.0)) == pytest.approx(float(infonce(s)), abs=1e-4)
    assert float(dv(s + 100.0)) == pytest.approx(float(dv(s)), abs=1e-4)
    assert float(nwj(s + 1.0)) != pytest.approx(float(nwj(s)), abs=1e-3)


def test_masking_is_exact() -> None:
    """Positives never enter the negative terms (no 'subtract a constant' trick)."""
    s = torch.randn(6, 6, dtype=torch.float64)
    t = s.clone()
    t.diagonal().add_(1000.0)  # only the positives change
    pos_shift = 1000.0
    assert float(dv(t) - dv(s)) == pytest.approx(pos_shift, abs=1e-9)
    assert float(nwj(t) - nwj(s)) == pytest.approx(pos_shift, abs=1e-9)
    # with offset: positives at column offset + i
    s2 = torch.randn(3, 9, dtype=torch.float64)
    t2 = s2.clone()
    t2[torch.arange(3), torch.arange(3) + 3] += 50.0
    assert float(dv(t2, offset=3) - dv(s2, offset=3)) == pytest.approx(50.0, abs=1e-9)


@pytest.mark.parametrize("fn", [infonce, jsd_objective, dv, nwj, jsd])
def test_stable_in_float32_and_bfloat16_with_large_scores(fn) -> None:
    g = torch.Generator().manual_seed(0)
    s = torch.randn(64, 64, generator=g, dtype=torch.float64) * 20 + 80
    if fn is nwj:
        s = s - 100  # NWJ's exp(T - 1) is a mean of exponentials, not a log: keep it finite
    ref = float(fn(s))
    got32 = float(fn(s.float()))
    assert math.isfinite(got32) and abs(got32 - ref) < 1e-3 * max(1.0, abs(ref))
    sb = s.bfloat16()
    got16 = fn(sb)
    assert got16.dtype == torch.float32  # reductions in float32
    assert abs(float(got16) - float(fn(sb.double()))) < 1e-4 * max(1.0, abs(ref))


@pytest.mark.parametrize("name", ["infonce", "jsd", "dv", "nwj"])
def test_modules_return_loss_and_detached_mi(name: str) -> None:
    s = torch.randn(8, 8, requires_grad=True)
    out = make_bound(name)(s)
    assert out.loss.requires_grad and not out.mi.requires_grad
    out.loss.backward()
    assert s.grad is not None and bool(torch.isfinite(s.grad).all())
    if name != "jsd":
        assert float(out.loss.detach()) == pytest.approx(-float(out.mi), abs=1e-6)
    else:
        assert float(out.loss.detach()) == pytest.approx(-float(jsd_objective(s.detach())), abs=1e-6)
        assert float(out.mi) == pytest.approx(float(dv(s.detach())), abs=1e-6)


def test_ceiling() -> None:
    assert make_bound("infonce").ceiling(512) == pytest.approx(math.log(512))
    for name in ("jsd", "dv", "nwj"):
        assert make_bound(name).ceiling(512) is None
    assert isinstance(make_bound("mine"), DVBound)


def test_dv_moving_average_gradient_is_bias_corrected() -> None:
    torch.manual_seed(0)
    bound = DVBound(alpha=0.25)
    s1 = torch.randn(5, 5, dtype=torch.float64)
    bound(s1)  # initializes the moving average with the first batch
    m1 = float(torch.exp(torch.logsumexp(s1[~torch.eye(5, dtype=torch.bool)], 0)) / 20)
    assert float(bound.log_ema.exp()) == pytest.approx(m1, rel=1e-6)
    s2 = (torch.randn(5, 5, dtype=torch.float64) * 2).requires_grad_()
    out = bound(s2)
    neg = ~torch.eye(5, dtype=torch.bool)
    mean2 = float(torch.exp(s2.detach()[neg]).mean())
    m2 = 0.75 * m1 + 0.25 * mean2
    assert float(bound.log_ema.exp()) == pytest.approx(m2, rel=1e-6)
    assert float(out.loss) == pytest.approx(-float(dv(s2.detach())), abs=1e-9)
    out.loss.backward()
    # d(-loss)/dT_ij = 1/B on positives, -exp(T_ij) / (B (N-1) m) on negatives
    expected = torch.where(neg, -torch.exp(s2.detach()) / (20 * m2), torch.full_like(s2, 1 / 5))
    torch.testing.assert_close(-s2.grad, expected)
    # eval mode leaves the average alone
    bound.eval()
    before = bound.log_ema.clone()
    bound(torch.randn(5, 5, dtype=torch.float64))
    assert torch.equal(before, bound.log_ema)


@pytest.mark.parametrize(
    ("args", "word"),
    [
        ((torch.zeros(4),), "shape"),
        ((torch.zeros(4, 3),), "offset"),
        ((torch.zeros(4, 4), 1), "offset"),
        ((torch.zeros(4, 8), -1), "offset"),
        ((torch.zeros(4, 8), 1.5), "offset"),
        ((torch.zeros(1, 1),), "2 columns"),
        ((torch.zeros(3, 3, dtype=torch.long),), "dtype"),
        ((torch.tensor([[0.0, float("inf")], [0.0, 0.0]]),), "NaN or inf"),
        (([[0.0, 1.0]],), "torch.Tensor"),
    ],
)
@pytest.mark.parametrize("fn", [infonce, jsd_objective, dv, nwj])
def test_bad_scores(fn, args: tuple, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        fn(*args)


def test_bad_names_and_parameters() -> None:
    with pytest.raises(ValueError, match="bound"):
        make_bound("wasserstein")
    with pytest.raises(ValueError, match="alpha"):
        DVBound(alpha=0.0)


# ------------------------------------------------------------- correlated Gaussians, known MI

D = 8
RHOS = (0.5, 0.7, 0.8)  # I = -(d/2) log(1 - rho^2) = 1.151, 2.694, 4.087 nats
EVAL_N, EVAL_K = 2048, 6
# Critic: separable, -|g(x) - h(y)|^2 / 2 with MLP heads, plus marginal potentials u(x) + v(y):
# a small MLP critic able to express log p(x, y) / (p(x) p(y)) (+ const) for this family.
CRITIC = {"similarity": "euclidean", "projection": 32, "hidden": 64, "potentials": True}


def _pairs(n: int, rho: float, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(n, D, generator=g)
    y = rho * x + math.sqrt(1 - rho**2) * torch.randn(n, D, generator=g)
    return x, y


def _train_and_estimate(bound: str, rho: float, steps: int = 600, batch: int = 256) -> tuple[float, float]:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    critic = make_critic("separable", D, **CRITIC)
    module = make_bound(bound)
    opt = torch.optim.Adam(critic.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        x, y = _pairs(batch, rho, g)
        loss = module(critic(x, y)).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    fn = {"infonce": infonce, "jsd": jsd, "dv": dv, "nwj": nwj}[bound]
    with torch.no_grad():
        est = torch.tensor([float(fn(critic(*_pairs(EVAL_N, rho, g)))) for _ in range(EVAL_K)])
    return float(est.mean()), float(est.std() / math.sqrt(EVAL_K))


# Relative tolerance below min(I, log N): InfoNCE 5 %; JSD, DV, NWJ 10 %.
TOL = {"infonce": 0.05, "jsd": 0.10, "dv": 0.10, "nwj": 0.10}


@pytest.mark.slow
@pytest.mark.parametrize("rho", RHOS)
@pytest.mark.parametrize("bound", ["infonce", "jsd", "dv", "nwj"])
def test_trained_critic_recovers_known_mi(bound: str, rho: float) -> None:
    true_mi = -(D / 2) * math.log(1 - rho**2)
    target = min(true_mi, math.log(EVAL_N)) if bound == "infonce" else true_mi
    est, se = _train_and_estimate(bound, rho)
    assert est >= (1 - TOL[bound]) * target, (bound, rho, est, se, true_mi)
    assert est <= true_mi + se, (bound, rho, est, se, true_mi)  # a lower bound never overshoots


def test_infonce_saturates_at_log_n() -> None:
    """With MI far above log N, a good critic gives ~log N and never more."""
    rho, n = 0.95, 64  # I = 9.3 nats >> log 64 = 4.16
    g = torch.Generator().manual_seed(1)
    x, y = _pairs(n, rho, g)
    s2 = 1 - rho**2
    oracle = (rho * x @ y.T - 0.5 * rho**2 * (y * y).sum(1)) / s2  # log p(y|x) + c(x)
    est = float(infonce(oracle))
    assert math.log(n) * 0.95 <= est <= math.log(n)
