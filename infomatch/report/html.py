"""The self-contained HTML report of a run: verdicts, the battery, probes and plots in one file.

Plots are embedded as base64 PNG ``data:`` URIs and the style sheet is inline, so the page
needs no other file and no network. The page carries no timestamp: rebuilding the report of an
unchanged run gives the same bytes (and :func:`build_report` then has nothing to overwrite).

Example:
    >>> import numpy as np
    >>> from infomatch.metrics import evaluate_arrays
    >>> ev = evaluate_arrays(np.random.default_rng(0).standard_normal((300, 3)), "gaussian", seeds=2)
    >>> page = render_report(ev, {}, title="demo")
    >>> page.startswith("<!DOCTYPE html>") and "Distribution-matching battery" in page
    True
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from infomatch import __version__
from infomatch._io import atomic_write_bytes
from infomatch.report.uses import USES_CAPTIONS

__all__ = ["PLOT_CAPTIONS", "build_report", "render_report"]

# plot id -> caption; the report test checks every id is present as a decodable PNG
PLOT_CAPTIONS: dict[str, str] = {
    "marginals": "Histogram of each coordinate with the prior's marginal density.",
    "qq": "Quantile-quantile plots against the prior's marginal (points on the red line: perfect match).",
    "pairs": "Pairs of coordinates over the contours of the prior's density.",
    "covariance": "cov - I on the Gaussianized scale (white: matches the identity).",
    "training": "MI estimate against the capacity during training; the gap bounds the DM error.",
    "tradeoff": "Linear-probe accuracy against DM distance over the noise scale of a sweep.",
}

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.4;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f6f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#fff;background:#27ae60;padding:1px 6px;border-radius:3px}
.fail{color:#fff;background:#c0392b;padding:1px 6px;border-radius:3px}
.skip{color:#555;background:#e5e5e5;padding:1px 6px;border-radius:3px}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}.muted{color:#777;font-size:.85em}
"""


def _fmt(v: Any) -> str:
    if v is None:
        return "&ndash;"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return html.escape(str(v))
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3e}"
        return f"{v:.4g}"
    return html.escape(str(v))


def _badge(passed: bool | None, skipped: bool = False) -> str:
    if skipped or passed is None:
        return '<span class="skip">n/a</span>'
    return '<span class="pass">pass</span>' if passed else '<span class="fail">FAIL</span>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], table_id: str) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in row) + "</tr>\n" for row in rows)
    return f'<table id="{table_id}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table>\n'


def _td(v: Any, num: bool = False) -> str:
    return f'<td class="num">{_fmt(v)}</td>' if num else f"<td>{v if isinstance(v, str) else _fmt(v)}</td>"


def render_report(evaluation: Mapping[str, Any], images: Mapping[str, bytes], *, title: str,
                  config: Mapping[str, Any] | None = None) -> str:
    """HTML page for an evaluation dict (from ``evaluate_run`` / ``evaluate_arrays``) and PNG plots.

    ``images`` maps plot ids (see :data:`PLOT_CAPTIONS`) to PNG bytes; each becomes
    ``<img id="plot-<id>" src="data:image/png;base64,...">``.

    Example:
        >>> from infomatch.metrics import evaluate_arrays
        >>> import numpy as np
        >>> ev = evaluate_arrays(np.random.default_rng(0).standard_normal((100, 2)), "gaussian", seeds=2)
        >>> 'id="plot-qq"' in render_report(ev, {"qq": b"\\x89PNG"}, title="t")
        True
    """
    dm = evaluation["dm"]
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
             f"<h1>{html.escape(title)}</h1>\n<p class=\"muted\">infomatch {__version__}; "
             f"overall verdict: {_badge(dm['pass'])}</p>\n"]

    summary: list[tuple[str, Any]] = [("prior", ", ".join(f"{k}={v}" for k, v in dm["prior"].items())),
                                      ("evaluated embeddings", f"n = {dm['n']}, d = {dm['d']}"
                                       + (f" ({evaluation['split']})" if evaluation.get("split") else ""))]
    for key in ("sigma", "eps", "mi_estimate", "capacity", "log_batch_ceiling"):
        if evaluation.get(key) is not None:
            summary.append((key.replace("_", " "), evaluation[key]))
    mi, cap = evaluation.get("mi_estimate"), evaluation.get("capacity")
    if isinstance(mi, (int, float)) and isinstance(cap, (int, float)) and math.isfinite(cap):
        summary.append(("capacity - MI (nats; bounds the KL to the smoothed prior)", cap - mi))
    for key in ("data", "dim", "seed", "bound", "critic", "epochs", "batch_size"):
        if config and key in config:
            summary.append((f"config: {key}", config[key]))
    parts.append("<h2>Run</h2>\n" + _table(["item", "value"],
                                           [[_td(html.escape(k)), _td(v, isinstance(v, float))] for k, v in summary],
                                           "summary"))

    fam_rows = []
    for fam, res in dm["families"].items():
        note = res["skipped"] or (("failed: " + ", ".join(res["failed"])) if res["failed"] else "")
        fam_rows.append([_td(fam), _td(_badge(res["pass"], bool(res["skipped"]))),
                         _td(res["alpha_per_statistic"], True), _td(html.escape(note))])
    parts.append("<h2>Distribution-matching verdicts</h2>\n"
                 + _table(["family", "verdict", "alpha per statistic", "notes"], fam_rows, "families")
                 + f"<p class=\"muted\">{html.escape(dm['rule'])}.</p>\n")

    stat_rows = []
    for name, s in dm["statistics"].items():
        ref = s["reference"]
        ref_txt = _fmt(ref) + ("" if s.get("reference_sd") is None else f" &plusmn; {_fmt(s['reference_sd'])}")
        stat_rows.append([_td(html.escape(name)), _td(html.escape(s["kind"])), _td(s["value"], True),
                          f'<td class="num">{ref_txt}</td>', _td(s["ratio"], True), _td(s["threshold"], True),
                          _td(_badge(s["pass"]) if s["pass"] is not None else "&ndash;"),
                          _td(html.escape(s["description"]))])
    parts.append(f"<h2>Distribution-matching battery</h2>\n<p class=\"muted\">reference: mean &plusmn; sd over "
                 f"{dm['seeds']} i.i.d. samples from the prior with the same n and d; ratio = value / reference.</p>\n"
                 + _table(["statistic", "kind", "value", "reference", "ratio", "threshold", "pass", "meaning"],
                          stat_rows, "battery"))

    probe_rows = [[_td("linear probe accuracy"), _td(evaluation.get("linear_probe_accuracy"), True)],
                  [_td(f"kNN accuracy (k = {evaluation.get('knn_k')})"), _td(evaluation.get("knn_accuracy"), True)],
                  [_td("outlier AUROC (-log prior density)"), _td(evaluation.get("outlier_auroc"), True)]]
    parts.append("<h2>Downstream</h2>\n" + _table(["probe", "value"], probe_rows, "probes")
                 + f"<p class=\"muted\">protocol: {html.escape(str(evaluation.get('probe_protocol')))}.</p>\n")

    if images:
        parts.append("<h2>Plots</h2>\n")
    for pid, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        caption = html.escape(PLOT_CAPTIONS.get(pid) or USES_CAPTIONS.get(pid, pid))
        parts.append(f'<figure><img id="plot-{html.escape(pid)}" alt="{caption}" '
                     f'src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>\n')
    parts.append("</body>\n</html>\n")
    return "".join(parts)


