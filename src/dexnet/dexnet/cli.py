"""`dexnet` command line: generate, inspect, train, evaluate, export.

Each subcommand lives in its own module, which exposes `register_cli(subparsers)` adding a parser whose
`func(args) -> int` runs it. Failures print one readable line and exit non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMAND_MODULES = ("generate", "inspect", "train", "evaluate", "export")


class CliError(Exception):
    """An error to report as one line with a non-zero exit code."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dexnet", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"dexnet.{name}").register_cli(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("dexnet: interrupted (completed work is kept; rerun with --resume)", file=sys.stderr)
        return 130
    except (CliError, FileNotFoundError, ValueError, OSError) as err:
        print(f"dexnet {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
