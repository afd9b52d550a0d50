"""Wall-clock time of the DM battery (cold: references computed; warm: references cached).

Usage::

    python benchmarks/bench_battery.py [--repeats 3] [--markdown BENCHMARKS.md] [--json out.json]

The target is n = 10,000, d = 64 in <= 3 s on 2 cores, cold.
``--markdown`` rewrites the speed table between markers inside the section
"DM battery speed" of that file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infomatch.metrics.battery import clear_reference_cache, dm_battery  # noqa: E402

CASES = [("gaussian", 10_000, 64), ("uniform", 10_000, 64), ("laplace", 10_000, 64),
         ("gaussian", 2_000, 16), ("gaussian", 4_000, 32)]


def _sample(prior: str, n: int, d: int) -> np.ndarray:
    rng = np.random.default_rng(123)
    return {"gaussian": rng.standard_normal, "uniform": rng.uniform,
            "laplace": rng.laplace}[prior](size=(n, d))


def time_case(prior: str, n: int, d: int, repeats: int) -> dict[str, float]:
    z = _sample(prior, n, d)
    cold, warm = [], []
    for _ in range(repeats):
        clear_reference_cache()
        t0 = time.perf_counter()
        dm_battery(z, prior)
        cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        dm_battery(z, prior)
        warm.append(time.perf_counter() - t0)
    return {"cold_s": statistics.median(cold), "warm_s": statistics.median(warm)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    rows = []
    for prior, n, d in CASES:
        rows.append({"prior": prior, "n": n, "d": d, **time_case(prior, n, d, args.repeats)})
        print(json.dumps(rows[-1]), flush=True)
    lines = [
        f"Command: `python benchmarks/bench_battery.py --repeats {args.repeats} --markdown BENCHMARKS.md`; "
        f"{os.cpu_count()} CPUs, numpy {np.__version__}, Python {platform.python_version()}; "
        f"median of {args.repeats} repeats, 5 references; load average at the end "
        f"{os.getloadavg()[0]:.2f} (about 1 = this benchmark alone on the machine).",
        "",
        "| prior | n | d | cold (s) | warm (s) | joint family |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        joint = "run" if r["d"] <= 32 and r["n"] <= 4000 else "skipped"
        lines.append(f"| {r['prior']} | {r['n']:,} | {r['d']} | {r['cold_s']:.2f} | {r['warm_s']:.2f} | {joint} |")
    table = "\n".join(lines)
    print(table)
    if args.json:
        from calibrate_battery import _atomic_write  # noqa: PLC0415
        _atomic_write(args.json, json.dumps(rows, indent=2))
    if args.markdown:
        from calibrate_battery import update_markdown_block  # noqa: PLC0415
        update_markdown_block(args.markdown, "speed", "### DM battery speed", table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
