"""How far can any map fitted on a run's training embeddings bring its held-out ones to N(0, I)?

The normalization stages (whitening, ``--gaussianize``, ``--radialize``) are maps estimated on
the training outputs and applied to new ones. The most flexible such map is an optimal-transport
map: this script fits one (POT's exact ``EMDTransport`` and entropic ``SinkhornTransport``, out of
sample through each held-out point's nearest training point) from the training embeddings to a
scrambled-Sobol N(0, I) reference of the same size, applies it to the held-out embeddings and runs
the battery. On the training rows the map is a permutation onto the reference, so they pass by
construction; what the held-out rows show is how much of the joint law a fitted map can carry
to new inputs. A post-hoc diagnostic, not a method: it needs the optional package ``pot``
(``pip install pot``).

Example:
    python benchmarks/transport_heldout.py runs/a runs/b --reg 0.05 0.2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import stats
from scipy.stats import qmc

from infomatch.metrics.battery import dm_battery


def gaussian_reference(n: int, d: int, seed: int = 0) -> np.ndarray:
    """``n`` scrambled-Sobol points pushed through the normal quantile function."""
    u = qmc.Sobol(d, scramble=True, seed=seed).random_base2(int(np.ceil(np.log2(n))))[:n]
    return stats.norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))


def transported(train: np.ndarray, heldout: np.ndarray, reg: float | None, seed: int = 0) -> np.ndarray:
    """Held-out rows through the OT map fitted from ``train`` to a Gaussian reference
    (``reg=None``: exact; else entropic with that regularization)."""
    import ot  # optional: pip install pot

    target = gaussian_reference(len(train), train.shape[1], seed)
    mapping = ot.da.EMDTransport() if reg is None else ot.da.SinkhornTransport(reg_e=reg, max_iter=5000)
    mapping.fit(Xs=train, Xt=target)
    return np.asarray(mapping.transform(Xs=heldout))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run directories (Gaussian prior)")
    ap.add_argument("--reg", nargs="*", type=float, default=[], help="entropic regularizations besides the exact map")
    ap.add_argument("--seed", type=int, default=0, help="seed of the Sobol reference and the battery")
    args = ap.parse_args()
    print("| run | map | pass: marg / mom / slice / joint | KS max ratio | cov dev ratio | HZ ratio | Mardia skewness ratio |")
    print("|---|---|---|---:|---:|---:|---:|")
    for run in args.runs:
        train = np.load(run / "embeddings" / "train.npy").astype(np.float64)
        heldout = np.load(run / "embeddings" / "heldout.npy").astype(np.float64)
        maps: list[tuple[str, float | None]] = [("none", None), ("exact OT", None)]
        maps += [(f"entropic OT, reg {r:g}", r) for r in args.reg]
        for name, reg in maps:
            z = heldout if name == "none" else transported(train, heldout, reg, args.seed)
            res = dm_battery(z, "gaussian", seed=args.seed)
            fam = " / ".join("P" if res["families"][f]["pass"] else "F"
                             for f in ("marginals", "moments", "slices", "joint"))
            st = res["statistics"]
            ratios = [st[k]["ratio"] for k in ("marginals.ks_max", "moments.cov_max_abs_dev", "joint.hz",
                                              "joint.mardia_skewness")]
            print(f"| {run.name} | {name} | {fam} | " + " | ".join(f"{r:.2f}" for r in ratios) + " |")


if __name__ == "__main__":
    main()
