"""``infomatch embed``: clean representations f(X) of a trained run, in the prior's space.

Evaluation mode, no noise; for an inverse-CDF prior the representation is mapped through the
prior's inverse CDF (``--space representation`` keeps the learned Gaussian / uniform scale).

Example:
    $ infomatch embed runs/my-run --data digits --out z.npy
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("embed", help="write the embeddings of a trained run as .npy", description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("run_dir", metavar="RUN", help="run directory (or a .safetensors weights file)")
    p.add_argument("--data", help="data to embed (default: the run's training data, all of it)")
    p.add_argument("--out", required=True, help="output .npy file")
    p.add_argument("--checkpoint", help="'last', 'best' or a .ckpt path instead of the final weights")
    p.add_argument("--space", choices=("prior", "representation"), default="prior",
                   help="prior space (default) or the learned Gaussian / uniform scale")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=1024)
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from .._io import check_output, write_output
    from ..data import load_dataset
    from ..errors import user_input
    from ..training.components import build_prior, embed_array
    from ..training.engine import load_checkpoint_model, load_model
    from ..training.rundir import npy_bytes

    with user_input():
        out = Path(args.out)
        if out.suffix != ".npy":
            raise ValueError(f"--out must be a .npy file; got {str(out)!r}")
        if args.batch_size < 1:
            raise ValueError(f"--batch-size must be a positive integer; got {args.batch_size}")
        run_path = Path(args.run_dir)
        if not run_path.exists():
            raise FileNotFoundError(f"run not found: {run_path}")
        data_path = Path(args.data) if args.data else None
        protected = tuple(p for p in (run_path, data_path) if p is not None)
        if run_path.is_dir():
            protected += tuple(p for p in run_path.rglob("*") if p.is_file())
        check_output(out, force=args.force, flag="--out", protected=protected)
        if args.checkpoint:
            ckpt = Path(args.checkpoint)
            if args.checkpoint in ("last", "best"):
                ckpt = run_path / "checkpoints" / f"{args.checkpoint}.ckpt"
            cfg, model, meta = load_checkpoint_model(ckpt)
        else:
            cfg, model, meta = load_model(run_path)
        ds = load_dataset(args.data or cfg.data)
        if list(ds.input_shape) != list(meta["input_shape"]):
            raise ValueError(f"--data {args.data or cfg.data!r} has inputs of shape {tuple(ds.input_shape)}; "
                             f"the run was trained on {tuple(meta['input_shape'])}")
    z = embed_array(model, ds.x, batch_size=args.batch_size)
    if args.space == "prior":
        z = build_prior(cfg).from_representation(z)
    with user_input():
        write_output(out, npy_bytes(z.numpy().astype(np.float32)), force=args.force, flag="--out", protected=protected)
    print(f"wrote {out} ({z.shape[0]} x {z.shape[1]}, {args.space} space)")
    return 0
