"""How far can any map fitted on a run's training embeddings bring its held-out ones to N(0, I)?

The normalization stages (whitening, ``--gaussianize``, ``--radialize``) are maps estimated on
the training outputs and applied to new ones. The most flexible such map is an optimal-transport
map: this script fits one (POT's exact ``EMDTransport`` and entropic ``SinkhornTransport``, out of
sample through each held-out point's nearest training point) from the training embeddings to a
scrambled-Sobol N(0, I) reference of the same size, applies it to the held-out embeddings and runs
the battery. On the training rows the map is a permutation onto the reference, so they pass by
construction; what the held-out rows show is how much of the joint law a fitted map can carry
to new inputs. ``--rotations K`` adds a smoother map of the same kind: iterative Gaussianization
(K random rotations, each followed by the marginal stage, ``Gaussianize``, calibrated on the
rotated training rows: every coordinate through its training quantiles to N(0, 1)), which on the training rows approaches N(0, I) as K grows. Each map's
row also gives the held-out linear probe (the project's probe, fitted on the mapped training rows),
since a map that moves the law also moves the classes. A post-hoc diagnostic, not a method: the
OT maps need the optional package ``pot`` (``pip install pot``).

Example:
    python benchmarks/transport_heldout.py runs/a runs/b --reg 0.05 0.2 --rotations 10 40 100
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from scipy.stats import qmc

from infomatch.gaussianize import Gaussianize
from infomatch.metrics.battery import dm_battery
from infomatch.metrics.downstream import linear_probe


def gaussian_reference(n: int, d: int, seed: int = 0) -> np.ndarray:
    """``n`` scrambled-Sobol points pushed through the normal quantile function."""
    u = qmc.Sobol(d, scramble=True, seed=seed).random_base2(int(np.ceil(np.log2(n))))[:n]
    return stats.norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))


def transported(train: np.ndarray, rows: tuple[np.ndarray, ...], reg: float | None,
                seed: int = 0) -> tuple[np.ndarray, ...]:
    """``rows`` through the OT map fitted once from ``train`` to a Gaussian reference
    (``reg=None``: exact; else entropic with that regularization)."""
    import ot  # optional: pip install pot

    target = gaussian_reference(len(train), train.shape[1], seed)
    mapping = ot.da.EMDTransport() if reg is None else ot.da.SinkhornTransport(reg_e=reg, max_iter=5000)
    mapping.fit(Xs=train, Xt=target)
    return tuple(np.asarray(mapping.transform(Xs=r)) for r in rows)


def iterative_gaussianization(train: np.ndarray, heldout: np.ndarray, rotations: int, n_quantiles: int = 32,
                              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out rows through ``rotations`` rounds of a random rotation followed by
    the marginal stage (:class:`~infomatch.gaussianize.Gaussianize`, ``n_quantiles`` levels)
    calibrated on the rotated training rows and applied in evaluation mode."""
    rng = np.random.default_rng(seed)
    a, b = torch.from_numpy(train), torch.from_numpy(heldout)
    for _ in range(rotations):
        rot = torch.from_numpy(stats.ortho_group.rvs(a.shape[1], random_state=rng))
        stage = Gaussianize(a.shape[1], n_quantiles=n_quantiles).double().eval()
        stage.calibrate(a @ rot)
        a, b = stage(a @ rot), stage(b @ rot)
    return a.numpy(), b.numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run directories (Gaussian prior)")
    ap.add_argument("--reg", nargs="*", type=float, default=[], help="entropic regularizations besides the exact map")
    ap.add_argument("--no-exact", action="store_true", help="leave out the exact OT map (then pot is not needed)")
    ap.add_argument("--rotations", nargs="*", type=int, default=[],
                    help="rounds of iterative Gaussianization, one row per value")
    ap.add_argument("--seed", type=int, default=0, help="seed of the Sobol reference, the rotations and the battery")
    args = ap.parse_args()
    print("| run | map | pass: marg / mom / slice / joint | KS max ratio | cov dev ratio | HZ ratio | "
          "Mardia skewness ratio | probe |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for run in args.runs:
        emb = run / "embeddings"
        train = np.load(emb / "train.npy").astype(np.float64)
        heldout = np.load(emb / "heldout.npy").astype(np.float64)
        y_train, y_held = np.load(emb / "train_labels.npy"), np.load(emb / "heldout_labels.npy")
        maps: list[tuple[str, float | None]] = [("none", None)] + ([] if args.no_exact else [("exact OT", None)])
        maps += [(f"entropic OT, reg {r:g}", r) for r in args.reg]
        rows = [(name, (train, heldout) if name == "none" else transported(train, (train, heldout), reg, args.seed))
                for name, reg in maps]
        rows += [(f"iterative Gaussianization, {k} rotations",
                  iterative_gaussianization(train, heldout, k, seed=args.seed)) for k in args.rotations]
        for name, (tr, z) in rows:
            res = dm_battery(z, "gaussian", seed=args.seed)
            fam = " / ".join("P" if res["families"][f]["pass"] else "F"
                             for f in ("marginals", "moments", "slices", "joint"))
            st = res["statistics"]
            ratios = [st[k]["ratio"] for k in ("marginals.ks_max", "moments.cov_max_abs_dev", "joint.hz",
                                              "joint.mardia_skewness")]
            print(f"| {run.name} | {name} | {fam} | " + " | ".join(f"{r:.2f}" for r in ratios)
                  + f" | {linear_probe(tr, y_train, z, y_held):.3f} |", flush=True)


if __name__ == "__main__":
    main()
