"""Sweep specifications: a YAML file of ``train`` options, a grid over some of them, and seeds.

A spec holds::

    base:                 # train options every run shares (keys of a run's config.yaml)
      data: digits
      dim: 16
      batch_size: 512
      epochs: 300
    grid:                 # a mapping, or a list of mappings (their union); lists are crossed
      - method: nine
        capacity_fraction: [0.25, 0.5, 0.75, 1.0]
      - method: [plain, plain+pca, plain+rbig, plain+flow, vicreg, sigreg, dim-adv]
    seeds: [0, 1, 2, 3, 4]
    evaluate: {seeds: 5, knn_k: 5}   # battery references and kNN neighbours (optional)

Grid keys are ``train`` options (including ``method``), plus ``capacity_fraction``: the noise
scale whose capacity is that fraction of ``log(batch_size)`` (sigma for Gaussian-base priors,
eps for uniform-base ones), and the post-hoc methods ``plain+pca``, ``plain+rbig`` and
``plain+flow`` (a ``plain`` run's embeddings transformed after training). Every entry is
checked before anything runs: an unknown key, an empty grid or a value ``train`` rejects
raises :class:`SpecError` naming the entry.

Example:
    >>> spec = parse_spec({"base": {"dim": 4, "epochs": 2}, "grid": {"sigma": [0.5, 1.0]}, "seeds": [0, 1]})
    >>> [e.run_id for e in spec.entries()]
    ['nine-sigma=0.5-seed0', 'nine-sigma=0.5-seed1', 'nine-sigma=1-seed0', 'nine-sigma=1-seed1']
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infomatch.methods import split_method
from infomatch.training.config import TrainConfig

__all__ = ["EVALUATE_DEFAULTS", "RunEntry", "SpecError", "SweepSpec", "load_spec", "noise_for_capacity", "parse_spec"]

TOP_KEYS = ("base", "grid", "seeds", "evaluate")
EVALUATE_DEFAULTS: dict[str, Any] = {"seeds": 5, "knn_k": 5, "max_n": None}
SWEEP_KEYS = ("capacity_fraction",)


class SpecError(ValueError):
    """A sweep specification that cannot run; the message names the entry."""


def noise_for_capacity(base: str, dim: int, batch_size: int, fraction: float) -> float:
    """The noise scale whose capacity is ``fraction * log(batch_size)`` nats.

    Gaussian base: ``(d/2) log(1 + 1/sigma^2) = c`` gives ``sigma = (exp(2c/d) - 1)^(-1/2)``;
    uniform base: ``d log(1 + 1/(2 eps)) = c`` gives ``eps = 1 / (2 (exp(c/d) - 1))``.

    Example:
        >>> from infomatch.priors import capacity
        >>> s = noise_for_capacity("gaussian", 16, 512, 0.5)
        >>> round(capacity("gaussian", 16, s) / math.log(512), 6)
        0.5
    """
    if not (isinstance(fraction, (int, float)) and 0 < fraction):
        raise ValueError(f"capacity_fraction must be a positive number; got {fraction!r}")
    c = fraction * math.log(batch_size)
    if base == "gaussian":
        return 1.0 / math.sqrt(math.expm1(2.0 * c / dim))
    return 1.0 / (2.0 * math.expm1(c / dim))


@dataclass(frozen=True)
class RunEntry:
    """One run of a sweep: its settings (the grid point), seed, resolved config and directory name."""

    settings: dict[str, Any]
    seed: int
    config: TrainConfig
    method: str
    posthoc: str | None
    run_id: str
    row_id: str

    @property
    def source_id(self) -> str | None:
        """For a post-hoc entry, the run id of the ``plain`` run it transforms."""
        if self.posthoc is None:
            return None
        return _slug({**self.settings, "method": "plain"}, self.seed)


@dataclass
class SweepSpec:
    """A parsed, validated sweep specification."""

    base: dict[str, Any]
    grid: list[dict[str, list[Any]]]
    seeds: list[int]
    evaluate: dict[str, Any] = field(default_factory=lambda: dict(EVALUATE_DEFAULTS))
    raw: dict[str, Any] = field(default_factory=dict)

    def entries(self) -> list[RunEntry]:
        """Every run, grid point by grid point, seeds innermost (validated on parsing)."""
        return _expand(self.base, self.grid, self.seeds)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        return ",".join(f"{k}={_fmt(x)}" for k, x in sorted(v.items()))
    return str(v)


def _row_slug(settings: dict[str, Any]) -> str:
    method = str(settings.get("method", "nine"))
    parts = [method] + [f"{k}={_fmt(v)}" for k, v in sorted(settings.items()) if k != "method"]
    return re.sub(r"[^A-Za-z0-9_.=,+-]", "_", "-".join(parts))


def _slug(settings: dict[str, Any], seed: int) -> str:
    return f"{_row_slug(settings)}-seed{seed}"


def _grid_points(grid: list[dict[str, list[Any]]]) -> list[tuple[int, dict[str, Any]]]:
    from sklearn.model_selection import ParameterGrid

    out = []
    for i, block in enumerate(grid):
        for point in ParameterGrid(block):
            out.append((i, dict(point)))
    return out


def _expand(base: dict[str, Any], grid: list[dict[str, list[Any]]], seeds: list[int]) -> list[RunEntry]:
    entries: list[RunEntry] = []
    seen: set[str] = set()
    for i, point in _grid_points(grid):
        where = f"grid[{i}] ({_row_slug(point)})"
        values = {**base, **point}
        method_name = str(values.pop("method", "nine"))
        fraction = values.pop("capacity_fraction", None)
        try:
            method, posthoc = split_method(method_name)
        except ValueError as exc:
            raise SpecError(f"{where}: {exc}") from None
        values["method"] = method
        for seed in seeds:
            try:
                cfg = TrainConfig.from_dict({**values, "seed": seed})
                if fraction is not None:
                    if method != "nine":
                        raise ValueError(f"capacity_fraction applies to method 'nine'; got method {method_name!r}")
                    if cfg.sigma is not None or cfg.eps is not None:
                        raise ValueError("give capacity_fraction or sigma/eps, not both")
                    scale = noise_for_capacity(cfg.base, cfg.dim, cfg.batch_size, fraction)
                    cfg = cfg.replace(**{"sigma" if cfg.base == "gaussian" else "eps": scale})
                cfg = cfg.resolved()
            except ValueError as exc:
                raise SpecError(f"{where}: {str(exc).splitlines()[0]}") from None
            run_id = _slug(point, seed)
            if run_id in seen:
                raise SpecError(f"{where}: the grid lists this run twice ({run_id})")
            seen.add(run_id)
            entries.append(RunEntry(dict(point), seed, cfg, method_name, posthoc, run_id, _row_slug(point)))
    return entries


def _as_list(where: str, value: Any) -> list[Any]:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise SpecError(f"{where}: empty list (an empty grid has no runs)")
    return values


def parse_spec(raw: Any, source: str = "spec") -> SweepSpec:
    """Check and expand a spec mapping; raises :class:`SpecError` naming the first bad entry."""
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: a sweep spec must be a mapping with keys {', '.join(TOP_KEYS)}; got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(TOP_KEYS))
    if unknown:
        raise SpecError(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(TOP_KEYS)})")
    known = set(TrainConfig.field_names()) - {"seed"} | set(SWEEP_KEYS)
    base = raw.get("base") or {}
    if not isinstance(base, dict):
        raise SpecError(f"{source}: base must be a mapping of train options; got {base!r}")
    for key in base:
        if key not in known:
            raise SpecError(f"{source}: unknown key {key!r} in base (train options: {', '.join(sorted(known))})")
    grid_raw = raw.get("grid")
    if grid_raw is None or grid_raw == {} or grid_raw == []:
        raise SpecError(f"{source}: empty grid (give grid: a mapping of options to lists of values)")
    blocks = grid_raw if isinstance(grid_raw, list) else [grid_raw]
    grid: list[dict[str, list[Any]]] = []
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or not block:
            raise SpecError(f"{source}: grid[{i}] must be a non-empty mapping of options to values; got {block!r}")
        for key in block:
            if key not in known:
                raise SpecError(f"{source}: unknown key {key!r} in grid[{i}] (train options: {', '.join(sorted(known))})")
        grid.append({k: _as_list(f"{source}: grid[{i}].{k}", v) for k, v in block.items()})
    seeds = _as_list(f"{source}: seeds", raw.get("seeds", [0]))
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int):
            raise SpecError(f"{source}: seeds must be integers; got {s!r}")
    if len(set(seeds)) != len(seeds):
        raise SpecError(f"{source}: seeds lists a seed twice: {seeds}")
    evaluate = dict(EVALUATE_DEFAULTS)
    ev = raw.get("evaluate") or {}
    if not isinstance(ev, dict):
        raise SpecError(f"{source}: evaluate must be a mapping; got {ev!r}")
    for key, value in ev.items():
        if key not in EVALUATE_DEFAULTS:
            raise SpecError(f"{source}: unknown key {key!r} in evaluate (known: {', '.join(EVALUATE_DEFAULTS)})")
        evaluate[key] = value
    if not isinstance(evaluate["seeds"], int) or evaluate["seeds"] < 2:
        raise SpecError(f"{source}: evaluate.seeds must be an integer >= 2; got {evaluate['seeds']!r}")
    if not isinstance(evaluate["knn_k"], int) or evaluate["knn_k"] < 1:
        raise SpecError(f"{source}: evaluate.knn_k must be a positive integer; got {evaluate['knn_k']!r}")
    spec = SweepSpec(dict(base), grid, [int(s) for s in seeds], evaluate, raw)
    try:
        spec.entries()
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None
    return spec


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a spec file (safe YAML loader)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"sweep spec not found: {p}")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{p}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse_spec(raw, str(p))
