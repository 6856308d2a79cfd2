"""`%snowload`: the CLI's `load` in a notebook cell, returning the LoadResult.

%load_ext snowload_nb
%snowload data/*.csv --table EVENTS --local --create-table
%snowload data/*.csv --table EVENTS --conn conn --workers 8
"""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

from .cli import add_load_arguments, as_flag, connect, loader_for
from .errors import LoadError
from .frames import is_frame
from .result import LoadResult


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting the kernel."""

    def error(self, message: str) -> Any:
        raise _ArgumentError(f"{message}\n{self.format_usage()}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:
        raise _ArgumentError(message or self.format_help())


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%snowload", description="Load files into Snowflake with live progress.")
    add_load_arguments(parser)
    parser.add_argument("--conn", metavar="VARIABLE", help="a connection held in this notebook's variable")
    return parser


def snowload_magic(line: str, namespace: dict[str, Any]) -> LoadResult:
    from IPython.core.error import UsageError

    try:
        args = _parser().parse_args(shlex.split(line))
    except _ArgumentError as exc:
        raise UsageError(str(exc)) from None
    if args.conn:
        if args.conn not in namespace:
            raise UsageError(f"--conn {args.conn}: no such variable in this notebook")
        conn = namespace[args.conn]
        owned = False
    elif args.local or args.connection:
        conn = connect(args)
        owned = not args.local  # the embedded connection is cheap to keep; a real one we close
    else:
        raise UsageError("say where to load: --conn VARIABLE, --local, or --connection NAME")
    try:
        loader = loader_for(args, conn)
        frame = namespace.get(args.paths[0]) if len(args.paths) == 1 else None
        try:
            result = loader.load_dataframe(frame) if is_frame(frame) else loader.load(args.paths)
        except LoadError as exc:  # the fix as the flag typed here, as the CLI says it
            if exc.fix is None:
                raise
            raise LoadError(exc.worded(as_flag)) from None
        if args.json:
            print(json.dumps(result.to_dict(), indent=2))
        return result
    finally:
        if owned:
            conn.close()


def load_ipython_extension(ipython: Any) -> None:
    def snowload(line: str) -> LoadResult:
        return snowload_magic(line, ipython.user_ns)

    snowload.__doc__ = _parser().format_help()
    ipython.register_magic_function(snowload, magic_kind="line", magic_name="snowload")
