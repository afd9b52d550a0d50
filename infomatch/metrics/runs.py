"""Evaluate a run directory or a bare embeddings file: DM battery, probes, outlier AUROC, run metrics.

A run directory (written by ``infomatch train``) holds ``config.yaml`` (``prior``,
``prior_params``, ``sigma``, ``eps``, ``dim``, ...), ``metrics.json`` (``mi_estimate``,
``capacity``, ``log_batch_ceiling``), ``metrics.csv`` and ``embeddings/{train,heldout}.npy`` with
optional ``*_labels.npy`` (and optional ``other.npy``: embeddings of inputs the model never saw a
class of, for the outlier AUROC). Embeddings are already in the prior's space.

Probe protocol: for a run directory, the probes are fitted on ``train`` and scored on
``heldout``; for a bare ``.npy`` with labels, on an explicit training file when given, else on a
seeded stratified 80/20 split of the one array (:func:`~infomatch.metrics.downstream.stratified_split`).
The DM battery runs on the held-out embeddings (the train ones when there are none).

Example:
    >>> import numpy as np
    >>> z = np.random.default_rng(0).standard_normal((300, 2)); y = (z[:, 0] > 0).astype(int)
    >>> out = evaluate_arrays(z, "gaussian", labels=y, seeds=2)
    >>> out["linear_probe_accuracy"] > 0.9, out["dm"]["d"]
    (True, 2)
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from infomatch._io import atomic_write_text
from infomatch.metrics._inputs import check_embeddings, check_labels, resolve_prior
from infomatch.metrics.battery import dm_battery
from infomatch.metrics.downstream import knn_accuracy, linear_probe, outlier_auroc, stratified_split
from infomatch.priors import Prior, get_prior

__all__ = ["RunData", "evaluate_arrays", "evaluate_run", "load_npy", "load_run", "write_json_atomic"]


def load_npy(path: str | Path, name: str = "array") -> np.ndarray:
    """Load a ``.npy`` file without pickle (object arrays are refused).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.npy"); np.save(p, np.eye(2))
        >>> load_npy(p).shape
        (2, 2)
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{name} file not found: {p}")
    try:
        loaded = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{name} must be a numeric .npy file (no pickled objects): {p}: {exc}") from exc
    if not isinstance(loaded, np.ndarray):
        loaded.close()
        raise ValueError(f"{name} must be a .npy file holding one array; {p} is an .npz archive")
    return loaded


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as JSON (NaN/inf as null) to ``path`` through a temporary file and ``os.replace``.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "x.json"); write_json_atomic(p, {"a": float("nan")})
        >>> open(p).read()
        '{\\n  "a": null\\n}\\n'
    """
    atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


@dataclass
class RunData:
    """What evaluation needs from a run directory (arrays loaded, files parsed)."""

    path: Path
    config: dict[str, Any]
    metrics: dict[str, Any]
    train: np.ndarray | None = None
    train_labels: np.ndarray | None = None
    heldout: np.ndarray | None = None
    heldout_labels: np.ndarray | None = None
    other: np.ndarray | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def prior(self) -> Prior:
        """The prior named in ``config.yaml`` (``prior`` plus ``prior_params``)."""
        name = self.config.get("prior")
        if not isinstance(name, str):
            raise ValueError(f"config.yaml of {self.path} must name a prior (key 'prior'); got {name!r}")
        params = self.config.get("prior_params") or {}
        if not isinstance(params, dict):
            raise ValueError(f"prior_params in config.yaml of {self.path} must be a mapping; got {params!r}")
        return get_prior(name, **params)


def _read_csv(path: Path) -> list[dict[str, Any]]:
    import csv

    rows: list[dict[str, Any]] = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            parsed: dict[str, Any] = {}
            for k, v in row.items():
                try:
                    parsed[k] = float(v) if v not in ("", None) else None
                except ValueError:
                    parsed[k] = v
            rows.append(parsed)
    return rows


def load_run(path: str | Path) -> RunData:
    """Read a run directory: config, metrics, history and whatever embeddings exist.

    Example:
        >>> load_run("/nonexistent")
        Traceback (most recent call last):
        ...
        FileNotFoundError: run directory not found: /nonexistent
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"run directory not found: {root}")
    cfg_path = root / "config.yaml"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"not a run directory (no config.yaml): {root}")
    try:
        config = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValueError(f"{cfg_path} is not a readable YAML file: {str(exc).splitlines()[0]}") from None
    if not isinstance(config, dict):
        raise ValueError(f"config.yaml of {root} must be a mapping")
    metrics_path = root / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    history = _read_csv(root / "metrics.csv") if (root / "metrics.csv").is_file() else []
    emb = root / "embeddings"

    def opt(name: str) -> np.ndarray | None:
        f = emb / f"{name}.npy"
        return load_npy(f, f"embeddings/{name}.npy") if f.is_file() else None

    run = RunData(root, config, metrics, opt("train"), opt("train_labels"), opt("heldout"),
                  opt("heldout_labels"), opt("other"), history)
    if run.train is None and run.heldout is None:
        raise FileNotFoundError(f"run directory has no embeddings/train.npy or embeddings/heldout.npy: {root}")
    return run


