"""`dexnet` command line: generate, inspect, train, evaluate, export.

Each subcommand lives in its own module, which exposes `register_cli(subparsers)` adding a parser whose
`func(args) -> int` runs it. Failures print one readable line and exit with the project's CLI convention:
0 done, 1 the work failed (I/O error, training diverged), 2 bad input (arguments, dataset, shard or model
files that cannot be used; argparse's own usage errors are 2 as well), 130 interrupted (work so far is kept).
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMAND_MODULES = ("generate", "inspection", "train", "evaluate", "export")
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dexnet", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"dexnet.{name}").register_cli(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or EXIT_OK)
    except KeyboardInterrupt:
        print("dexnet: interrupted (completed work is kept; rerun with --resume)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (FileNotFoundError, ValueError) as err:
        print(f"dexnet {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, RuntimeError) as err:
        print(f"dexnet {args.command}: failed: {err}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
