"""Run a sweep: every entry in its own run directory, one after another or ``jobs`` at a time.

Resumable: a run whose directory holds a finished ``sweep.json`` is skipped; a run with a
checkpoint continues from it (``train(..., resume=True)``; the checkpoint carries the random
state, so it ends where an uninterrupted run ends); a run directory that the sweep started but
that holds no checkpoint yet is cleared and started again. Post-hoc entries (``plain+pca``, ...)
run after the trained ones and transform their ``plain`` run's embeddings (the ``plain`` run is
trained even when the grid does not list it).

Each finished run directory holds, besides what ``infomatch train`` writes,
``evaluation.json`` (DM battery, linear probe, kNN: ``infomatch.metrics.evaluate_run``) and
``sweep.json`` (grid point, seed, method, wall time), which is all the table needs.

Wall time of a run: the sum over its attempts of the time from the attempt's start to its end
(for an attempt that was killed: to its last checkpoint, the work a resume keeps), plus the
evaluation; a post-hoc run adds its fit time to its ``plain`` run's training time.

Example:
    >>> from infomatch.sweep.spec import parse_spec
    >>> spec = parse_spec({"base": {"dim": 2, "epochs": 1}, "grid": {"method": ["plain+pca"]}})
    >>> [e.run_id for e in plan(spec)]
    ['plain-seed0', 'plain+pca-seed0']
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from infomatch._io import atomic_write_text
from infomatch.sweep.spec import RunEntry, SpecError, SweepSpec, load_spec

__all__ = ["plan", "run_entry", "run_sweep"]

_OWN_FILES = {"config.yaml", "run.json", "split.json", "metrics.csv", "logs", "checkpoints", "embeddings",
              "tensorboard", "model.safetensors", "encoder.pt2", "metrics.json", "evaluation.json", "sweep.json"}


def plan(spec: SweepSpec) -> list[RunEntry]:
    """The entries in running order: trained runs (with any ``plain`` source a post-hoc entry
    needs), then post-hoc ones; each carries its position for the table's row order."""
    entries = spec.entries()
    trained = [e for e in entries if e.posthoc is None]
    ids = {e.run_id for e in trained}
    for e in entries:
        if e.posthoc is not None and e.source_id not in ids:
            settings = {**e.settings, "method": "plain"}
            from infomatch.sweep.spec import _row_slug

            trained.append(RunEntry(settings, e.seed, e.config, "plain", None, e.source_id or "", _row_slug(settings)))
            ids.add(e.source_id or "")
    return trained + [e for e in entries if e.posthoc is not None]


def _finished(rd: Path) -> bool:
    p = rd / "sweep.json"
    try:
        return p.is_file() and json.loads(p.read_text()).get("status") == "finished"
    except (OSError, json.JSONDecodeError):
        return False


def _attempts_path(out: Path, run_id: str) -> Path:
    return out / ".attempts" / f"{run_id}.json"


def _read_attempts(out: Path, run_id: str) -> list[dict[str, float]]:
    p = _attempts_path(out, run_id)
    return json.loads(p.read_text()) if p.is_file() else []


def _start_attempt(out: Path, rd: Path, run_id: str) -> list[dict[str, float]]:
    """Close a killed previous attempt at its last checkpoint's time and open a new one."""
    attempts = _read_attempts(out, run_id)
    ckpt = rd / "checkpoints" / "last.ckpt"
    if attempts and "end" not in attempts[-1]:
        end = ckpt.stat().st_mtime if ckpt.is_file() else attempts[-1]["start"]
        attempts[-1]["end"] = max(end, attempts[-1]["start"])
        attempts[-1]["killed"] = True
    attempts.append({"start": time.time()})
    atomic_write_text(_attempts_path(out, run_id), json.dumps(attempts))
    return attempts


def _clear_unstarted(rd: Path) -> None:
    """Remove a run directory the sweep started that has no checkpoint (nothing to resume)."""
    if not rd.exists():
        return
    foreign = [p.name for p in rd.iterdir() if p.name not in _OWN_FILES and not p.name.startswith(".")]
    if foreign:
        raise SpecError(f"{rd} holds files a run does not write ({foreign[0]}); move them or choose another --out")
    shutil.rmtree(rd)


def _evaluate(rd: Path, evaluate: dict[str, Any]) -> float:
    from infomatch.metrics.runs import evaluate_run, write_json_atomic

    t0 = time.perf_counter()
    result = evaluate_run(rd, seeds=evaluate["seeds"], knn_k=evaluate["knn_k"], max_n=evaluate.get("max_n"))
    write_json_atomic(rd / "evaluation.json", result)
    return time.perf_counter() - t0


