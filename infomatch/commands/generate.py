"""``infomatch generate``: draw z from a run's prior, decode it, write an image grid (and arrays).

Needs a decoder (``infomatch decoder RUN``). With ``--inputs DATA`` it is conditional instead:
the first ``--n`` inputs of DATA are embedded, decoded, and the grid shows each row of inputs
above its reconstructions. Existing output files are kept unless ``--force``.

Example:
    $ infomatch generate runs/my-run --n 64 --out grid.png --npy samples.npy --seed 0
    $ infomatch generate runs/my-run --inputs ../data/mnist:test --n 32 --out recon.png
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("generate", help="decode prior samples (or given inputs) of a run into an image grid",
                       description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("run_dir", metavar="RUN", help="run directory with a decoder")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", required=True, help="output .png grid")
    p.add_argument("--npy", help="also write the decoded samples as .npy")
    p.add_argument("--z-npy", dest="z_npy", help="also write the drawn (or embedded) z as .npy")
    p.add_argument("--seed", type=int, default=0, help="seed of the prior draws (default 0)")
    p.add_argument("--inputs", help="data to reconstruct instead of sampling (its first --n rows)")
    p.add_argument("--cols", type=int, help="grid columns (default: square grid; 8 for reconstructions)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")


def _check_out(path: str | None, suffix: str, flag: str, force: bool) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    if p.suffix.lower() != suffix:
        raise ValueError(f"{flag} must be a {suffix} file; got {path!r}")
    if p.exists() and not force:
        raise FileExistsError(f"{flag} {p} exists; pass --force to overwrite it")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the command; bad input (ValueError, OSError, corrupt files) is reported in one line."""
    from ..errors import user_input

    with user_input():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from .._io import atomic_write_bytes
    from ..data import load_dataset
    from ..decoder import decode, run_decoder, sample_prior
    from ..decoder.grid import grid_png
    from ..training.rundir import atomic_save_npy

    if isinstance(args.n, bool) or args.n < 1:
        raise ValueError(f"--n must be a positive integer; got {args.n}")
    if args.cols is not None and args.cols < 1:
        raise ValueError(f"--cols must be a positive integer; got {args.cols}")
    outs = [_check_out(args.out, ".png", "--out", args.force), _check_out(args.npy, ".npy", "--npy", args.force),
            _check_out(args.z_npy, ".npy", "--z-npy", args.force)]
    if len({str(p.resolve()) for p in outs if p is not None}) < sum(p is not None for p in outs):
        raise ValueError("--out, --npy and --z-npy must be different files")
    tr, decoder = run_decoder(args.run_dir)
    if args.inputs:
        ds = tr.check_dataset(load_dataset(args.inputs), f"--inputs {args.inputs!r}")
        x_in = ds.x[: args.n]
        z = tr.embed(x_in)
        x = decode(decoder, z)
        png = grid_png(x_in, pairs=x, cols=args.cols or 8,
                       title=f"{tr.path.name}: inputs (odd rows) and reconstructions (even rows)")
        what = f"{len(x)} reconstructions of {args.inputs}"
    else:
        z = sample_prior(tr.prior, args.n, tr.config.dim, args.seed)
        x = decode(decoder, z)
        png = grid_png(x, cols=args.cols, title=f"{tr.path.name}: {args.n} decoded samples of the {tr.config.prior} prior"
                       f" (seed {args.seed})")
        what = f"{args.n} decoded prior samples"
    atomic_write_bytes(outs[0], png)
    if outs[1] is not None:
        atomic_save_npy(outs[1], x.numpy().astype(np.float32))
    if outs[2] is not None:
        atomic_save_npy(outs[2], z.numpy().astype(np.float32))
    print(f"wrote {args.out} ({what})" + "".join(f", {p}" for p in outs[1:] if p is not None))
    return 0
