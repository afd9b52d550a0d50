"""The ``infomatch`` command: train | embed | evaluate | report.

User errors (bad values, missing files, an occupied output directory) print one line
``infomatch: error: ...`` and exit with status 2; no traceback.

Example:
    $ infomatch train --data digits --epochs 50
    $ infomatch embed runs/my-run --data digits --out z.npy
"""

from __future__ import annotations

import argparse
import importlib
import pickle
import sys
from collections.abc import Sequence

from . import __version__

COMMANDS = ("train", "embed", "evaluate", "report", "decoder", "generate", "score")


class UserError(Exception):
    """An error caused by the user's input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="infomatch", description="Distribution-matched self-supervised representations (NINE).")
    parser.add_argument("--version", action="version", version=f"infomatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.endswith(f"commands.{name}"):
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        module = importlib.import_module(f".commands.{args.command}", __package__)
        return int(module.run(args) or 0)
    except UserError as exc:
        _error(str(exc))
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
            PermissionError, pickle.UnpicklingError) as exc:
        _error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except KeyboardInterrupt:
        print("infomatch: interrupted", file=sys.stderr)
        return 130
    return 2


def _error(message: str) -> None:
    print(f"infomatch: error: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