def _probe_block(z_tr: np.ndarray, y_tr: np.ndarray, z_te: np.ndarray, y_te: np.ndarray,
                 knn_k: int, seed: int, protocol: str) -> dict[str, Any]:
    return {
        "linear_probe_accuracy": linear_probe(z_tr, y_tr, z_te, y_te, seed=seed),
        "knn_accuracy": knn_accuracy(z_tr, y_tr, z_te, y_te, k=knn_k),
        "knn_k": knn_k,
        "probe_protocol": protocol,
        "probe_sizes": {"train": int(len(z_tr)), "test": int(len(z_te))},
    }


_NO_PROBE = {"linear_probe_accuracy": None, "knn_accuracy": None, "knn_k": None,
             "probe_protocol": "no labels: probes not run", "probe_sizes": None}


def _subsample(z: np.ndarray, max_n: int | None, seed: int) -> np.ndarray:
    if max_n is None or len(z) <= max_n:
        return z
    idx = np.sort(np.random.default_rng(seed).permutation(len(z))[:max_n])
    return z[idx]


def evaluate_arrays(z: Any, prior: Prior | str, *, labels: Any = None, train: Any = None,
                    train_labels: Any = None, other: Any = None, seeds: int = 5, knn_k: int = 5,
                    max_n: int | None = None, seed: int = 0, **prior_params: Any) -> dict[str, Any]:
    """Evaluate one embeddings array (prior space): battery, probes and outlier AUROC.

    Probes: fitted on ``(train, train_labels)`` and scored on ``(z, labels)`` when a training
    pair is given; otherwise a seeded stratified 80/20 split of ``(z, labels)``; skipped (None)
    without labels. ``max_n`` subsamples rows (seeded) for the battery only.

    Example:
        >>> z = np.random.default_rng(1).standard_normal((200, 3))
        >>> out = evaluate_arrays(z, "gaussian", seeds=2)
        >>> out["linear_probe_accuracy"] is None, out["dm"]["n"]
        (True, 200)
    """
    rp = resolve_prior(prior, **prior_params)
    x = check_embeddings("embeddings", z, dim=rp.dim)
    result: dict[str, Any] = {"prior": rp.prior.to_dict(), "n": int(x.shape[0]), "d": int(x.shape[1])}
    if labels is not None:
        y = check_labels("labels", labels, x.shape[0])
        if train is not None:
            if train_labels is None:
                raise ValueError("train labels are required with a separate training array")
            xt = check_embeddings("train embeddings", train, dim=x.shape[1])
            yt = check_labels("train labels", train_labels, xt.shape[0])
            result.update(_probe_block(xt, yt, x, y, knn_k, seed,
                                       "fit on the training array, scored on the evaluated array"))
        else:
            tr, te = stratified_split(x.shape[0], y, test_size=0.2, seed=seed)
            result.update(_probe_block(x[tr], y[tr], x[te], y[te], knn_k, seed,
                                       f"seeded stratified 80/20 split of one array (seed {seed})"))
    else:
        result.update(_NO_PROBE)
    result["outlier_auroc"] = None if other is None else outlier_auroc(x, other, rp.prior)
    result["dm"] = dm_battery(_subsample(x, max_n, seed), rp.prior, seeds=seeds, seed=seed)
    return result


def evaluate_run(path: str | Path, *, prior: Prior | str | None = None, seeds: int = 5,
                 knn_k: int = 5, split: str = "heldout", max_n: int | None = None, seed: int = 0,
                 **prior_params: Any) -> dict[str, Any]:
    """Evaluate a run directory (see the module docstring for the protocol).

    ``prior`` overrides the run's prior (rarely wanted); ``split`` picks the embeddings the DM
    battery runs on (``"heldout"`` or ``"train"``).

    Example:
        >>> evaluate_run("/nonexistent")
        Traceback (most recent call last):
        ...
        FileNotFoundError: run directory not found: /nonexistent
    """
    run = load_run(path)
    p = resolve_prior(prior if prior is not None else run.prior(), **prior_params)
    if split not in ("heldout", "train"):
        raise ValueError(f"split must be 'heldout' or 'train'; got {split!r}")
    z = run.heldout if split == "heldout" and run.heldout is not None else run.train
    assert z is not None
    x = check_embeddings(f"embeddings of {run.path}", z, dim=p.dim)
    cfg_dim = run.config.get("dim")
    if isinstance(cfg_dim, int) and cfg_dim != x.shape[1]:
        raise ValueError(f"embeddings have {x.shape[1]} columns but config.yaml says dim={cfg_dim}")
    result: dict[str, Any] = {"source": str(run.path), "kind": "run", "split": split,
                              "prior": p.prior.to_dict(), "n": int(x.shape[0]), "d": int(x.shape[1])}
    has_probe = (run.train is not None and run.train_labels is not None and run.heldout is not None
                 and run.heldout_labels is not None)
    if has_probe:
        assert run.train is not None and run.heldout is not None
        ytr = check_labels("embeddings/train_labels.npy", run.train_labels, len(run.train))
        yte = check_labels("embeddings/heldout_labels.npy", run.heldout_labels, len(run.heldout))
        result.update(_probe_block(run.train, ytr, run.heldout, yte, knn_k, seed,
                                   "fit on train embeddings, scored on heldout embeddings"))
    else:
        result.update(_NO_PROBE)
    result["outlier_auroc"] = None if run.other is None else outlier_auroc(x, run.other, p.prior)
    result["dm"] = dm_battery(_subsample(x, max_n, seed), p.prior, seeds=seeds, seed=seed)
    for key in ("mi_estimate", "capacity", "log_batch_ceiling"):
        result[key] = run.metrics.get(key)
    for key in ("sigma", "eps"):
        result[key] = run.config.get(key)
    return result
