"""The ``infomatch`` command: train | embed | evaluate | report.

User errors (bad values, missing or corrupt files, an occupied output directory, a missing
optional package or device) print one line ``infomatch: error: ...`` and exit with status 2; no
traceback. Anything else is a bug: its traceback is printed and the status is 1. ``--debug``
(or ``INFOMATCH_DEBUG=1``) prints the traceback of user errors too. Ctrl-C during training
keeps the run resumable and exits with status 130.

Example:
    $ infomatch train --data digits --epochs 50
    $ infomatch embed runs/my-run --data digits --out z.npy
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from . import __version__
from .errors import InputError, RunInterrupted, describe

COMMANDS = ("train", "embed", "evaluate", "report", "sweep", "decoder", "generate", "score")


UserError = InputError  # an error caused by the user's input: one line, exit status 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="infomatch", description="Distribution-matched self-supervised representations (NINE).")
    parser.add_argument("--version", action="version", version=f"infomatch {__version__}")
    parser.add_argument("--debug", action="store_true", help="print tracebacks of user errors too")
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
    debug = "--debug" in args_list[:1] or os.environ.get("INFOMATCH_DEBUG", "") not in ("", "0")
    try:
        parser = build_parser()
        args = parser.parse_args(args_list)
        debug = debug or bool(getattr(args, "debug", False))
        module = importlib.import_module(f".commands.{args.command}", __package__)
        return int(module.run(args) or 0)
    except RunInterrupted as exc:
        print(f"infomatch: interrupted: {exc}", file=sys.stderr, flush=True)
        return 130
    except KeyboardInterrupt:
        print("infomatch: interrupted", file=sys.stderr, flush=True)
        return 130
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - sorted into user errors and bugs below
        message = describe(exc)
        if message is None:
            traceback.print_exc()
            _error(f"internal error ({type(exc).__name__}); this is a bug, please report it with the traceback above")
            return 1
        if debug:
            traceback.print_exc()
        _error(message)
    return 2


def _error(message: str) -> None:
    print(f"infomatch: error: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
