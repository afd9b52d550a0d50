"""Sweeps: a grid of ``train`` options x seeds, resumable, summarized in one trade-off table.

Example:
    >>> from infomatch.sweep import parse_spec
    >>> len(parse_spec({"grid": {"method": ["plain", "vicreg"]}, "seeds": [0, 1, 2]}).entries())
    6
"""

from infomatch.sweep.plot import pareto_front, plot_sweep_tradeoff
from infomatch.sweep.runner import plan, run_entry, run_sweep
from infomatch.sweep.spec import (
           RunEntry,
           SpecError,
           SweepSpec,
           load_spec,
           noise_for_capacity,
           parse_spec,
)
from infomatch.sweep.table import aggregate, collect, format_markdown, write_table

__all__ = ["RunEntry", "SpecError", "SweepSpec", "aggregate", "collect", "format_markdown", "load_spec",
           "noise_for_capacity", "pareto_front", "parse_spec", "plan", "plot_sweep_tradeoff", "run_entry",
           "run_sweep", "write_table"]
