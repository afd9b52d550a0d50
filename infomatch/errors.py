"""Errors the user can fix, and the one place that turns known failure families into them.

Every user-facing entry point (the CLI) reports an :class:`InputError` as one line and exit
status 2. :func:`user_input` marks a block of code whose failures are caused by the user's input
(options, config files, data files, checkpoints): ``ValueError``, ``OSError``, YAML, zip and
decoding errors raised inside it become an :class:`InputError`. Code outside such a block keeps
its exceptions, so a real bug still shows its traceback.

Example:
    >>> try:
    ...     with user_input():
    ...         int("x")
    ... except InputError as err:
    ...     print(err)
    invalid literal for int() with base 10: 'x'
"""

from __future__ import annotations

import contextlib
import pickle
import zipfile
from collections.abc import Iterator


class InputError(ValueError):
    """An error caused by the user's input: reported in one line, exit status 2."""


class RunBusyError(InputError):
    """Another process holds the lock of a run directory."""


class RunInterrupted(Exception):
    """Training stopped on SIGINT; the run directory is consistent and resumable.

    Not a ``KeyboardInterrupt``, so that Lightning's own handler (which exits with status 1)
    lets it through.
    """


def describe(exc: BaseException) -> str | None:
    """A one-line message for a known failure family, or None for anything else (a bug)."""
    if isinstance(exc, InputError):
        return _first_line(exc)
    if isinstance(exc, zipfile.BadZipFile):
        return f"not a valid zip / .npz archive ({_first_line(exc)})"
    if isinstance(exc, UnicodeDecodeError):
        return f"a file that must be UTF-8 text is binary or mis-encoded ({exc.reason} at byte {exc.start})"
    if isinstance(exc, pickle.UnpicklingError):
        return _first_line(exc)
    if isinstance(exc, ModuleNotFoundError) and exc.name and not exc.name.startswith("infomatch"):
        root = exc.name.split(".")[0]
        return f"the optional package {root!r} is not installed (pip install {root})"
    if isinstance(exc, OSError):
        return _first_line(exc)
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml is a dependency
        yaml = None
    if yaml is not None and isinstance(exc, yaml.YAMLError):
        return f"invalid YAML: {_first_line(exc)}"
    if type(exc).__name__ == "MisconfigurationException":  # Lightning's configuration errors
        return _first_line(exc)
    return None


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and str(exc).startswith("[Errno"):
        text = exc.strerror + (f": {exc.filename}" if exc.filename is not None else "")
    else:
        text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def user_input(context: str | None = None) -> Iterator[None]:
    """Turn failures of known families raised inside the block into :class:`InputError`.

    ``context`` (e.g. ``"--config c.yaml"``) is prefixed to messages that do not name it.
    """
    try:
        yield
    except InputError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        raise InputError(_with_context(describe(exc) or _first_line(exc), context)) from exc
    except Exception as exc:
        message = describe(exc)
        if message is None:
            raise
        raise InputError(_with_context(message, context)) from exc


def _with_context(message: str, context: str | None) -> str:
    if context and context not in message:
        return f"{context}: {message}"
    return message
