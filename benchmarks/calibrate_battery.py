"""Calibration of the DM battery: pass rates on i.i.d. prior samples and catch rates on near misses.

Calibration: i.i.d. samples from gaussian, uniform and laplace priors (n = 2,000; d = 4, 16, 64);
each family should pass in >= 90 % of seeds. Near misses (n = 2,000), each should be caught by at
least one family in >= 90 % of seeds:

- ``gauss+1uniform``: N(0, I) with coordinate 0 replaced by a *unit-variance* uniform
  U[-sqrt(3), sqrt(3)] (same mean and variance as the Gaussian: only the shape differs);
- ``gauss+rho0.3``: N(0, I) with one pair of coordinates correlated at rho = 0.3;
- ``t5-for-gauss``: Student-t with 5 degrees of freedom *standardized to unit variance*
  (scale sqrt(3/5)) tested against the Gaussian prior (a raw t5 has variance 5/3 and is trivially
  caught by the covariance);
- ``squeezed-uniform``: U[0.05, 0.95]^d tested against the uniform prior on [0, 1].

Test samples come from ``numpy.random.default_rng([seed, 7919, case, d])``, independent of the battery's
reference seeds. Usage::

    python benchmarks/calibrate_battery.py --seeds 20 --markdown BENCHMARKS.md --json calib.json

``--markdown`` rewrites the calibration table between markers inside the section
"DM battery speed" of that file (other sections are left alone).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infomatch._io import atomic_write_text  # noqa: E402
from infomatch.metrics.battery import FAMILIES, dm_battery  # noqa: E402

N = 2000
DIMS = (4, 16, 64)
SQRT3 = math.sqrt(3.0)


def _gauss(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return rng.standard_normal((n, d))


def _gauss_uniform_coord(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    z = rng.standard_normal((n, d))
    z[:, 0] = rng.uniform(-SQRT3, SQRT3, size=n)
    return z


def _gauss_corr_pair(rng: np.random.Generator, n: int, d: int, rho: float = 0.3) -> np.ndarray:
    z = rng.standard_normal((n, d))
    z[:, 1] = rho * z[:, 0] + math.sqrt(1 - rho * rho) * z[:, 1]
    return z


def _t5_std(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return rng.standard_t(5, size=(n, d)) * math.sqrt(3.0 / 5.0)


def _squeezed_uniform(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return rng.uniform(0.05, 0.95, size=(n, d))


CALIBRATION: dict[str, tuple[str, Callable[..., np.ndarray]]] = {
    "gaussian": ("gaussian", _gauss),
    "uniform": ("uniform", lambda rng, n, d: rng.uniform(size=(n, d))),
    "laplace": ("laplace", lambda rng, n, d: rng.laplace(size=(n, d))),
}
NEAR_MISSES: dict[str, tuple[str, Callable[..., np.ndarray]]] = {
    "gauss+1uniform": ("gaussian", _gauss_uniform_coord),
    "gauss+rho0.3": ("gaussian", _gauss_corr_pair),
    "t5-for-gauss": ("gaussian", _t5_std),
    "squeezed-uniform": ("uniform", _squeezed_uniform),
}


def run_case(prior: str, make: Callable[..., np.ndarray], d: int, seeds: int, n: int = N,
             refs: int = 5, stream: int = 0) -> dict[str, object]:
    """Family pass counts and 'caught by at least one family' count over ``seeds`` samples."""
    passes = {f: 0 for f in FAMILIES}
    ran = {f: 0 for f in FAMILIES}
    caught = 0
    for s in range(seeds):
        z = make(np.random.default_rng([s, 7919, stream, d]), n, d)
        out = dm_battery(z, prior, seeds=refs)
        for f, res in out["families"].items():
            if res["pass"] is not None:
                ran[f] += 1
                passes[f] += int(res["pass"])
        caught += int(not out["pass"])
    return {"pass_rate": {f: (passes[f] / ran[f] if ran[f] else None) for f in FAMILIES},
            "caught_rate": caught / seeds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--dims", type=int, nargs="+", default=list(DIMS))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows: list[dict[str, object]] = []
    for kind, table in (("iid", CALIBRATION), ("near-miss", NEAR_MISSES)):
        for name, (prior, make) in table.items():
            for d in args.dims:
                stream = sum(map(ord, name))  # a separate random stream per case
                res = run_case(prior, make, d, args.seeds, stream=stream)
                rows.append({"kind": kind, "case": name, "prior": prior, "d": d, **res})
                print(json.dumps(rows[-1]), flush=True)
    elapsed = time.perf_counter() - t0
    lines = [
        f"Command: `python benchmarks/calibrate_battery.py --seeds {args.seeds} --markdown BENCHMARKS.md`"
        f" (n = {N}, 5 references, alpha = 0.01 per family; {elapsed:.0f} s, provisional, contended 2 cores).",
        "",
        "| case | prior | d | marginals | moments | slices | joint | caught (>= 1 family fails) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pr = r["pass_rate"]
        cells = [("n/a" if pr[f] is None else f"{100 * pr[f]:.0f} %") for f in FAMILIES]  # type: ignore[index]
        lines.append(f"| {r['kind']}: {r['case']} | {r['prior']} | {r['d']} | " + " | ".join(cells)
                     + f" | {100 * r['caught_rate']:.0f} % |")  # type: ignore[operator]
    table = "\n".join(lines)
    print(table)
    if args.json:
        atomic_write_text(args.json, json.dumps({"seeds": args.seeds, "n": N, "rows": rows}, indent=2))
    if args.markdown:
        update_markdown_block(args.markdown, "calibration", "### DM battery calibration", table)
    return 0


SECTION = "## DM battery speed"




def update_markdown_block(path: Path, tag: str, title: str, table: str) -> None:
    """Replace the ``tag`` block of the battery section in ``path`` (create section/block if missing).

    Other sections of the file (written by other benchmarks) are left untouched.
    """
    begin, end = f"<!-- battery:{tag}:begin -->", f"<!-- battery:{tag}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n{title}\n\n{table}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    elif SECTION in text:
        head, rest = text.split(SECTION, 1)
        nxt = rest.find("\n## ")
        body, tail = (rest, "") if nxt < 0 else (rest[:nxt], rest[nxt:])
        text = head + SECTION + body.rstrip("\n") + "\n\n" + block + "\n" + tail
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    atomic_write_text(path, text)


if __name__ == "__main__":
    raise SystemExit(main())
