"""Plots of embeddings against their prior (matplotlib, Agg canvas, PNG bytes).

No pyplot and no global backend switch: each function builds a ``matplotlib.figure.Figure`` on
an Agg canvas, so the module works headless and never touches the user's matplotlib state.

- :func:`plot_marginals`: histogram of each coordinate with the prior's marginal density;
- :func:`plot_qq`: quantile-quantile plots against the prior's marginal;
- :func:`plot_pairs`: 2-D scatters of coordinate pairs over the prior's density contours;
- :func:`plot_covariance`: heat map of ``cov - I`` on the Gaussianized scale;
- :func:`plot_training`: MI estimate against capacity over epochs (``metrics.csv``);
- :func:`plot_tradeoff`: linear-probe accuracy against DM distance over a noise sweep.

Flow priors (no scipy marginal) are drawn on the Gaussianized scale against N(0, 1).

Example:
    >>> import numpy as np
    >>> fig = plot_marginals(np.random.default_rng(0).standard_normal((500, 3)), "gaussian")
    >>> figure_to_png(fig)[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from infomatch.metrics._inputs import ResolvedPrior, check_embeddings, resolve_prior
from infomatch.priors import Prior

__all__ = [
    "figure_to_png",
    "plot_covariance",
    "plot_marginals",
    "plot_pairs",
    "plot_qq",
    "plot_tradeoff",
    "plot_training",
]


def _figure(width: float, height: float) -> Figure:
    # fixed margins instead of constrained layout: layout solving doubled the rendering time
    fig = Figure(figsize=(width, height), dpi=90)
    FigureCanvasAgg(fig)
    top = 1.0 - 0.45 / height
    bottom = min(0.5 / height, 0.2)
    fig.subplots_adjust(left=0.6 / width, right=0.97, bottom=bottom, top=top, wspace=0.3, hspace=0.45)
    return fig


def figure_to_png(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes.

    Example:
        >>> len(figure_to_png(_figure(1, 1))) > 100
        True
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _grid(k: int) -> tuple[int, int]:
    cols = min(k, 4)
    return math.ceil(k / cols), cols


def _view(z: Any, prior: Prior | str | ResolvedPrior, max_dims: int) -> tuple[np.ndarray, ResolvedPrior, Any, str]:
    """Leading ``max_dims`` columns, the resolved prior, the 1-D law to compare with and a label."""
    rp = resolve_prior(prior)
    x = check_embeddings("z", z, dim=rp.dim, min_rows=2)
    if rp.marginal is None:  # flow prior: compare on the Gaussianized scale
        return rp.gaussianize(x)[:, :max_dims], rp, stats.norm(), " (Gaussianized scale)"
    return x[:, :max_dims], rp, rp.marginal, ""


def plot_marginals(z: Any, prior: Prior | str = "gaussian", *, max_dims: int = 16, bins: int = 40) -> Figure:
    """Histogram of each of the first ``max_dims`` coordinates with the prior's marginal density.

    Example:
        >>> fig = plot_marginals(np.random.default_rng(0).uniform(size=(300, 5)), "uniform", max_dims=4)
        >>> len(fig.axes)
        4
    """
    x, rp, law, label = _view(z, prior, max_dims)
    k = x.shape[1]
    rows, cols = _grid(k)
    fig = _figure(2.6 * cols, 2.0 * rows + 0.4)
    lo, hi = np.quantile(x, [0.001, 0.999])
    q_lo, q_hi = law.ppf([0.001, 0.999])
    grid = np.linspace(min(lo, q_lo), max(hi, q_hi), 400)
    for j in range(k):
        ax = fig.add_subplot(rows, cols, j + 1)
        ax.hist(x[:, j], bins=bins, range=(grid[0], grid[-1]), density=True, color="#7fa7d9", edgecolor="none")
        ax.plot(grid, law.pdf(grid), color="#c0392b", lw=1.4)
        ax.set_title(f"dim {j}", fontsize=9)
        ax.tick_params(labelsize=7)
        if j % cols == 0:
            ax.set_ylabel("density", fontsize=8)
    fig.suptitle(f"Marginals vs {rp.name} prior density (red){label}", fontsize=10)
    return fig


def plot_qq(z: Any, prior: Prior | str = "gaussian", *, max_dims: int = 16, points: int = 200) -> Figure:
    """QQ plots: sample quantiles against the prior's marginal quantiles, with the line y = x.

    Example:
        >>> fig = plot_qq(np.random.default_rng(0).standard_normal((300, 2)), "gaussian")
        >>> [ax.get_title() for ax in fig.axes]
        ['dim 0', 'dim 1']
    """
    x, rp, law, label = _view(z, prior, max_dims)
    k = x.shape[1]
    levels = (np.arange(points) + 0.5) / points
    theo = law.ppf(levels)
    rows, cols = _grid(k)
    fig = _figure(2.6 * cols, 2.2 * rows + 0.4)
    for j in range(k):
        ax = fig.add_subplot(rows, cols, j + 1)
        sample = np.quantile(x[:, j], levels)
        ax.plot(theo, sample, ".", ms=2.5, color="#2c3e50")
        lims = [min(theo[0], sample[0]), max(theo[-1], sample[-1])]
        ax.plot(lims, lims, color="#c0392b", lw=1)
        ax.set_title(f"dim {j}", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"QQ plots against the {rp.name} prior (x: prior quantile, y: sample quantile){label}",
                 fontsize=10)
    return fig


def plot_pairs(z: Any, prior: Prior | str = "gaussian", *, max_dims: int = 5, max_points: int = 1500,
               seed: int = 0) -> Figure:
    """Lower-triangle grid of 2-D scatters of the first ``max_dims`` coordinates over prior contours.

    Contours are levels of the product density ``p(x_i) p(x_j)`` enclosing about 39 %, 86 % and
    99 % of the mass for a Gaussian; the uniform prior's support is drawn as its square.

    Example:
        >>> fig = plot_pairs(np.random.default_rng(0).standard_normal((300, 3)), "gaussian")
        >>> len(fig.axes)      # pairs (1,0), (2,0), (2,1)
        3
    """
    x, rp, law, _ = _view(z, prior, max_dims)
    k = x.shape[1]
    if k < 2:
        raise ValueError(f"z must have at least 2 columns for pair plots; got {k}")
    rng = np.random.default_rng(seed)
    pts = x[rng.permutation(len(x))[:max_points]]
    lo, hi = law.ppf([0.002, 0.998])
    lo, hi = min(lo, np.quantile(x, 0.002)), max(hi, np.quantile(x, 0.998))
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    grid = np.linspace(lo, hi, 120)
    dens = law.pdf(grid)
    joint = np.outer(dens, dens)
    flat = np.sort(joint.ravel())[::-1]
    mass = np.cumsum(flat) / flat.sum()
    levels = sorted({float(flat[min(int(np.searchsorted(mass, m)), len(flat) - 1)]) for m in (0.99, 0.86, 0.39)})
    uniform_like = np.ptp(dens[dens > 0]) < 1e-9 * max(dens.max(), 1e-300)
    fig = _figure(2.2 * (k - 1), 2.2 * (k - 1) + 0.4)
    for i in range(1, k):
        for j in range(i):
            ax = fig.add_subplot(k - 1, k - 1, (i - 1) * (k - 1) + j + 1)
            ax.scatter(pts[:, j], pts[:, i], s=2, alpha=0.35, color="#2c3e50", linewidths=0)
            if uniform_like:
                a, b = law.support()
                ax.plot([a, b, b, a, a], [a, a, b, b, a], color="#c0392b", lw=1.2)
            elif len(levels) > 1:
                ax.contour(grid, grid, joint, levels=levels, colors="#c0392b", linewidths=0.9)
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_aspect("equal", adjustable="box")
            ax.tick_params(labelsize=6)
            if j == 0:
                ax.set_ylabel(f"dim {i}", fontsize=8)
            if i == k - 1:
                ax.set_xlabel(f"dim {j}", fontsize=8)
    fig.suptitle(f"Pairs vs {rp.name} prior contours (red)", fontsize=10)
    return fig


def plot_covariance(z: Any, prior: Prior | str = "gaussian", *, max_dims: int = 64) -> Figure:
    """Heat map of ``cov - I`` of the Gaussianized embeddings (first ``max_dims`` coordinates).

    Example:
        >>> fig = plot_covariance(np.random.default_rng(0).standard_normal((300, 4)))
        >>> fig.axes[0].get_title().startswith("cov - I")
        True
    """
    rp = resolve_prior(prior)
    x = check_embeddings("z", z, dim=rp.dim, min_rows=2)
    g = rp.gaussianize(x)[:, :max_dims]
    dev = np.atleast_2d(np.cov(g, rowvar=False)) - np.eye(g.shape[1])
    lim = max(float(np.abs(dev).max()), 0.2)  # a fixed floor keeps sampling noise pale
    fig = _figure(5.2, 4.4)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(dev, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.85)
    ax.set_title(f"cov - I (Gaussianized, {rp.name} prior); max |entry| = {np.abs(dev).max():.3f}", fontsize=9)
    ax.set_xlabel("dim")
    ax.set_ylabel("dim")
    return fig


def plot_training(history: Sequence[Mapping[str, Any]]) -> Figure:
    """MI estimate (and held-out MI when logged) against the capacity, per epoch.

    Example:
        >>> rows = [{"epoch": e, "mi": 1 - 0.5 ** e, "capacity": 1.2} for e in range(5)]
        >>> plot_training(rows).axes[0].get_xlabel()
        'epoch'
    """
    if not history:
        raise ValueError("history must contain at least one epoch row; got none")
    epochs = [r.get("epoch", i) for i, r in enumerate(history)]
    fig = _figure(5.5, 3.4)
    ax = fig.add_subplot(1, 1, 1)
    for key, label, style in (("mi", "MI estimate (train)", "-"), ("val_mi", "MI estimate (held-out)", "--"),
                              ("capacity", "capacity", ":")):
        ys = [r.get(key) for r in history]
        if any(isinstance(y, (int, float)) for y in ys):
            ax.plot(epochs, [np.nan if y is None else y for y in ys], style, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats")
    ax.legend(fontsize=8)
    ax.set_title("MI estimate approaches the capacity as the embeddings match the prior", fontsize=9)
    return fig


def _tradeoff_point(run: Any, dm_key: str) -> dict[str, Any]:
    if isinstance(run, (str, Path)):
        from infomatch.metrics.runs import evaluate_run  # noqa: PLC0415 (heavy, only for paths)

        run = evaluate_run(run)
    if not isinstance(run, Mapping):
        raise ValueError(f"runs must be run directories or evaluation dicts; got {type(run).__name__}")
    stat = run["dm"]["statistics"].get(dm_key)
    if stat is None:
        raise ValueError(f"dm statistic {dm_key!r} missing from an evaluation")
    scale = run.get("sigma") if run.get("sigma") is not None else run.get("eps")
    return {"scale": scale, "accuracy": run.get("linear_probe_accuracy"), "dm": stat["value"],
            "reference": stat["reference"], "source": run.get("source", "")}


def plot_tradeoff(runs: Sequence[Any], *, dm_key: str = "slices.sliced_w2") -> Figure:
    """Linear-probe accuracy against DM distance for runs that differ in noise scale (sigma / eps).

    ``runs``: run directories (evaluated on the fly) or dicts from
    :func:`~infomatch.metrics.runs.evaluate_run`. The x axis is the battery statistic ``dm_key``
    (default: sliced W2 to the prior); the dashed line is its value for i.i.d. prior samples.
    Points are joined in order of noise scale and labelled with it.

    Example:
        >>> def ev(s, acc, w2):
        ...     return {"sigma": s, "linear_probe_accuracy": acc,
        ...             "dm": {"statistics": {"slices.sliced_w2": {"value": w2, "reference": 0.03}}}}
        >>> fig = plot_tradeoff([ev(0.1, 0.95, 0.4), ev(1.0, 0.9, 0.1), ev(3.0, 0.8, 0.04)])
        >>> fig.axes[0].get_ylabel()
        'linear probe accuracy'
    """
    if not runs:
        raise ValueError("runs must contain at least one run; got none")
    pts = [_tradeoff_point(r, dm_key) for r in runs]
    pts.sort(key=lambda p: (p["scale"] is None, p["scale"] or 0.0))
    fig = _figure(5.5, 3.8)
    ax = fig.add_subplot(1, 1, 1)
    xs = [p["dm"] for p in pts]
    ys = [np.nan if p["accuracy"] is None else p["accuracy"] for p in pts]
    ax.plot(xs, ys, "o-", color="#2c3e50")
    for p, x, y in zip(pts, xs, ys, strict=True):
        ax.annotate(f"{p['scale']:g}" if isinstance(p["scale"], (int, float)) else "?", (x, y),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    ref = float(np.mean([p["reference"] for p in pts]))
    ax.axvline(ref, ls="--", color="#c0392b", lw=1, label="i.i.d. prior sample")
    ax.set_xlabel(f"DM distance ({dm_key}; lower = closer to the prior)")
    ax.set_ylabel("linear probe accuracy")
    ax.set_title("Trade-off over the noise scale (labels: sigma / eps)", fontsize=9)
    ax.legend(fontsize=8)
    return fig
