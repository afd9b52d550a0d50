"""``infomatch sweep``: run a grid of ``train`` options x seeds and tabulate the trade-off.

``SPEC.yaml --out DIR`` runs every entry in its own run directory under DIR (resumable: re-run
the same command after an interruption; finished runs are skipped, unfinished ones continue
from their checkpoints), then writes DIR/table.md, DIR/table.json and DIR/tradeoff.png.
``DIR --table`` rebuilds the table from the run directories alone. A bad spec fails before any
run starts.

Example:
    $ infomatch sweep benchmarks/sweeps/digits.yaml --out runs/sweep-digits
    $ infomatch sweep runs/sweep-digits --table
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("sweep", help="grid of train options x seeds: runs, table and trade-off plot",
                       description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("source", metavar="SPEC_OR_DIR", help="sweep spec (.yaml) to run, or a sweep directory with --table")
    p.add_argument("--out", help="sweep directory (required with a spec)")
    p.add_argument("--table", action="store_true", help="rebuild table.md / table.json / tradeoff.png of a sweep directory")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1)")
    p.add_argument("--extend", action="store_true", help="accept a changed spec for an existing sweep directory (adds runs)")
    p.add_argument("--dry-run", dest="dry_run", action="store_true", help="check the spec and list the runs; run nothing")


def run(args: argparse.Namespace) -> int:
    """Run the command; bad input (ValueError, OSError, corrupt files) is reported in one line."""
    from ..errors import user_input

    with user_input():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    src = Path(args.source)
    if args.table:
        from ..sweep.table import write_table

        if not src.is_dir():
            raise NotADirectoryError(f"--table needs a sweep directory; got {str(src)!r}")
        table = write_table(src)
        print(f"wrote {src / 'table.md'}, {src / 'table.json'}, {src / 'tradeoff.png'} ({len(table['rows'])} rows, {len(table['runs'])} runs)")
        return 0
    from ..sweep.runner import plan, run_sweep
    from ..sweep.spec import load_spec

    if src.is_dir():
        raise ValueError(f"{src} is a directory: pass a spec file to run, or --table to rebuild a sweep's table")
    spec = load_spec(src)
    if args.jobs < 1:
        raise ValueError(f"--jobs must be a positive integer; got {args.jobs}")
    if args.dry_run:
        for e in plan(spec):
            print(e.run_id)
        return 0
    if not args.out:
        raise ValueError("--out DIR is required to run a sweep")
    run_sweep(spec, args.out, jobs=args.jobs, extend=args.extend)
    print(f"wrote {Path(args.out) / 'table.md'}")
    return 0
