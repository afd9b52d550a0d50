"""Plots (matplotlib, PNG) and the self-contained HTML report of a run.

Example:
    >>> from infomatch.report import build_report, plot_tradeoff
    >>> callable(build_report) and callable(plot_tradeoff)
    True
"""

from infomatch.report.html import PLOT_CAPTIONS, build_report, render_report
from infomatch.report.plots import (
    figure_to_png,
    plot_covariance,
    plot_marginals,
    plot_pairs,
    plot_qq,
    plot_tradeoff,
    plot_training,
)

__all__ = [
    "PLOT_CAPTIONS",
    "build_report",
    "figure_to_png",
    "plot_covariance",
    "plot_marginals",
    "plot_pairs",
    "plot_qq",
    "plot_tradeoff",
    "plot_training",
    "render_report",
]
