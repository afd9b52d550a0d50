"""Where the joint family fails: the squared radius |z|^2 of held-out embeddings against the
chi-square law it has under N(0, I_d).

A representation whose marginals and covariance pass but whose radius is concentrated (a thick
shell, no points near the centre or in the tails) fails Henze-Zirkler and Mardia's kurtosis
while the per-coordinate tests pass: this script prints the radius quantiles, the mean excess
kurtosis of the coordinates and a KS test of |z|^2 against chi2(d), per run directory.

It also prints the class share: the fraction of the embedding variance that the class means
explain (between-class / total). Under N(0, I_d) no labelling into k classes can make that share
larger than the k-means optimum on a large N(0, I_d) sample (about 0.33 for d = 8, k = 10),
printed beside it: a larger share proves class clusters that no Gaussian holds.

And the intrinsic dimension of the embeddings (the TwoNN maximum-likelihood estimate of Facco et
al. 2017, from each point's first two neighbour distances), beside its mean on N(0, I_d) samples
of the same size: an estimate well below it says the embeddings fill fewer directions than d,
which no rotation or per-coordinate map repairs.

Example:
    python benchmarks/radius_diagnosis.py runs/ablation/default-*-s0 runs/other-run
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import stats

QUANTILES = (0.01, 0.1, 0.5, 0.9, 0.99)


def radius_row(z: np.ndarray) -> dict[str, float]:
    """Quantiles of |z|^2, the chi2(d) quantiles, mean excess kurtosis, KS p of |z|^2 vs chi2(d)."""
    d = z.shape[1]
    r2 = (z ** 2).sum(1)
    return {"q": np.quantile(r2, QUANTILES), "chi2": stats.chi2.ppf(QUANTILES, d),
            "kurtosis": float(stats.kurtosis(z, axis=0).mean()), "ks_p": float(stats.kstest(r2, stats.chi2(d).cdf).pvalue)}


def class_share(z: np.ndarray, labels: np.ndarray) -> float:
    """Between-class variance over total variance of ``z`` for integer ``labels``."""
    centred = z - z.mean(0)
    between = sum((labels == c).mean() * np.sum(centred[labels == c].mean(0) ** 2) for c in np.unique(labels))
    return float(between / np.sum(centred.var(0)))


def twonn_dimension(z: np.ndarray) -> float:
    """TwoNN intrinsic dimension: ``n / sum(log(r2 / r1))`` over each point's nearest and second
    nearest neighbour distances (Facco et al. 2017, maximum-likelihood form)."""
    from sklearn.neighbors import NearestNeighbors

    dist, _ = NearestNeighbors(n_neighbors=3).fit(z).kneighbors(z)
    mu = dist[:, 2] / dist[:, 1]
    return float(len(z) / np.log(mu).sum())


def gaussian_twonn(n: int, d: int, draws: int = 20, seed: int = 0) -> float:
    """Mean TwoNN dimension of ``draws`` samples of N(0, I_d) of size ``n`` (the estimator's own
    downward bias at this n and d)."""
    rng = np.random.default_rng(seed)
    return float(np.mean([twonn_dimension(rng.standard_normal((n, d))) for _ in range(draws)]))


def gaussian_share_max(d: int, k: int, n: int = 20000, seed: int = 0) -> float:
    """The class share of the k-means partition of ``n`` draws of N(0, I_d): the largest share a
    k-class labelling of a Gaussian can have (k-means maximizes the between-cluster variance)."""
    from sklearn.cluster import KMeans

    g = np.random.default_rng(seed).standard_normal((n, d))
    labels = KMeans(k, n_init=4, random_state=seed).fit(g).labels_
    return class_share(g, labels)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="run directories (Gaussian prior)")
    ap.add_argument("--split", default="heldout", choices=("heldout", "train"))
    args = ap.parse_args()
    qs = " / ".join(f"{q:g}" for q in QUANTILES)
    print(f"| run | n | d | |z|^2 quantiles {qs} | chi2(d) quantiles | mean excess kurtosis | KS p of |z|^2 vs chi2(d) "
          "| class share | Gaussian max share | TwoNN dimension | Gaussian TwoNN |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    limits: dict[tuple[int, int], float] = {}
    twonn_refs: dict[tuple[int, int], float] = {}
    for run in args.runs:
        z = np.load(Path(run) / "embeddings" / f"{args.split}.npy")
        row = radius_row(z)
        fmt = lambda v: " / ".join(f"{x:.1f}" for x in v)  # noqa: E731
        labels_file = Path(run) / "embeddings" / f"{args.split}_labels.npy"
        share = limit = "–"
        if labels_file.exists():
            labels = np.load(labels_file)
            key = (z.shape[1], len(np.unique(labels)))
            if key not in limits:
                limits[key] = gaussian_share_max(*key)
            share, limit = f"{class_share(z, labels):.2f}", f"{limits[key]:.2f}"
        if z.shape not in twonn_refs:
            twonn_refs[z.shape] = gaussian_twonn(*z.shape)
        print(f"| {Path(run).name} | {len(z)} | {z.shape[1]} | {fmt(row['q'])} | {fmt(row['chi2'])} | "
              f"{row['kurtosis']:.2f} | {row['ks_p']:.1e} | {share} | {limit} | "
              f"{twonn_dimension(z):.1f} | {twonn_refs[z.shape]:.1f} |")


if __name__ == "__main__":
    main()
