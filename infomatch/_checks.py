"""Argument validation shared by every module.

Each check raises a one-line ``ValueError`` that names the argument and the offending value,
so the CLI can print it as-is and exit with status 2.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``.

    >>> check_choice("bound", "infonce", ["infonce", "jsd"])
    'infonce'
    """
    options = list(choices)
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return value


def keyword_names(fn: Callable[..., Any], exclude: Iterable[str] = ()) -> list[str]:
    """The named parameters ``fn`` accepts, without ``self``, ``*args`` / ``**kwargs`` and ``exclude``:
    what a ``**kwargs`` pass-through (critic, bound options) may contain.

    >>> keyword_names(lambda self, dim, temperature=1.0, *args, **kw: None, exclude=["dim"])
    ['temperature']
    """
    skip = {"self", *exclude}
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [p.name for p in inspect.signature(fn).parameters.values() if p.name not in skip and p.kind not in variadic]


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an int if it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return value


def check_nonnegative_int(name: str, value: Any) -> int:
    """Return ``value`` as an int if it is an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}")
    return value


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is finite and >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a non-negative number; got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite non-negative number; got {value!r}")
    return float(value)


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is finite and > 0."""
    value = check_nonnegative(name, value)
    if value == 0:
        raise ValueError(f"{name} must be > 0; got {value!r}")
    return value


def check_probability(name: str, value: Any, *, open_left: bool = True, open_right: bool = True) -> float:
    """Return ``value`` if it lies in the unit interval (open ends by default)."""
    value = check_nonnegative(name, value)
    if (open_left and value <= 0) or (open_right and value >= 1) or value > 1:
        raise ValueError(f"{name} must lie in the unit interval; got {value!r}")
    return value


def check_momentum(value: Any) -> float | None:
    """A running-statistics momentum: a number in (0, 1], or None (cumulative average).

    Example:
        >>> check_momentum(0.1), check_momentum(None)
        (0.1, None)
    """
    if value is None:
        return None
    value = check_positive("momentum", value)
    if value > 1:
        raise ValueError(f"momentum must lie in (0, 1] or be None; got {value!r}")
    return value


def check_matrix(name: str, x: Any, *, dim: int | None = None, finite: bool = True) -> torch.Tensor:
    """Check that ``x`` is a floating 2-D tensor ``(B, d)``, optionally with ``d == dim``."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (batch, dim); got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor; got dtype {x.dtype}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns; got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must not be empty; got shape {tuple(x.shape)}")
    if finite and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf values")
    return x