def _write_if_allowed(path: Path, text: str, force: bool) -> bool:
    """Atomic write; refuse to replace a different existing file unless ``force``. True if written."""
    data = text.encode("utf-8")
    if path.exists():
        if path.is_dir():
            raise IsADirectoryError(f"report output is a directory: {path}")
        if path.read_bytes() == data:
            return False
        if not force:
            raise FileExistsError(f"{path} exists and differs from the new report; pass --force to overwrite it")
    atomic_write_bytes(path, data)
    return True


def build_report(run: str | Path, out: str | Path | None = None, *, force: bool = False,
                 sweep: Sequence[str | Path] = (), seeds: int = 5, max_n: int | None = None,
                 max_dims: int = 16, other: str | None = None) -> Path:
    """Evaluate run directory ``run``, plot it and write one self-contained HTML page.

    ``out`` defaults to ``RUN/report.html``. ``sweep``: further run directories (e.g. other
    noise scales); with two or more runs in total the trade-off plot is added. With a decoder in
    ``RUN/decoder`` the page shows decoded prior samples and reconstructions; ``other`` (inputs
    the run never saw a class of) adds outlier-score histograms and ROC curves. An existing
    different file is kept unless ``force``. Returns the output path.

    Example:
        >>> build_report("/nonexistent")
        Traceback (most recent call last):
        ...
        FileNotFoundError: run directory not found: /nonexistent
    """
    from infomatch.metrics.runs import evaluate_run, load_run  # noqa: PLC0415
    from infomatch.report import plots  # noqa: PLC0415

    data = load_run(run)
    out_path = Path(out) if out is not None else data.path / "report.html"
    if out_path.exists() and out_path.is_dir():
        raise IsADirectoryError(f"report output is a directory: {out_path}")
    evaluation = evaluate_run(data.path, seeds=seeds, max_n=max_n)
    prior = data.prior()
    z = data.heldout if data.heldout is not None else data.train
    images: dict[str, bytes] = {
        "marginals": plots.figure_to_png(plots.plot_marginals(z, prior, max_dims=max_dims)),
        "qq": plots.figure_to_png(plots.plot_qq(z, prior, max_dims=max_dims)),
    }
    if z is not None and z.shape[1] >= 2:
        images["pairs"] = plots.figure_to_png(plots.plot_pairs(z, prior))
    images["covariance"] = plots.figure_to_png(plots.plot_covariance(z, prior))
    if data.history:
        images["training"] = plots.figure_to_png(plots.plot_training(data.history))
    from infomatch.report.sweep import is_sweep_dir, sweep_section  # noqa: PLC0415

    sweep_dirs = [p for p in sweep if is_sweep_dir(p)]
    sweep = [p for p in sweep if not is_sweep_dir(p)]
    if sweep:
        runs = [evaluation] + [evaluate_run(p, seeds=seeds, max_n=max_n) for p in sweep]
        images["tradeoff"] = plots.figure_to_png(plots.plot_tradeoff(runs))
    from infomatch.report.uses import uses_images  # noqa: PLC0415

    images.update(uses_images(data.path, other=other))
    page = render_report(evaluation, images, title=f"infomatch report: {data.path.name}", config=data.config)
    if sweep_dirs:  # sweep directories: their trade-off table and figure
        page = page.replace("</body>", "".join(sweep_section(p) for p in sweep_dirs) + "</body>")
    _write_if_allowed(out_path, page, force)
    return out_path
