"""The trade-off table and figure of a sweep directory, as an HTML section or a page of its own.

Example:
    >>> is_sweep_dir("/nonexistent")
    False
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from infomatch import __version__

__all__ = ["build_sweep_report", "is_sweep_dir", "sweep_section"]


def is_sweep_dir(path: str | Path) -> bool:
    """True for a directory written by ``infomatch sweep`` (holds ``*/sweep.json``)."""
    p = Path(path)
    return p.is_dir() and any(p.glob("*/sweep.json"))


def _markdown_to_html(md: str) -> str:
    lines = [ln for ln in md.strip().splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
    out = ['<table id="sweep-table"><tr>' + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f'<td class="num">{html.escape(c)}</td>' if i > 1 else f"<td>{html.escape(c)}</td>"
                                    for i, c in enumerate(r)) + "</tr>")
    return "\n".join(out) + "</table>\n"


def sweep_section(sweep_dir: str | Path) -> str:
    """HTML: the sweep's table (mean ± sd over seeds) and trade-off figure, rebuilt from its runs."""
    from infomatch.report.plots import figure_to_png
    from infomatch.sweep.plot import plot_sweep_tradeoff
    from infomatch.sweep.table import aggregate, collect, format_markdown

    root = Path(sweep_dir)
    records = collect(root)
    rows = aggregate(records)
    png = base64.b64encode(figure_to_png(plot_sweep_tradeoff(rows))).decode("ascii")
    caption = "Linear probe against the sliced W2 distance to the prior (ratio to i.i.d. prior samples) per sweep row; Pareto front in red."
    return (f"<h2>Sweep: {html.escape(root.name)}</h2>\n<p class=\"muted\">{len(records)} runs, {len(rows)} rows; "
            "mean &plusmn; sd over seeds; pass rates of the DM battery's families; ratio = statistic / i.i.d. prior reference.</p>\n"
            + _markdown_to_html(format_markdown(rows))
            + f'<figure><img id="plot-sweep-tradeoff" alt="{html.escape(caption)}" src="data:image/png;base64,{png}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>\n")


def build_sweep_report(sweep_dir: str | Path, out: str | Path | None = None, *, force: bool = False) -> Path:
    """Write a self-contained page for a sweep (default ``SWEEP/report.html``); returns its path."""
    from infomatch.report.html import _CSS, _write_if_allowed

    root = Path(sweep_dir)
    if not is_sweep_dir(root):
        raise FileNotFoundError(f"{root} is not a sweep directory (no */sweep.json)")
    title = f"infomatch sweep: {root.name}"
    page = (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{html.escape(title)}</title>\n"
            f"<style>{_CSS}</style>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
            f"<p class=\"muted\">infomatch {__version__}</p>\n{sweep_section(root)}</body>\n</html>\n")
    path = Path(out) if out is not None else root / "report.html"
    _write_if_allowed(path, page, force)
    return path

