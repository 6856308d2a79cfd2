"""`snowload load …`, `snowload demo` and `snowload serve`. Progress goes to stderr; results to stdout."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .env import PROGRESS_MODES, resolve_progress
from .errors import SnowloadError, describe
from .result import LoadResult

if TYPE_CHECKING:
    from .loader import Loader

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_TERMINATED = 128 + signal.SIGTERM


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            from .server import serve

            return serve(port=args.port, db_path=args.local_db, watch_stdin=args.watch_stdin)
        if args.command == "demo":
            from .demo import run_demo

            return run_demo(files=args.files, workers=args.workers, progress=args.progress)
        return _load(args)
    except SnowloadError as exc:
        print(f"snowload: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("snowload: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _load(args: argparse.Namespace) -> int:
    try:
        conn = connect(args)
    except Exception as exc:
        print(f"snowload: cannot connect: {describe(exc)}", file=sys.stderr)
        return EXIT_FAILED
    try:
        with _terminate_as_interrupt() as terminated:
            result = loader_for(args, conn).load(args.paths)
    finally:
        conn.close()
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:  # the progress view prints the summary; with none, it goes after the table
        sys.stdout.write(_table(result, with_summary=resolve_progress(args.progress) == "none"))
    if result.cancelled:
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    return EXIT_OK if result.ok else EXIT_FAILED


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[list[bool]]:
    """SIGTERM (kill, a CI job's timeout, systemd) cancels the load as Ctrl-C does, so running
    files stop, nothing half-loaded is committed and the temporary folder goes, instead of the
    process dying where it stands. The list says whether it came."""
    came: list[bool] = []

    def on_term(signum: int, frame: object) -> None:
        came.append(True)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield came
    finally:
        signal.signal(signal.SIGTERM, previous)


def loader_for(args: argparse.Namespace, conn: Any) -> Loader:
    """The Loader the load arguments describe."""
    from .loader import Loader

    return Loader(
        conn,
        args.table,
        workers=args.workers,
        progress=args.progress,
        create_table=args.create_table,
        force=args.force,
        mode=args.mode,
        extra_columns=args.extra_columns,
    )


def connect(args: argparse.Namespace) -> Any:
    """The connection the load arguments ask for: embedded, named, or the connector's default."""
    if args.local:
        from .local import connect_local

        return connect_local(db_path=args.local_db)
    import snowflake.connector

    if args.connection:
        return snowflake.connector.connect(connection_name=args.connection)
    return snowflake.connector.connect()


def _table(result: LoadResult, with_summary: bool) -> str:
    lines = [result.results_table()]
    if with_summary:
        lines.append(result.summary())
    return "\n".join(lines) + "\n"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0..65535, not {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="snowload", description="Load local files into Snowflake, fast.")
    commands = parser.add_subparsers(dest="command", required=True)

    add_load_arguments(commands.add_parser("load", help="load CSV and Parquet files into a table"))

    demo = commands.add_parser("demo", help="generate a dozen CSV files and load them into the embedded server")
    demo.add_argument("--files", type=_positive, default=12)
    demo.add_argument("--workers", type=_positive, default=4)
    demo.add_argument("--progress", choices=PROGRESS_MODES, default="auto")

    serve = commands.add_parser(
        "serve",
        help="run the embedded Snowflake (fakesnow) on 127.0.0.1 until Ctrl-C or SIGTERM",
        description="Run the embedded Snowflake server in the foreground. Prints one line on stdout, "
        "a JSON object of snowflake.connector.connect() keyword arguments for it, then nothing else.",
    )
    serve.add_argument("--port", type=_port, default=0, help="port to listen on (default: any free port)")
    serve.add_argument("--local-db", metavar="PATH", help="keep its databases in this folder between runs")
    # connect_local() holds the other end of stdin: when its process dies, the server follows.
    serve.add_argument("--watch-stdin", action="store_true", help=argparse.SUPPRESS)
    return parser


def add_load_arguments(load: argparse.ArgumentParser) -> None:
    """The arguments of `snowload load`, shared with the %snowload magic."""
    load.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files, folders or glob patterns (in %%snowload: or a DataFrame variable)",
    )
    load.add_argument("--table", required=True, help="NAME, SCHEMA.NAME or DB.SCHEMA.NAME")
    load.add_argument("--workers", type=_positive, default=4, help="files loaded at once (default 4)")
    where = load.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="use the embedded Snowflake (fakesnow)")
    where.add_argument("--connection", metavar="NAME", help="a connection from the connector's connections.toml")
    load.add_argument("--local-db", metavar="PATH", help="with --local: keep its databases in this folder")
    load.add_argument("--create-table", action="store_true", help="create the table if missing, typed from every file")
    load.add_argument("--force", action="store_true", help="load files again even if already loaded")
    load.add_argument(
        "--mode",
        choices=("append", "truncate", "overwrite"),
        default="append",
        help="append rows (default); truncate: replace the rows, keep the table; overwrite: replace the table "
        "with one made from the files' columns. Replacing is all or nothing: readers see old rows or new",
    )
    load.add_argument("--extra-columns", choices=("fail", "ignore"), default="fail", help="columns the table lacks")
    load.add_argument("--progress", choices=PROGRESS_MODES, default="auto")
    load.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


if __name__ == "__main__":
    sys.exit(main())
