"""Subcommands of the ``infomatch`` CLI: each module has ``add_parser(subparsers)`` and ``run(args)``."""
