"""Report plots of what a matched representation is for: decoded prior samples, reconstructions,
and outlier scores of inliers against outliers with the ROC curve.

:func:`uses_images` gathers the PNGs :func:`infomatch.report.html.build_report` embeds: the
``generated`` grid and ``reconstructions`` when the run has a decoder, ``outliers`` when other
inputs (or ``embeddings/other.npy``) are given.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fig = plot_outlier_scores({"knn": (rng.normal(size=200), 2 + rng.normal(size=200))})
    >>> len(fig.axes)
    2
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["USES_CAPTIONS", "plot_grid", "plot_outlier_scores", "uses_images"]

# plot id -> caption of the plots added by :func:`uses_images`
USES_CAPTIONS: dict[str, str] = {
    "generated": "Decoded prior samples: z drawn from the prior, passed through the run's decoder.",
    "reconstructions": "Held-out inputs and their reconstructions from the clean representation.",
    "outliers": "Outlier scores of held-out inliers vs other inputs (histograms) and the ROC curves.",
}


def plot_grid(grid: np.ndarray, title: str) -> Figure:
    """A tiled image grid (from :mod:`infomatch.decoder.grid`) as a figure."""
    h, w = grid.shape[:2]
    fig = Figure(figsize=(min(8.0, 0.09 * w + 0.4), min(8.0, 0.09 * h + 0.6)), dpi=90)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.88))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    return fig


def plot_outlier_scores(scores: Mapping[str, tuple[Any, Any]]) -> Figure:
    """Per score: histograms of inlier vs outlier scores, and all ROC curves in one panel."""
    from sklearn.metrics import roc_auc_score, roc_curve

    k = len(scores)
    fig = Figure(figsize=(4.2 * (k + 1), 3.2), dpi=90)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.16, top=0.88, wspace=0.3)
    axes = fig.subplots(1, k + 1)
    roc_ax = axes[-1]
    for ax, (name, (s_in, s_out)) in zip(axes[:-1], scores.items(), strict=True):
        a, b = np.asarray(s_in, dtype=float), np.asarray(s_out, dtype=float)
        lo, hi = np.percentile(np.r_[a, b], [0.5, 99.5])
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 40)
        ax.hist(a, bins=bins, alpha=0.6, density=True, label=f"inliers (n={len(a)})")
        ax.hist(b, bins=bins, alpha=0.6, density=True, label=f"outliers (n={len(b)})")
        ax.set_title(f"score: {name}", fontsize=9)
        ax.legend(fontsize=7)
        y = np.r_[np.zeros(len(a)), np.ones(len(b))]
        fpr, tpr, _ = roc_curve(y, np.r_[a, b])
        roc_ax.plot(fpr, tpr, label=f"{name} (AUROC {roc_auc_score(y, np.r_[a, b]):.3f})")
    roc_ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    roc_ax.set_xlabel("false-positive rate", fontsize=8)
    roc_ax.set_ylabel("true-positive rate", fontsize=8)
    roc_ax.set_title("ROC (outliers = positives)", fontsize=9)
    roc_ax.legend(fontsize=7, loc="lower right")
    return fig


def uses_images(run: str | Path, *, other: str | None = None, seed: int = 0) -> dict[str, bytes]:
    """PNG plots of the run's uses (see the module docstring); absent ingredients are skipped."""
    from infomatch.data import load_dataset
    from infomatch.decoder import decode, open_run, run_decoder, sample_prior
    from infomatch.decoder.grid import image_grid, reconstruction_grid
    from infomatch.metrics.outliers import outlier_scores
    from infomatch.report.plots import figure_to_png

    root = Path(run)
    images: dict[str, bytes] = {}
    tr = None
    if (root / "decoder" / "decoder.safetensors").is_file():
        tr, decoder = run_decoder(root)
        if tr.kind == "image":
            x = decode(decoder, sample_prior(tr.prior, 64, tr.config.dim, seed))
            images["generated"] = figure_to_png(plot_grid(image_grid(x, cols=8), f"64 decoded {tr.config.prior} prior samples"))
            try:
                from infomatch.training.rundir import RunDir

                ds = load_dataset(tr.config.data)
                _, held_idx = RunDir(root).load_split()
                x_in = ds.x[held_idx[:24]]
                rec = decode(decoder, tr.embed(x_in))
                images["reconstructions"] = figure_to_png(plot_grid(reconstruction_grid(x_in, rec, cols=8),
                                                                    "held-out inputs (odd rows), reconstructions (even rows)"))
            except (OSError, ValueError):  # the run's data moved: no reconstructions
                pass
    z_other = None
    if other is not None:
        tr = tr or open_run(root)
        z_other = tr.embed(tr.check_dataset(load_dataset(other), f"--other {other!r}").x).numpy()
    elif (root / "embeddings" / "other.npy").is_file():
        tr = tr or open_run(root)
        z_other = np.load(root / "embeddings" / "other.npy", allow_pickle=False)
    if z_other is not None and tr is not None:
        train = np.load(root / "embeddings" / "train.npy", allow_pickle=False)
        inl = np.load(root / "embeddings" / "heldout.npy", allow_pickle=False)
        scores = {m: (outlier_scores(inl, m, tr.prior, train=train), outlier_scores(z_other, m, tr.prior, train=train))
                  for m in ("knn", "density", "typicality")}
        images["outliers"] = figure_to_png(plot_outlier_scores(scores))
    return images