def _write_sweep_json(rd: Path, entry: RunEntry, order: int, **fields: Any) -> None:
    from infomatch.metrics.runs import write_json_atomic

    write_json_atomic(rd / "sweep.json", {
        "status": "finished", "run_id": entry.run_id, "row_id": entry.row_id, "order": order,
        "method": entry.method, "posthoc": entry.posthoc, "settings": entry.settings, "seed": entry.seed,
        "config": entry.config.to_dict(), **fields})


def _train_entry(entry: RunEntry, out: Path, order: int, evaluate: dict[str, Any], say: Callable[[str], None]) -> str:
    from infomatch.training.engine import train

    rd = out / entry.run_id
    if _finished(rd):
        return "skipped"
    trained = (rd / "model.safetensors").is_file() and (rd / "metrics.json").is_file()
    status = "evaluated"
    if not trained:
        resume = (rd / "checkpoints" / "last.ckpt").is_file() and (rd / "config.yaml").is_file()
        if not resume:
            _clear_unstarted(rd)
        attempts = _start_attempt(out, rd, entry.run_id)
        say(f"{'resume' if resume else 'train '} {entry.run_id}")
        train(entry.config, rd, resume=resume, log=lambda msg: None)
        attempts[-1]["end"] = time.time()
        atomic_write_text(_attempts_path(out, entry.run_id), json.dumps(attempts))
        status = "resumed" if resume else "trained"
    attempts = _read_attempts(out, entry.run_id)
    train_s = sum(a.get("end", a["start"]) - a["start"] for a in attempts)
    eval_s = _evaluate(rd, evaluate)
    _write_sweep_json(rd, entry, order, train_seconds=train_s, evaluation_seconds=eval_s,
                      wall_seconds=train_s + eval_s, attempts=len(attempts),
                      killed_attempts=sum(bool(a.get("killed")) for a in attempts))
    return status


def _posthoc_entry(entry: RunEntry, out: Path, order: int, evaluate: dict[str, Any], say: Callable[[str], None]) -> str:
    from infomatch.methods.posthoc import make_posthoc, to_prior
    from infomatch.metrics.downstream import linear_probe
    from infomatch.metrics.runs import load_npy, write_json_atomic
    from infomatch.priors import get_prior
    from infomatch.training.rundir import atomic_save_npy, environment

    rd = out / entry.run_id
    if _finished(rd):
        return "skipped"
    src = out / (entry.source_id or "")
    if not _finished(src):
        raise RuntimeError(f"post-hoc run {entry.run_id}: its plain run {src} has not finished")
    _clear_unstarted(rd)
    say(f"fit   {entry.run_id}")
    tmp = out / f".{entry.run_id}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "embeddings").mkdir(parents=True)
    cfg = yaml.safe_load((src / "config.yaml").read_text())
    prior = get_prior(cfg["prior"], **(cfg.get("prior_params") or {}))
    z_train = load_npy(src / "embeddings" / "train.npy")
    z_held = load_npy(src / "embeddings" / "heldout.npy")
    t0 = time.perf_counter()
    transform = make_posthoc(entry.posthoc or "", seed=entry.seed) if entry.posthoc != "pca" else make_posthoc("pca")
    transform.fit(z_train)
    out_train, out_held = to_prior(transform.transform(z_train), prior), to_prior(transform.transform(z_held), prior)
    fit_s = time.perf_counter() - t0
    atomic_save_npy(tmp / "embeddings" / "train.npy", out_train)
    atomic_save_npy(tmp / "embeddings" / "heldout.npy", out_held)
    for name in ("train_labels.npy", "heldout_labels.npy"):
        if (src / "embeddings" / name).is_file():
            shutil.copy2(src / "embeddings" / name, tmp / "embeddings" / name)
    for name in ("config.yaml", "split.json", "metrics.csv"):
        if (src / name).is_file():
            shutil.copy2(src / name, tmp / name)
    metrics = json.loads((src / "metrics.json").read_text())
    metrics.update({"posthoc": entry.posthoc, "posthoc_source": entry.source_id, "posthoc_fit_seconds": fit_s})
    if (tmp / "embeddings" / "train_labels.npy").is_file():
        ytr, yte = np.load(tmp / "embeddings" / "train_labels.npy"), np.load(tmp / "embeddings" / "heldout_labels.npy")
        metrics["linear_probe_accuracy"] = float(linear_probe(out_train, ytr, out_held, yte))
    write_json_atomic(tmp / "metrics.json", metrics)
    write_json_atomic(tmp / "run.json", {"seed": entry.seed, "status": "finished", "posthoc": entry.posthoc,
                                         "source": entry.source_id, "command": sys.argv, **environment()})
    tmp.rename(rd)
    src_sweep = json.loads((src / "sweep.json").read_text())
    eval_s = _evaluate(rd, evaluate)
    train_s = float(src_sweep.get("train_seconds", 0.0)) + fit_s
    _write_sweep_json(rd, entry, order, train_seconds=train_s, posthoc_fit_seconds=fit_s,
                      evaluation_seconds=eval_s, wall_seconds=train_s + eval_s, attempts=1, killed_attempts=0)
    return "fitted"


