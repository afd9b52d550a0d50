"""Sample quality of decoded prior samples, measured by a small MNIST classifier.

The classifier (a benchmark artifact, not part of the package) is a two-block CNN trained once
on the runs' training split of MNIST and cached as safetensors (``--classifier``). For each run
(which needs a decoder: ``infomatch decoder RUN``) it reports, for ``--n`` decoded samples:

- realism: the fraction classified with confidence (max softmax) >= 0.9;
- coverage: the entropy (nats; log 10 = 2.303 is uniform over the 10 digits) of the
  predicted-class histogram;
- FD: the Fréchet distance between Gaussians fitted to the classifier's 128-d penultimate
  features of the samples and of the real held-out images.

Rows per run: decoded prior samples z ~ prior; decoded held-out embeddings (the ceiling). A
last row scores the real held-out images themselves (FD against a same-size draw of training
images: the floor).

Example:
    $ python benchmarks/uses_generation.py --mnist data/mnist --run nine=runs/uses/gen-s1.0 \
        --run plain=runs/uses/gen-s0 --classifier runs/uses/classifier.safetensors --json gen.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy import linalg
from torch import nn

from infomatch._io import atomic_write_bytes, atomic_write_text
from infomatch.data import load_dataset
from infomatch.decoder import decode, run_decoder, sample_prior
from infomatch.decoder.grid import grid_png
from infomatch.training.checkpoint import load_weights, save_weights
from infomatch.training.rundir import RunDir


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU())
        self.head = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.head(h), h


def train_classifier(x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> Classifier:
    torch.manual_seed(seed)
    net = Classifier()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            loss = nn.functional.cross_entropy(net(x[idx])[0], y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


@torch.no_grad()
def features(net: Classifier, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    logits, h = zip(*(net(x[i:i + 1000]) for i in range(0, len(x), 1000)), strict=True)
    return torch.softmax(torch.cat(logits), 1).numpy(), torch.cat(h).numpy().astype(np.float64)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(c1 @ c2)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(c1 + c2 - 2 * covmean))


def quality(net: Classifier, x: torch.Tensor, real_feats: np.ndarray) -> dict[str, float]:
    prob, feats = features(net, x)
    hist = np.bincount(prob.argmax(1), minlength=10) / len(prob)
    nz = hist[hist > 0]
    return {"realism": float((prob.max(1) >= 0.9).mean()), "coverage_entropy": float(-(nz * np.log(nz)).sum()),
            "fd": frechet(feats, real_feats), "n": int(len(x)), "class_histogram": hist.round(4).tolist()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mnist", required=True)
    ap.add_argument("--run", action="append", required=True, metavar="LABEL=RUN")
    ap.add_argument("--classifier-only", action="store_true", help="train and cache the classifier, then stop")
    ap.add_argument("--classifier", required=True, help="cached classifier .safetensors (trained if missing)")
    ap.add_argument("--classifier-epochs", type=int, default=4)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grids", help="folder for the 64-sample grids of each row")
    ap.add_argument("--json", help="write the table as JSON")
    args = ap.parse_args()
    t0 = time.time()
    runs = [r.split("=", 1) for r in args.run]
    ds = load_dataset(args.mnist)
    train_idx, held_idx = RunDir(runs[0][1]).load_split()
    for _, path in runs[1:]:
        a, b = RunDir(path).load_split()
        if not (np.array_equal(a, train_idx) and np.array_equal(b, held_idx)):
            raise SystemExit(f"{path}: a different train / held-out split than {runs[0][1]}")
    x_train, y_train = ds.x[torch.as_tensor(train_idx)], ds.labels[torch.as_tensor(train_idx)]
    x_held, y_held = ds.x[torch.as_tensor(held_idx)], ds.labels[torch.as_tensor(held_idx)]
    cpath = Path(args.classifier)
    net = Classifier()
    if cpath.is_file():
        state, meta = load_weights(cpath)
        net.load_state_dict(state)
        net.eval()
    else:
        net = train_classifier(x_train, y_train, args.classifier_epochs, args.seed)
        save_weights(cpath, net.state_dict(), {"epochs": args.classifier_epochs, "n_train": len(x_train)})
    prob_held, real_feats = features(net, x_held)
    acc = float((prob_held.argmax(1) == y_held.numpy()).mean())
    if args.classifier_only:
        print(f"classifier held-out accuracy {acc:.4f}")
        return
    rows = []
    grids = Path(args.grids) if args.grids else None
    for label, path in runs:
        tr, decoder = run_decoder(path)
        z = sample_prior(tr.prior, args.n, tr.config.dim, args.seed)
        for kind, zz in (("prior samples", z), ("decoded held-out embeddings (ceiling)",
                                                torch.from_numpy(np.load(Path(path) / "embeddings" / "heldout.npy")))):
            x = decode(decoder, zz)
            row = {"run": label, "path": path, "sigma": tr.config.sigma, "dim": tr.config.dim, "rows": kind,
                   **quality(net, x, real_feats)}
            rows.append(row)
            print(f"{label:8s} {kind:40s} realism {row['realism']:.3f}  coverage {row['coverage_entropy']:.3f}  "
                  f"FD {row['fd']:.2f}", flush=True)
            if grids is not None:
                tag = "prior" if kind == "prior samples" else "heldout"
                atomic_write_bytes(grids / f"{label}-{tag}.png", grid_png(x[:64], cols=8, title=f"{label}: {kind}"))
    g = torch.Generator().manual_seed(args.seed)
    ref_train = x_train[torch.randperm(len(x_train), generator=g)[: len(x_held)]]
    real = quality(net, x_held, features(net, ref_train)[1])
    rows.append({"run": "real", "path": args.mnist, "rows": "real held-out images (FD vs training images)", **real})
    print(f"real     held-out images                          realism {real['realism']:.3f}  coverage "
          f"{real['coverage_entropy']:.3f}  FD {real['fd']:.2f}")
    out = {"classifier_heldout_accuracy": acc, "n": args.n, "seed": args.seed, "rows": rows,
           "seconds": round(time.time() - t0, 1)}
    print(f"classifier held-out accuracy {acc:.4f}; {out['seconds']} s")
    if args.json:
        atomic_write_text(args.json, json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
