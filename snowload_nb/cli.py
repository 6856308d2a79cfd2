"""`snowload load …`, `snowload demo` and `snowload serve`. Progress goes to stderr; results to stdout."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .compress import BACKEND, DEFAULT_LEVEL, ZSTD_DEFAULT_LEVEL, ZSTD_LEVELS, level_range
from .env import PROGRESS_MODES, resolve_progress
from .errors import Fix, LoadError, SnowloadError, describe
from .options import (
    COMPRESSIONS,
    DEFAULT_PART_SIZE_MB,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_DELAY,
    DEFAULT_WORKERS,
    FORMATS,
    MAX_WORKERS,
    MIN_PART_SIZE_MB,
)
from .result import LoadResult

if TYPE_CHECKING:
    from .loader import Loader

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_TERMINATED = 128 + signal.SIGTERM
_PROGRESS_HELP = (
    "how progress is shown on stderr: auto (a live block in a terminal, log lines otherwise), "
    "tqdm, log, none, or widget/html in a notebook (default auto)"
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            from .server import serve

            return serve(
                port=args.port, db_path=args.local_db, watch_stdin=args.watch_stdin, stage_in_place=args.stage_in_place
            )
        if args.command == "demo":
            from .demo import run_demo

            return run_demo(files=args.files, workers=args.workers, progress=args.progress)
        return _load(args)
    except LoadError as exc:
        print(f"snowload: {exc.worded(as_flag)}", file=sys.stderr)
        return EXIT_FAILED
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
        print(f"snowload: cannot connect: {describe(exc)}{_connection_help(args, exc)}", file=sys.stderr)
        return EXIT_FAILED
    try:
        with _terminate_as_interrupt() as terminated:
            loader = loader_for(args, conn)
            try:
                result = loader.load(args.paths)
            except KeyboardInterrupt:  # the load wound down first: what it did is its last result
                if loader.last_result is None:
                    raise
                result = loader.last_result
    except KeyboardInterrupt:
        if not terminated:
            raise
        print("snowload: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    finally:
        conn.close()
    result = _in_flags(result)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:  # the progress view prints the summary; with none, it goes after the table
        sys.stdout.write(_table(result, with_summary=resolve_progress(args.progress) == "none"))
    if result.cancelled:
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    return EXIT_OK if result.ok else EXIT_FAILED


def as_flag(fix: Fix) -> str:
    """A Loader option as this command's flag: create_table=True -> --create-table."""
    flag = "--" + fix.option.replace("_", "-")
    return f"pass {flag if fix.value is True else f'{flag} {fix.value}'} {fix.effect}"


def _in_flags(result: LoadResult) -> LoadResult:
    """`result` with the fixes its files' errors name worded as this command's flags."""
    from .matching import IGNORE_EXTRA

    def worded(error: str | None) -> str | None:
        return error and error.replace(IGNORE_EXTRA.python(), as_flag(IGNORE_EXTRA))

    files = [dataclasses.replace(f, error=worded(f.error)) for f in result.files]
    return dataclasses.replace(result, files=files)


def _connection_help(args: argparse.Namespace, exc: Exception) -> str:
    """How to give a connection, when none was given or the one named is not there."""
    where = _connections_file()
    if args.local:
        return ""
    if args.connection:
        if f"'{args.connection}'" not in str(exc):  # the connection is there; connecting failed
            return ""
        return f"\n  connections are read from {where}: name one of them, or add [{args.connection}] there"
    return (
        "\n  no connection given: pass --local for the embedded Snowflake, or --connection NAME for a"
        f" connection in {where} (one named by default_connection_name there is used without --connection)"
    )


def _connections_file() -> str:
    """Where the connector reads connections.toml: $SNOWFLAKE_HOME, or ~/.snowflake, by default."""
    try:
        from snowflake.connector.constants import CONNECTIONS_FILE

        return str(CONNECTIONS_FILE)
    except Exception:  # a connector that keeps it elsewhere
        return "connections.toml in $SNOWFLAKE_HOME or ~/.snowflake"


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
        format=args.format,
        compression=args.compression,
        compression_level=args.compression_level,
        part_size_mb=args.part_size,
        force=args.force,
        mode=args.mode,
        extra_columns=args.extra_columns,
        atomic=args.atomic,
        retries=args.retries,
        retry_delay=args.retry_delay,
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
    lines = [result.results_table(limit=None)]  # a terminal scrolls; every file, as before
    if with_summary:
        lines.append(result.summary())
    return "\n".join(lines) + "\n"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, not {text}")
    return value


def _part_size(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < MIN_PART_SIZE_MB:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_PART_SIZE_MB} (MB), not {text}")
    return value


