"""The held-out distribution-matching verdict that ends every training run.

``infomatch train`` runs the same battery as ``infomatch evaluate RUN`` (defaults: 5 i.i.d.
references, seed 0, alpha 0.01) on the held-out embeddings and stores the per-family verdicts
and the headline ratios in ``metrics.json`` under ``dm``; the run summary prints them next to
the linear probe.

Example:
    >>> import numpy as np
    >>> v = heldout_verdict(np.random.default_rng(0).standard_normal((400, 4)), "gaussian")
    >>> sorted(v["families"]), v["n"]
    (['joint', 'marginals', 'moments', 'slices'], 400)
    >>> format_verdict(v).startswith("held-out DM verdict (n=400):")
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..metrics.battery import dm_battery
from ..priors import Prior

__all__ = ["format_verdict", "heldout_verdict"]

_RATIOS = ("marginals.ks_max", "moments.cov_max_abs_dev", "slices.sliced_w2", "joint.hz")


def heldout_verdict(z: np.ndarray, prior: Prior | str) -> dict[str, Any]:
    """Per-family pass / fail of :func:`~infomatch.metrics.battery.dm_battery` on ``z`` with
    ``infomatch evaluate``'s defaults, plus the ratios to the i.i.d. reference of four headline
    statistics (1 = as close to the prior as the prior's own samples)."""
    result = dm_battery(z, prior, seeds=5, seed=0)
    stats = result["statistics"]
    return {
        "n": int(result["n"]),
        "families": {name: fam["pass"] for name, fam in result["families"].items()},
        "pass": bool(result["pass"]),
        "ratios": {name: stats[name]["ratio"] for name in _RATIOS if name in stats},
    }


def format_verdict(verdict: dict[str, Any]) -> str:
    """One line: ``held-out DM verdict (n=...): marginals pass | moments FAIL | ...``."""
    words = {True: "pass", False: "FAIL", None: "skipped"}
    families = " | ".join(f"{name} {words[ok]}" for name, ok in verdict["families"].items())
    return f"held-out DM verdict (n={verdict['n']}): {families}"
