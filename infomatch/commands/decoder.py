"""``infomatch decoder``: train a decoder from a run's frozen representation back to its inputs.

A small deconvolutional net for images, an MLP for arrays, trained with Lightning on the run's
training split (held-out split for the checkpoint choice) and stored in ``RUN/decoder/``
(config, checkpoints/last.ckpt and best.ckpt, decoder.safetensors, metrics.json). An
interrupted training continues with ``--resume``; an existing decoder is never replaced.

Example:
    $ infomatch decoder runs/my-run --epochs 40
    $ infomatch decoder runs/my-run --epochs 60 --resume
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("decoder", help="train a decoder from a run's representation to its inputs",
                       description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("run_dir", metavar="RUN", help="run directory")
    p.add_argument("--data", help="the run's data when its recorded path moved (same rows, same order)")
    p.add_argument("--epochs", type=int, default=40, help="training epochs (default 40)")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=256, help="batch size (default 256)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--max-time", dest="max_time", type=float, help="time budget in seconds")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--resume", action="store_true", help="continue the decoder in RUN/decoder from its last checkpoint")


def run(args: argparse.Namespace) -> int:
    """Run the command; bad input (ValueError, OSError, corrupt files) is reported in one line."""
    from ..errors import user_input

    with user_input():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from ..decoder import DecoderConfig, train_run_decoder

    cfg = DecoderConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                        max_time=args.max_time, threads=args.threads)
    res = train_run_decoder(args.run_dir, cfg, resume=args.resume, data=args.data,
                            log=lambda msg: print(msg, file=sys.stderr, flush=True))
    m = res.metrics
    print(f"wrote {res.path}/decoder.safetensors ({m['epochs_completed']} epochs; held-out loss "
          f"{m['heldout_loss']:.4g}, held-out MSE {m['heldout_mse']:.4g})")
    return 0