def _level(text: str) -> int:
    value = int(text)
    gzip, zstd = level_range(), ZSTD_LEVELS
    if value not in gzip and value not in zstd:
        raise argparse.ArgumentTypeError(
            f"must be {gzip.start}..{gzip.stop - 1} for gzip with {BACKEND} or {zstd.start}..{zstd.stop - 1} "
            f"for zstd, not {value}"
        )
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
    demo.add_argument(
        "--files", type=_positive, default=12, metavar="N", help="how many files to generate (default 12)"
    )
    demo.add_argument("--workers", type=_positive, default=4, metavar="N", help="files loaded at once (default 4)")
    demo.add_argument("--progress", choices=PROGRESS_MODES, default="auto", help=_PROGRESS_HELP)

    serve = commands.add_parser(
        "serve",
        help="run the embedded Snowflake (fakesnow) on 127.0.0.1 until Ctrl-C or SIGTERM",
        description="Run the embedded Snowflake server in the foreground. Prints one line on stdout, "
        "a JSON object of snowflake.connector.connect() keyword arguments for it, then nothing else.",
    )
    serve.add_argument("--port", type=_port, default=0, help="port to listen on (default: any free port)")
    serve.add_argument("--local-db", metavar="PATH", help="keep its databases in this folder between runs")
    serve.add_argument(
        "--stage-in-place",
        action="store_true",
        help="let clients on this machine and filesystem (connector < 5) write staged files into the stage "
        "folders themselves, not upload them over HTTP (connect_local() does)",
    )
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
    where = load.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="use the embedded Snowflake (fakesnow)")
    where.add_argument(
        "--connection",
        metavar="NAME",
        help="a connection from the connector's connections.toml (default: its default_connection_name)",
    )
    load.add_argument("--local-db", metavar="PATH", help="with --local: keep its databases in this folder")
    load.add_argument(
        "--create-table", action="store_true", help="create the table if it is missing, typed from every file"
    )
    load.add_argument(
        "--atomic", action="store_true", help="all files load or none do: every COPY in one transaction at the end"
    )
    load.add_argument("--force", action="store_true", help="load files again even if the table has loaded them")
    load.add_argument(
        "--mode",
        choices=("append", "truncate", "overwrite"),
        default="append",
        help="append rows (default); truncate: replace the rows, keep the table; overwrite: replace the table "
        "with one made from the files' columns. Replacing is all or nothing: readers see old rows or new",
    )
    load.add_argument(
        "--extra-columns",
        choices=("fail", "ignore"),
        default="fail",
        help="a file's columns the table lacks: fail that file (default), or leave them out",
    )
    load.add_argument(
        "--format", choices=FORMATS, default="auto", help="how to read the files (default auto: by their extension)"
    )
    load.add_argument(
        "--compression",
        choices=COMPRESSIONS,
        default="auto",
        help="how CSV is compressed before upload (default auto: the codec and level that finish soonest at "
        "the measured link and compression rates; gzip or zstd at the level below; none sends it as it is)",
    )
    levels = level_range()
    load.add_argument(
        "--compression-level",
        type=_level,
        default=None,
        metavar="N",
        help=f"gzip level, {levels.start}..{levels.stop - 1} with {BACKEND} (default {DEFAULT_LEVEL}), or zstd "
        f"level {ZSTD_LEVELS.start}..{ZSTD_LEVELS.stop - 1} (default {ZSTD_DEFAULT_LEVEL}); "
        "with auto, forces gzip at that level",
    )
    load.add_argument(
        "--part-size",
        type=_part_size,
        default=DEFAULT_PART_SIZE_MB,
        metavar="MB",
        help=f"split CSV into parts of about this many MB compressed (default {DEFAULT_PART_SIZE_MB}, "
        f"at least {MIN_PART_SIZE_MB})",
    )
    load.add_argument(
        "--workers",
        type=_positive,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"files loaded at once (default {DEFAULT_WORKERS}, at most {MAX_WORKERS})",
    )
    load.add_argument(
        "--retries",
        type=_count,
        default=DEFAULT_RETRIES,
        metavar="N",
        help=f"tries more of an upload or COPY that failed on the network (default {DEFAULT_RETRIES})",
    )
    load.add_argument(
        "--retry-delay",
        type=_seconds,
        default=DEFAULT_RETRY_DELAY,
        metavar="SECONDS",
        help=f"wait before the first retry, doubled for each next one (default {DEFAULT_RETRY_DELAY})",
    )
    load.add_argument("--progress", choices=PROGRESS_MODES, default="auto", help=_PROGRESS_HELP)
    load.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


if __name__ == "__main__":
    sys.exit(main())