def run_entry(entry: RunEntry, out: str | Path, order: int, evaluate: dict[str, Any],
              say: Callable[[str], None] | None = None) -> str:
    """Bring one entry to ``finished``; returns what was done (``skipped``, ``trained``, ...)."""
    log = say or (lambda msg: print(msg, file=sys.stderr, flush=True))
    fn = _posthoc_entry if entry.posthoc is not None else _train_entry
    return fn(entry, Path(out), order, evaluate, log)


def _check_existing(entries: list[RunEntry], out: Path) -> None:
    """Refuse before any run starts when a run directory holds a run of another config."""
    from infomatch.training.config import TrainConfig
    from infomatch.training.engine import _resume_key, with_stored_fraction

    for e in entries:
        cfg_path = out / e.run_id / "config.yaml"
        if e.posthoc is None and cfg_path.is_file():
            stored = TrainConfig.from_stored_yaml(cfg_path)
            if _resume_key(stored) != _resume_key(with_stored_fraction(e.config, stored)):
                raise SpecError(f"{out / e.run_id} holds a run of another config than entry {e.run_id}; choose another --out")


def _job(args: tuple[RunEntry, str, int, dict[str, Any]]) -> tuple[str, str]:
    entry, out, order, evaluate = args
    return entry.run_id, run_entry(entry, out, order, evaluate, say=lambda m: print(m, file=sys.stderr, flush=True))


def run_sweep(spec: SweepSpec | str | Path, out: str | Path, *, jobs: int = 1, extend: bool = False,
              say: Callable[[str], None] | None = None) -> dict[str, str]:
    """Run every entry of ``spec`` under ``out``, then write the table; returns ``{run_id: what was done}``.

    ``out/spec.yaml`` keeps the spec; a different spec for an existing sweep directory is refused
    unless ``extend`` (the old spec is kept as ``spec-previous-<k>.yaml``).
    """
    from infomatch.sweep.table import write_table

    log = say or (lambda msg: print(msg, file=sys.stderr, flush=True))
    if isinstance(spec, (str, Path)):
        spec = load_spec(spec)
    if jobs < 1:
        raise ValueError(f"--jobs must be a positive integer; got {jobs}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a directory")
    entries = plan(spec)
    _check_existing(entries, out)
    out.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(spec.raw, sort_keys=False)
    spec_file = out / "spec.yaml"
    if spec_file.is_file() and yaml.safe_load(spec_file.read_text()) != yaml.safe_load(text):
        if not extend:
            raise SpecError(f"{out} holds a sweep of another spec ({spec_file} differs); pass --extend to add runs to it or choose another --out")
        k = 1
        while (out / f"spec-previous-{k}.yaml").exists():
            k += 1
        shutil.copy2(spec_file, out / f"spec-previous-{k}.yaml")
    atomic_write_text(spec_file, text)
    order = {e.run_id: i for i, e in enumerate(entries)}
    done: dict[str, str] = {}
    for phase in ([e for e in entries if e.posthoc is None], [e for e in entries if e.posthoc is not None]):
        if jobs == 1 or len(phase) <= 1:
            for e in phase:
                done[e.run_id] = run_entry(e, out, order[e.run_id], spec.evaluate, log)
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
                args = [(e, str(out), order[e.run_id], spec.evaluate) for e in phase]
                for run_id, what in pool.map(_job, args):
                    done[run_id] = what
    write_table(out)
    log(f"sweep {out}: {sum(v != 'skipped' for v in done.values())} runs done, "
        f"{sum(v == 'skipped' for v in done.values())} already finished; table: {out / 'table.md'}")
    return done
