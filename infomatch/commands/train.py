"""``infomatch train``: train a distribution-matched encoder and fill a run directory.

Precedence: built-in defaults < ``--config file.yaml`` < command-line flags. With
``--resume`` the stored config of ``--out`` is the starting point instead of the defaults.

Example:
    $ infomatch train                                   # digits, Gaussian prior, ~1 minute
    $ infomatch train --data data/mnist --dim 16 --batch-size 512 --epochs 80 \
    >     --capacity-fraction 0.25 --final-whiten --precision 32   # ~5 minutes on 2 cores
    $ infomatch train --out runs/a --resume             # continue an interrupted run
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from ..methods import METHODS
from ..training.config import BOUNDS, CRITICS, ENCODERS, PRECISIONS, PRIORS, VIEWS, TrainConfig

S = argparse.SUPPRESS


def _key_value(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE; got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="train an encoder whose representation follows a prior",
                       description=__doc__.split("\n\n")[0].replace("``", ""), argument_default=S)
    io = p.add_argument_group("data and output")
    io.add_argument("--data", help="'digits' (bundled, default) or a path: IDX directory (MNIST / Fashion-MNIST), "
                    "CIFAR-10 python directory, image folder, .npy / .npz file")
    io.add_argument("--out", help="run directory (default: a new directory under runs/)")
    io.add_argument("--config", help="YAML file of options (keys as in a run's config.yaml)")
    io.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    io.add_argument("--held-out", dest="held_out", type=float, help="held-out fraction (default 0.2)")
    io.add_argument("--split-seed", dest="split_seed", type=int, help="seed of the train / held-out split (default 0)")
    m = p.add_argument_group("method")
    m.add_argument("--prior", choices=PRIORS, help="target law of the representation (default gaussian)")
    m.add_argument("--prior-param", dest="prior_params", action="append", type=_key_value, metavar="KEY=VALUE",
                   help="prior parameter, e.g. df=5 for student_t (repeatable); base=gaussian (the default: "
                   "the network learns N(0, I) and the prior is F^-1(Phi(z))) or base=uniform (U[0, 1]^d with "
                   "uniform noise, the paper's uniform recipe; also chosen by giving --eps)")
    m.add_argument("--dim", type=int, help="representation dimension d (default 16)")
    m.add_argument("--sigma", type=float, help="Gaussian noise std of the Gaussian base, every prior's default (default: advised, "
                   "so the capacity is --capacity-fraction of log(batch size + queue); d=16, batch 256: 1.55)")
    m.add_argument("--eps", type=float, help="uniform noise half-width of the uniform base; giving it selects that base "
                   "for a non-Gaussian prior (default: advised as for --sigma)")
    m.add_argument("--capacity-fraction", dest="capacity_fraction", type=float,
                   help="noise advisor target when --sigma/--eps is not given: capacity / log(batch size + queue) "
                   "(default 0.5 for Gaussian-base priors, 0.72 for uniform-base ones; at 1 the bound can no longer "
                   "pull towards the prior)")
    m.add_argument("--normalization", choices=("whiten", "standardize"),
                   help="whiten: full-covariance batch whitening (default); standardize: per-coordinate (the paper's)")
    m.add_argument("--gaussianize", action=argparse.BooleanOptionalAction,
                   help="end the normalization by mapping each coordinate to N(0, 1) through its empirical CDF "
                   "(batch ranks in training, running quantiles in evaluation); default on")
    m.add_argument("--radialize", action=argparse.BooleanOptionalAction,
                   help="end the normalization (after --gaussianize) by mapping each embedding's norm to the chi(d) "
                   "law through its empirical CDF, keeping its direction: the radius of N(0, I), which InfoNCE "
                   "otherwise squeezes into a shell; default: on for the Gaussian base, off for the uniform one")
    m.add_argument("--final-whiten", dest="final_whiten", action=argparse.BooleanOptionalAction,
                   help="end the normalization (after --gaussianize/--radialize) by whitening their output again "
                   "(--final-whiten-method; batch statistics in training, running ones from the clean training set in "
                   "evaluation): the stages keep each variance at 1 but not the correlations; default off")
    m.add_argument("--whiten-method", dest="whiten_method", choices=("cholesky", "zca"), help="default cholesky")
    m.add_argument("--final-whiten-method", dest="final_whiten_method", choices=("cholesky", "zca"),
                   help="the matrix of --final-whiten: cholesky (default) or zca, the whitening closest to the "
                   "identity, which moves each coordinate least from its N(0, 1) law")
    m.add_argument("--matched-view", dest="matched_view", choices=("clean", "augmented"),
                   help="input of the noised branch, whose law is matched: clean (default; the law of the "
                   "embeddings you get) or augmented (a second augmented view, the paper's protocol)")
    m.add_argument("--view-strength", dest="view_strength", type=float,
                   help="accuracy / matching dial in [0, 1]: scales every augmentation of the preset "
                   "(1 = preset, default; lower = closer to the prior, less invariant)")
    m.add_argument("--view-fraction", dest="view_fraction", type=float,
                   help="the dial's second axis, in [0, 1]: the fraction of each batch's pairs whose first view is "
                   "augmented; the others pair the clean input with itself (default: the views preset's, 0.25 "
                   "for digits, 1 for the others; 1 = every pair, the usual self-supervised recipe: more "
                   "linear probe, further from the prior; measured in BENCHMARKS.md)")
    m.add_argument("--symmetric", action="store_true", help="score both directions (clean 1 vs noisy 2 and 2 vs 1)")
    m.add_argument("--queue", type=int, help="past noisy view-2 representations kept as extra negatives (default 0)")
    m.add_argument("--bound", choices=BOUNDS, help="MI lower bound (default infonce)")
    m.add_argument("--bound-param", dest="bound_params", action="append", type=_key_value, metavar="KEY=VALUE",
                   help="bound option, e.g. self_weight=0.2 for infonce (repeatable)")
    m.add_argument("--critic", choices=CRITICS, help="critic T(a, b) (default separable)")
    m.add_argument("--critic-param", dest="critic_params", action="append", type=_key_value, metavar="KEY=VALUE",
                   help="critic option, e.g. temperature=0.1 (repeatable); the separable default is similarity=euclidean, "
                   "head=scale, learn_temperature=true, temperature = the noise variance; giving any option replaces all of "
                   "them (so name each one you want kept)")
    m.add_argument("--method", choices=METHODS, help="objective: nine (default), plain, vicreg, sigreg, dim-adv")
    m.add_argument("--method-param", dest="method_params", action="append", type=_key_value, metavar="KEY=VALUE",
                   help="method option, e.g. weight=0.5 for sigreg (repeatable)")
    m.add_argument("--encoder", choices=ENCODERS, help="encoder (default auto: by input shape)")
    m.add_argument("--encoder-width", dest="encoder_width", type=float,
                   help="multiplies every layer width of the encoder (MLP hidden sizes 512, ConvNet channels "
                   "32/64/128, ResNet-18 base width 64; default 1)")
    m.add_argument("--views", choices=VIEWS, help="augmentation preset (default auto: by input shape)")
    t = p.add_argument_group("optimisation")
    t.add_argument("--batch-size", dest="batch_size", type=int, help="global batch size (default 256)")
    t.add_argument("--epochs", type=int, help="maximum number of epochs (default 500: 2,500 steps on the bundled digits)")
    t.add_argument("--max-time", dest="max_time", type=float, help="time budget in seconds (stops early)")
    t.add_argument("--lr", type=float, help="Adam learning rate (default 3e-3)")
    t.add_argument("--lr-schedule", dest="lr_schedule", choices=("cosine", "constant"),
                   help="cosine (default): linear warm-up, then cosine decay to 0; constant")
    t.add_argument("--warmup", type=float, help="fraction of the steps of learning-rate warm-up (default 0.05)")
    t.add_argument("--noise-warmup", dest="noise_warmup", type=float,
                   help="fraction of the steps over which the noise grows from 0 to its target (default 0)")
    t.add_argument("--weight-decay", dest="weight_decay", type=float)
    t.add_argument("--seed", type=int, help="random seed (default 0)")
    h = p.add_argument_group("hardware")
    h.add_argument("--precision", choices=PRECISIONS, help="auto (default: bf16 where the hardware has native bfloat16, else 32), 32 or bf16 (mixed, autocast)")
    h.add_argument("--compile", action="store_true", help="torch.compile the encoder (on a CPU kept only if the first steps run faster compiled)")
    h.add_argument("--threads", type=int, help="torch CPU threads")
    h.add_argument("--accelerator", help="cpu (default), gpu, mps or auto")
    h.add_argument("--devices", type=int, help="number of devices/processes (DDP when > 1)")
    h.add_argument("--num-nodes", dest="num_nodes", type=int, help="number of nodes (with torchrun / SLURM)")
    o = p.add_argument_group("output")
    o.add_argument("--no-recalibrate", dest="recalibrate", action="store_false",
                   help="keep the normalization statistics gathered on augmented views")
    o.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard")
    o.add_argument("--progress", choices=("auto", "bar", "epoch", "none"), help="progress display")


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, Path, bool]:
    """Resolve (config, output directory, resume) from parsed arguments."""
    values = {k: v for k, v in vars(args).items() if k in TrainConfig.field_names()}
    for key in ("prior_params", "critic_params", "bound_params", "method_params"):
        if key in values:
            values[key] = dict(values[key])
    resume = bool(getattr(args, "resume", False))
    out = getattr(args, "out", None)
    base = TrainConfig()
    if resume:
        if out is None:
            raise ValueError("--resume needs --out RUN_DIR (the run to continue)")
        from ..errors import RunBusyError
        from ..training.rundir import RunDir

        holder = RunDir(out).lock_holder()
        if holder is not None:
            raise RunBusyError(f"--out {out} is in use by another training (pid {holder if holder > 0 else '?'}); "
                               "wait for it to end or choose another --out")
        stored = Path(out) / "config.yaml"
        if not stored.is_file():
            raise ValueError(f"--resume: {out} holds no run to resume (no config.yaml)")
        base = TrainConfig.from_stored_yaml(stored)
    if getattr(args, "config", None):
        base = TrainConfig.from_yaml(args.config, base=base)
    cfg = TrainConfig.from_dict(values, base=base)
    if out is None:
        from ..training.rundir import default_run_path

        out = default_run_path("runs", cfg.data, cfg.prior)
    return cfg, Path(out), resume


def run(args: argparse.Namespace) -> int:
    from ..errors import user_input
    from ..training.engine import train

    with user_input():
        cfg, out, resume = config_from_args(args)
    train(cfg, out, resume=resume, handle_sigint=True)
    return 0
