"""Write the class-subset MNIST files of the outlier protocol (inliers: some classes, outliers: the rest).

Reads the IDX directory given by --mnist and writes two ``.npz`` files (``x`` uint8 images,
``y`` labels): ``inliers.npz`` with the classes of --classes and ``outliers.npz`` with the others.

Example:
    $ python benchmarks/uses_data.py --mnist data/mnist --classes 0,1,2,3,4 --out runs/uses
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from infomatch.data import load_idx_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mnist", required=True, help="IDX directory of MNIST")
    ap.add_argument("--classes", default="0,1,2,3,4", help="inlier classes, comma-separated")
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args()
    ds = load_idx_dir(args.mnist)
    x = np.rint(ds.x.numpy()[:, 0] * 255).astype(np.uint8)
    y = ds.labels.numpy()
    keep = np.isin(y, [int(c) for c in args.classes.split(",")])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "inliers.npz", x=x[keep], y=y[keep])
    np.savez(out / "outliers.npz", x=x[~keep], y=y[~keep])
    print(f"wrote {out}/inliers.npz ({keep.sum()} images) and {out}/outliers.npz ({(~keep).sum()} images)")


if __name__ == "__main__":
    main()
