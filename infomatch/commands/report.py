"""``infomatch report``: one self-contained HTML page (plots embedded) for a run directory.

The page holds the DM verdicts, the battery table, the probes and the plots (marginals, QQ,
pairs, covariance, training curve; with ``--sweep`` runs, the accuracy / DM trade-off). An
existing different output file is kept unless ``--force``.

Example:
    $ infomatch report runs/my-run                       # writes runs/my-run/report.html
    $ infomatch report runs/s0.5 --sweep runs/s1 runs/s2 --out sweep.html
    $ infomatch report --sweep runs/sweep-digits         # a sweep's table and trade-off figure
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="self-contained HTML report of a run",
                       description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("run_dir", metavar="RUN", nargs="?", help="run directory (optional with --sweep SWEEP_DIR)")
    p.add_argument("--out", help="output .html (default RUN/report.html)")
    p.add_argument("--force", action="store_true", help="overwrite a different existing --out")
    p.add_argument("--sweep", nargs="+", default=[], metavar="RUN",
                   help="further runs (e.g. other noise scales) for the trade-off plot, or sweep directories")
    p.add_argument("--seeds", type=int, default=5, help="i.i.d. prior references per statistic (default 5)")
    p.add_argument("--max-n", dest="max_n", type=int, help="subsample this many rows for the battery")
    p.add_argument("--max-dims", dest="max_dims", type=int, default=16,
                   help="coordinates shown in the marginal and QQ plots (default 16)")
    p.add_argument("--other", help="inputs of classes the run never saw: adds outlier-score histograms and ROC")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .._io import check_output
    from ..errors import user_input
    from ..report.html import build_report

    with user_input():
        if args.out is not None and not str(args.out).endswith((".html", ".htm")):
            raise ValueError(f"--out must be an .html file; got {args.out!r}")
        if args.run_dir is None:
            from ..report.sweep import build_sweep_report

            if len(args.sweep) != 1:
                raise ValueError("give a run directory, or exactly one sweep directory with --sweep")
            print(f"wrote {build_sweep_report(args.sweep[0], args.out, force=args.force)}")
            return 0
        if args.seeds < 2:
            raise ValueError(f"--seeds must be at least 2; got {args.seeds}")
        if args.max_dims < 1:
            raise ValueError(f"--max-dims must be a positive integer; got {args.max_dims}")
        run_path = Path(args.run_dir)
        if not run_path.is_dir():
            raise FileNotFoundError(f"run directory not found: {run_path}")
        out = Path(args.out) if args.out is not None else run_path / "report.html"
        inputs = [p for r in [run_path, *map(Path, args.sweep)] if r.is_dir() for p in r.rglob("*")
                  if p.is_file() and p.resolve() != out.resolve()]
        # an existing report is replaced only with --force (or when the new one is identical, below)
        check_output(out, force=True, flag="--out", protected=tuple(inputs))
        path = build_report(run_path, out, force=args.force, sweep=args.sweep, seeds=args.seeds,
                            max_n=args.max_n, max_dims=args.max_dims, other=args.other)
    print(f"wrote {path}")
    return 0
