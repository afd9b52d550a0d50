"""The trade-off figure of a sweep: linear probe against a DM distance, Pareto front marked.

Example:
    >>> rows = [{"row_id": "a", "linear_probe": {"mean": 0.9, "sd": 0.01}, "ratio_sliced_w2": {"mean": 3.0, "sd": 0.2}},
    ...         {"row_id": "b", "linear_probe": {"mean": 0.8, "sd": None}, "ratio_sliced_w2": {"mean": 1.2, "sd": None}},
    ...         {"row_id": "c", "linear_probe": {"mean": 0.7, "sd": None}, "ratio_sliced_w2": {"mean": 2.0, "sd": None}}]
    >>> pareto_front([(3.0, 0.9), (1.2, 0.8), (2.0, 0.7)])
    [1, 0]
    >>> plot_sweep_tradeoff(rows).axes[0].get_ylabel()
    'linear probe accuracy (held-out)'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["pareto_front", "plot_sweep_tradeoff"]


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (lower x, higher y), by increasing x."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def plot_sweep_tradeoff(rows: Sequence[dict[str, Any]], *, dm_key: str = "ratio_sliced_w2") -> Any:
    """Mean linear probe against mean ``dm_key`` per row (error bars: sd over seeds), log x axis."""
    from infomatch.report.plots import _figure

    pts = [(r, r.get(dm_key, {}).get("mean"), r.get("linear_probe", {}).get("mean")) for r in rows]
    pts = [(r, x, y) for r, x, y in pts if x is not None and y is not None]
    fig = _figure(7.5, 4.8)
    fig.subplots_adjust(left=0.11, right=0.95)
    ax = fig.add_subplot(1, 1, 1)
    ax.margins(x=0.12, y=0.08)
    for r, x, y in pts:
        xe = r[dm_key].get("sd") or 0.0
        ye = r["linear_probe"].get("sd") or 0.0
        color = "#2c3e50" if r.get("method") == "nine" else "#7f8c8d"
        ax.errorbar([x], [y], xerr=[xe], yerr=[ye], fmt="o", color=color, ms=5, capsize=2, lw=0.8)
        label = r["row_id"].replace("capacity_fraction=", "cap ")
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=6.5)
    if pts:
        front = pareto_front([(x, y) for _, x, y in pts])
        fx = [pts[i][1] for i in front]
        fy = [pts[i][2] for i in front]
        ax.step(fx, fy, where="post", color="#c0392b", lw=1, label="Pareto front")
        ax.plot(fx, fy, "o", mfc="none", mec="#c0392b", ms=10, mew=1.2)
        ax.legend(fontsize=8, loc="lower right")
    ax.axvline(1.0, ls="--", color="#27ae60", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel(f"DM distance: {dm_key.replace('ratio_', '')} / i.i.d. prior reference (1 = matched; lower is better)")
    ax.set_ylabel("linear probe accuracy (held-out)")
    ax.set_title("Accuracy / distribution-matching trade-off (mean ± sd over seeds)", fontsize=9)
    return fig
