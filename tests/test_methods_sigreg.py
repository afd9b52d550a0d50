"""SIGReg: the Epps-Pulley statistic against a numpy reference and its closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import integrate

from infomatch.methods import make_objective
from infomatch.methods.sigreg import epps_pulley, epps_pulley_exact, sigreg
from infomatch.model import NINE


def _reference_trapezoid(x: np.ndarray, t_max: float = 3.0, n_points: int = 17) -> float:
    """Complex empirical CF on the full symmetric grid [-t_max, t_max], numpy's trapezoid rule."""
    t = np.linspace(-t_max, t_max, 2 * n_points - 1)
    ecf = np.exp(1j * np.outer(x, t)).mean(axis=0)
    phi = np.exp(-0.5 * t**2)
    return float(len(x) * np.trapezoid(np.abs(ecf - phi) ** 2 * phi, t))


def _reference_quad(x: np.ndarray) -> float:
    def f(t: float) -> float:
        ecf = np.exp(1j * t * x).mean()
        return float(abs(ecf - np.exp(-0.5 * t * t)) ** 2 * np.exp(-0.5 * t * t))

    return float(len(x) * integrate.quad(f, -np.inf, np.inf, limit=200)[0])


@pytest.mark.parametrize("n,law", [(50, "normal"), (300, "exponential"), (1000, "uniform")])
def test_quadrature_matches_numpy(n: int, law: str) -> None:
    rng = np.random.default_rng(n)
    x = {"normal": rng.standard_normal, "exponential": rng.exponential,
         "uniform": lambda size: rng.uniform(-2, 2, size)}[law](size=(n, 3))
    got = epps_pulley(torch.tensor(x)).numpy()
    want = [_reference_trapezoid(x[:, k]) for k in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_closed_form_equals_integral_and_fine_quadrature() -> None:
    x = np.random.default_rng(1).standard_t(4, size=(120, 2))
    exact = epps_pulley_exact(torch.tensor(x)).numpy()
    np.testing.assert_allclose(exact, [_reference_quad(x[:, k]) for k in range(2)], rtol=1e-6)
    fine = epps_pulley(torch.tensor(x), t_max=12.0, n_points=4001).numpy()
    np.testing.assert_allclose(fine, exact, rtol=1e-6)


def test_statistic_separates_gaussian_from_not() -> None:
    g = torch.Generator().manual_seed(0)
    gauss = torch.randn(2000, 4, generator=g, dtype=torch.float64)
    skewed = (torch.rand(2000, 4, generator=g, dtype=torch.float64).log().neg() - 1.0)  # Exp(1) - 1: mean 0, var 1
    assert float(sigreg(gauss, 64, generator=torch.Generator().manual_seed(1))) < 5.0
    assert float(sigreg(skewed, 64, generator=torch.Generator().manual_seed(1))) > 30.0


def test_sigreg_is_the_mean_over_unit_directions() -> None:
    z = torch.randn(100, 5, dtype=torch.float64)
    got = sigreg(z, 7, generator=torch.Generator().manual_seed(3))
    a = torch.randn(5, 7, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    a = (a / a.norm(dim=0)).numpy()
    proj = z.numpy() @ a
    want = np.mean([_reference_trapezoid(proj[:, k]) for k in range(7)])
    assert float(got) == pytest.approx(want, rel=1e-9)


def test_objective_adds_weighted_regularizer() -> None:
    nine = NINE(dim=3, sigma=0.0)
    h1, h2 = torch.randn(64, 3), torch.randn(64, 3)
    torch.manual_seed(5)
    with_reg = make_objective("sigreg", dim=3, weight=2.0)(nine, h1, h2)
    torch.manual_seed(5)
    no_reg = make_objective("sigreg", dim=3, weight=0.0)(nine, h1, h2)
    assert float((with_reg.loss - no_reg.loss).detach()) == pytest.approx(2.0 * float(with_reg.terms["sigreg"]), rel=1e-5)
    assert float(with_reg.mi) == pytest.approx(float(no_reg.mi))
