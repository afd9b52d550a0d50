"""The trade-off table of a sweep, rebuilt from its run directories alone.

Every finished run directory of a sweep holds ``sweep.json`` (grid point, seed, wall time),
``evaluation.json`` (DM battery, probes) and ``metrics.json`` (MI estimate, capacity). The
table has one row per grid point with the mean and spread (sample standard deviation) over its
seeds of: the held-out linear probe and kNN accuracy, each DM family's pass rate (and the
overall verdict's), the ratios ``value / i.i.d. prior reference`` of the main DM statistics
(1 = as far from the prior as the prior's own samples), the MI estimate, the capacity and their
ratio, and the wall time. ``table.json`` also keeps every run's values.

Example:
    >>> rows = aggregate([{"row_id": "a", "order": 0, "seed": 0, "values": {"linear_probe": 0.75}},
    ...                   {"row_id": "a", "order": 1, "seed": 1, "values": {"linear_probe": 0.25}}])
    >>> rows[0]["linear_probe"]["mean"], rows[0]["n"]
    (0.5, 2)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from infomatch._io import atomic_write_bytes, atomic_write_text

__all__ = ["COLUMNS", "RATIOS", "aggregate", "collect", "format_markdown", "write_table"]

FAMILY_KEYS = ("marginals", "moments", "slices", "joint")
#: DM statistics whose ratio to the i.i.d. prior reference the table shows
RATIOS = {
    "ks_max": "marginals.ks_max",
    "cov_dev": "moments.cov_max_abs_dev",
    "frechet": "moments.frechet",
    "sliced_w2": "slices.sliced_w2",
    "hz": "joint.hz",
}
#: value keys in table order (means and spreads of each)
COLUMNS = ("linear_probe", "knn", *(f"pass_{f}" for f in FAMILY_KEYS), "pass_all",
           *(f"ratio_{k}" for k in RATIOS), "mi", "heldout_mi", "capacity", "mi_over_capacity", "wall_seconds")


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else (f if f == math.inf else None)


def _run_values(sweep: dict[str, Any], ev: dict[str, Any], metrics: dict[str, Any]) -> dict[str, float | None]:
    fams = ev["dm"]["families"]
    stats = ev["dm"]["statistics"]
    out: dict[str, float | None] = {
        "linear_probe": _num(ev.get("linear_probe_accuracy")),
        "knn": _num(ev.get("knn_accuracy")),
    }
    for f in FAMILY_KEYS:
        passed = fams.get(f, {}).get("pass")
        out[f"pass_{f}"] = None if passed is None else float(bool(passed))
    out["pass_all"] = float(bool(ev["dm"]["pass"]))
    for key, name in RATIOS.items():
        out[f"ratio_{key}"] = _num(stats[name]["ratio"]) if name in stats else None
    mi, cap = _num(metrics.get("mi_estimate")), _num(metrics.get("capacity"))
    out["mi"] = mi
    out["heldout_mi"] = _num(metrics.get("heldout_mi_estimate"))
    out["capacity"] = cap
    out["mi_over_capacity"] = mi / cap if mi is not None and cap not in (None, 0.0, math.inf) else None
    out["wall_seconds"] = _num(sweep.get("wall_seconds"))
    return out


def collect(out: str | Path) -> list[dict[str, Any]]:
    """One record per finished run directory under ``out`` (sorted by the spec's order)."""
    root = Path(out)
    if not root.is_dir():
        raise FileNotFoundError(f"sweep directory not found: {root}")
    records = []
    for sj in sorted(root.glob("*/sweep.json")):
        rd = sj.parent
        sweep = json.loads(sj.read_text())
        if sweep.get("status") != "finished" or not (rd / "evaluation.json").is_file():
            continue
        ev = json.loads((rd / "evaluation.json").read_text())
        metrics = json.loads((rd / "metrics.json").read_text()) if (rd / "metrics.json").is_file() else {}
        cfg = sweep.get("config") or {}
        noise = cfg.get("sigma") if cfg.get("sigma") is not None else cfg.get("eps")
        records.append({
            "run_id": sweep["run_id"], "row_id": sweep["row_id"], "order": sweep.get("order", 0),
            "method": sweep.get("method"), "settings": sweep.get("settings", {}), "seed": sweep["seed"],
            "noise": noise, "noise_name": "sigma" if cfg.get("sigma") is not None else "eps",
            "log_batch_ceiling": metrics.get("log_batch_ceiling"),
            "values": _run_values(sweep, ev, metrics),
        })
    if not records:
        raise FileNotFoundError(f"{root} holds no finished sweep runs (no */sweep.json)")
    records.sort(key=lambda r: (r["order"], r["seed"]))
    return records


def _stat(values: list[float | None]) -> dict[str, Any]:
    xs = [v for v in values if v is not None]
    if not xs:
        return {"mean": None, "sd": None, "n": 0}
    mean = float(np.mean(xs)) if all(math.isfinite(x) for x in xs) else float("inf")
    sd = float(np.std(xs, ddof=1)) if len(xs) > 1 and math.isfinite(mean) else None
    return {"mean": mean, "sd": sd, "n": len(xs)}


def aggregate(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group records by grid point (``row_id``); mean and spread of each value over the seeds."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(records, key=lambda r: (r["order"], r["seed"])):
        groups.setdefault(r["row_id"], []).append(r)
    rows = []
    for row_id, rs in groups.items():
        keys = [k for k in COLUMNS if k in rs[0]["values"]] or list(rs[0]["values"])
        row: dict[str, Any] = {"row_id": row_id, "method": rs[0].get("method"), "settings": rs[0].get("settings"),
                               "noise": rs[0].get("noise"), "noise_name": rs[0].get("noise_name"),
                               "log_batch_ceiling": rs[0].get("log_batch_ceiling"),
                               "seeds": [r["seed"] for r in rs], "n": len(rs)}
        for k in keys:
            row[k] = _stat([r["values"].get(k) for r in rs])
        rows.append(row)
    return rows


def _cell(s: dict[str, Any] | None, digits: int = 3, pct: bool = False) -> str:
    if not s or s.get("mean") is None:
        return "-"
    m = s["mean"]
    if m == math.inf:
        return "inf"
    if pct:
        return f"{100 * m:.0f}%"
    text = f"{m:.{digits}f}"
    if s.get("sd") is not None:
        text += f" ± {s['sd']:.{digits}f}"
    return text


def format_markdown(rows: list[dict[str, Any]]) -> str:
    """The table as GitHub markdown (mean ± sd over seeds; pass rates in %)."""
    head = ("| method | setting | noise | capacity / log B | seeds | linear probe | kNN | pass: marg / mom / slice / joint / all "
            "| ratio cov dev | ratio Fréchet | ratio sliced W2 | ratio KS max | held-out MI (nats) | MI / capacity | wall s |")
    lines = [head, "|" + "---|" * 2 + "---:|" * 13]
    for r in rows:
        setting = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in sorted((r.get("settings") or {}).items()) if k != "method") or "-"
        noise = "-" if r.get("method") != "nine" or r.get("noise") is None else f"{r['noise_name']}={r['noise']:.3g}"
        cap = r.get("capacity", {}).get("mean")
        logb = r.get("log_batch_ceiling")
        cap_txt = "inf (no noise)" if cap == math.inf else ("-" if cap is None or not logb else f"{cap / logb:.2f}")
        passes = " / ".join(_cell(r.get(f"pass_{f}"), pct=True) for f in (*FAMILY_KEYS, "all"))
        lines.append(
            f"| {r['method']} | {setting} | {noise} | {cap_txt} | {r['n']} | {_cell(r.get('linear_probe'))} "
            f"| {_cell(r.get('knn'))} | {passes} | {_cell(r.get('ratio_cov_dev'), 2)} | {_cell(r.get('ratio_frechet'), 2)} "
            f"| {_cell(r.get('ratio_sliced_w2'), 2)} | {_cell(r.get('ratio_ks_max'), 2)} | {_cell(r.get('heldout_mi'), 2)} "
            f"| {_cell(r.get('mi_over_capacity'), 2)} | {_cell(r.get('wall_seconds'), 0)} |")
    return "\n".join(lines) + "\n"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else None
    return obj


def write_table(out: str | Path) -> dict[str, Any]:
    """Rebuild ``table.json``, ``table.md`` and ``tradeoff.png`` in ``out`` from its run directories."""
    from infomatch.report.plots import figure_to_png
    from infomatch.sweep.plot import plot_sweep_tradeoff

    root = Path(out)
    records = collect(root)
    rows = aggregate(records)
    table = {"columns": list(COLUMNS), "ratios": RATIOS, "rows": rows, "runs": records,
             "note": "mean and sample sd over seeds; pass_* are pass rates of the DM battery's families; "
                     "ratio_* = statistic / its mean on i.i.d. prior samples of the same size"}
    atomic_write_text(root / "table.json", json.dumps(_jsonable(table), indent=2) + "\n")
    atomic_write_text(root / "table.md", format_markdown(rows))
    atomic_write_bytes(root / "tradeoff.png", figure_to_png(plot_sweep_tradeoff(rows)))
    return table
