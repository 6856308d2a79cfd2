"""Where the embedded server (fakesnow) must answer as Snowflake does for snowload_nb to be exact.

- `REMOVE @stage/path/` deletes staged files on Snowflake; fakesnow has no REMOVE. Without it,
  parts an unfinished attempt left on the stage could never be cleaned up.
- Two transactions writing the same row: Snowflake makes the second wait for the first's lock.
  DuckDB fails it at once, and fakesnow answers that with HTTP 500, which the connector retries
  until its network timeout (minutes). Answered instead as Snowflake's lock error, the client
  learns at once that another load holds the row, and can wait for it itself.
- A client that vanishes in the middle of a transaction (its network dropped) leaves it open for
  good on fakesnow, and with it the rows it locked, so every later load of the same file waits
  forever. Snowflake ends a dead session's transaction; here one whose session has sent nothing
  for `IDLE_TRANSACTION_SECONDS` is rolled back. (snowload_nb's own transactions are never idle
  for more than a moment between statements.)
- `ALTER TABLE a SWAP WITH b` (how `mode="overwrite"` puts its new table in place, atomically)
  is Snowflake's; DuckDB has no SWAP and fakesnow passes it on as it is. Here it is three
  renames in the session's transaction (one of their own if none is open): DuckDB's catalog is
  transactional, so other sessions see both tables as they were until it commits.
- `COPY INTO t (A, B) FROM (SELECT $2, $1 FROM @stage/...)`, how a CSV whose header is not the
  table's columns in order is loaded by name: fakesnow's COPY only rewrites `$1:key` (a JSON
  path), so a bare `$2` crashes its rewrite with AttributeError, an HTTP 500 the connector
  retries for minutes (the "hang"); and DuckDB would read `$2` as a bind parameter. Here `$n`
  is the file's n-th column, as Snowflake reads it: `column{n-1}`, the name fakesnow's
  read_csv(header = false) gives it.
- `COPY ... FILE_FORMAT = (... COMPRESSION = ZSTD)`: fakesnow knows GZIP and NONE only and
  refuses ZSTD (NotImplementedError, an HTTP 500), though DuckDB reads zstd files; here it does.
- A quoted empty CSV field (`""`) is an empty string on Snowflake, and only an unquoted empty
  field is NULL (`EMPTY_FIELD_AS_NULL`); DuckDB's read_csv, as fakesnow calls it, makes both
  NULL, so text the file holds would load as no value. Here a quoted field is never NULL (a
  quoted `"\\N"` too, as the loader's type inference reads it; whether Snowflake's NULL_IF
  matches a quoted value is not something this server can tell).
- `PUT ... SOURCE_COMPRESSION = GZIP OVERWRITE = TRUE`: Snowflake's answer to a PUT carries the
  statement's options back to the connector; fakesnow's always says `auto_detect` and no
  overwrite. The connector then guesses each file's type (re-reading the system's MIME table,
  every file) and reads every file twice for its checksum, once to ask whether it is already
  there: about a tenth of a load's CPU on the client that Snowflake never costs it. Here the
  answer carries the options, as Snowflake's does.
- fakesnow describes each result's columns by running its statement again as `DESCRIBE`, on the
  server's one event-loop thread, where every other request waits meanwhile: in a load, about a
  quarter of the server's busy time. Snowflake answers with the columns of the result itself, and
  so does the server here, from the types DuckDB gave them as the statement ran.
- Any other database error fakesnow does not translate (a CSV DuckDB cannot read, for one) is
  likewise HTTP 500 and minutes of retries for a statement that fails the same way every time;
  Snowflake answers such statements with an error at once, and so does the server here.

Applied once, in the process that runs the server, before it serves.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

LOCK_CONFLICT_ERRNO = 625  # Snowflake's "statement ... has locked table ..." error
LOCK_CONFLICT_SQLSTATE = "40001"
STATEMENT_ERRNO = 100000  # Snowflake's data errors number from here
IDLE_TRANSACTION_SECONDS = float(os.environ.get("SNOWLOAD_IDLE_TRANSACTION_SECONDS", "10"))
_BEGINS = re.compile(r"\s*(BEGIN|START\s+TRANSACTION)\b", re.IGNORECASE)
_ENDS = re.compile(r"\s*(COMMIT|ROLLBACK)\b", re.IGNORECASE)

_SWAP = re.compile(
    r"\s*ALTER\s+TABLE\s+(?P<table>.+?)\s+SWAP\s+WITH\s+(?P<other>.+?)\s*;?\s*\Z", re.IGNORECASE | re.DOTALL
)
_REMOVE = re.compile(r"\s*REMOVE\s+@(?P<stage>[^\s/]+)(?P<path>/\S*)?\s*;?\s*\Z", re.IGNORECASE)
_applied = threading.Lock()
_done = False


def apply() -> None:
    """Patch fakesnow's cursor, once per process."""
    global _done
    with _applied:
        if _done:
            return
        from fakesnow.cursor import FakeSnowflakeCursor

        FakeSnowflakeCursor.execute = _answering_as_snowflake(FakeSnowflakeCursor.execute)  # type: ignore[method-assign]
        _read_positional_columns()
        _read_zstd()
        _quoted_fields_are_text()
        _answer_put_with_its_options()
        _describe_results_as_they_ran()
        threading.Thread(target=_reap_idle_transactions, name="snowload-embedded-reaper", daemon=True).start()
        # sqlglot warns that it parses REMOVE as a bare command: that is what the patch expects.
        logging.getLogger("sqlglot").addFilter(lambda record: not str(record.msg).startswith("'REMOVE @"))
        _done = True


def _answering_as_snowflake(execute: Any) -> Any:
    @functools.wraps(execute)
    def wrapper(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        session = _sessions.setdefault(self._conn, _Session())
        with session.busy:
            try:
                swap = _SWAP.match(command)
                if swap is not None:
                    run = functools.partial(_execute, self, *args, **kwargs)
                    return _swap(run, swap["table"], swap["other"], session.in_transaction)
                return _execute(self, command, *args, **kwargs)
            finally:
                session.seen(command)

    def _execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        import duckdb
        import snowflake.connector.errors

        removal = _REMOVE.match(command)
        if removal is not None:
            return execute(self, _remove(self, removal["stage"], removal["path"] or "/"), *args, **kwargs)
        try:
            return execute(self, command, *args, **kwargs)
        except duckdb.TransactionException as exc:
            if "conflict" not in str(exc).lower():
                raise _statement_error(exc) from exc
            raise snowflake.connector.errors.ProgrammingError(
                msg=f"the statement conflicts with another transaction holding the same rows: {exc}",
                errno=LOCK_CONFLICT_ERRNO,
                sqlstate=LOCK_CONFLICT_SQLSTATE,
            ) from exc
        except duckdb.Error as exc:
            raise _statement_error(exc) from exc

    return wrapper


class _Session:
    """What the reaper needs to know of one session: is a transaction open, and since when quiet."""

    def __init__(self) -> None:
        self.busy = threading.Lock()  # held while a statement runs
        self.in_transaction = False
        self.last = time.monotonic()

    def seen(self, command: str) -> None:
        if _BEGINS.match(command):
            self.in_transaction = True
        elif _ENDS.match(command):
            self.in_transaction = False
        self.last = time.monotonic()


_sessions: weakref.WeakKeyDictionary[Any, _Session] = weakref.WeakKeyDictionary()


def _reap_idle_transactions() -> None:
    while True:
        time.sleep(1)
        now = time.monotonic()
        for conn, session in list(_sessions.items()):
            if not session.in_transaction or now - session.last < IDLE_TRANSACTION_SECONDS:
                continue
            if session.busy.acquire(blocking=False):
                try:
                    with contextlib.suppress(Exception):
                        conn._duck_conn.execute("ROLLBACK")
                    session.in_transaction = False
                finally:
                    session.busy.release()


def _read_positional_columns() -> None:
    """COPY transformations read `$n` as the staged CSV's n-th column."""
    from fakesnow import copy_into
    from sqlglot import exp

    strip_json_extract = copy_into._strip_json_extract

    def positional(select: Any) -> Any:
        for parameter in list(select.find_all(exp.Parameter)):
            number = parameter.this
            if not (isinstance(number, exp.Literal) and not number.is_string and number.name.isdigit()):
                continue
            if isinstance(parameter.parent, (exp.Select, exp.Alias, exp.Cast)):  # not `$1:key`
                parameter.replace(exp.column(f"column{int(number.name) - 1}"))
        return strip_json_extract(select)

    copy_into._strip_json_extract = positional


def _read_zstd() -> None:
    """COPY's `COMPRESSION = ZSTD` reads zstd files, as DuckDB can."""
    from fakesnow import copy_into

    handle_csv = copy_into.handle_csv

    def with_zstd(options: dict[str, Any]) -> Any:
        zstd = str(options.get("COMPRESSION", "")).upper() == "ZSTD"
        read = handle_csv({k: v for k, v in options.items() if not (zstd and k == "COMPRESSION")})
        if zstd:
            read.compression = "zstd"
        return read

    copy_into.handle_csv = with_zstd


def _quoted_fields_are_text() -> None:
    """A quoted field is its text, `""` an empty string: only an unquoted empty field is NULL."""
    from fakesnow.copy_into import ReadCSV

    read_expression = ReadCSV.read_expression

    def quoted_not_null(self: ReadCSV, url: str) -> Any:
        expression = read_expression(self, url)
        if self.quote:
            expression.append("expressions", ReadCSV.make_eq("allow_quoted_nulls", False))
        return expression

    ReadCSV.read_expression = quoted_not_null  # type: ignore[method-assign]


def _answer_put_with_its_options() -> None:
    """A PUT's answer says how its files are compressed and whether they replace what is there."""
    from fakesnow import transforms
    from fakesnow.transforms.options import parse_options

    put_stage = transforms.put_stage

    def with_options(expression: Any, *args: Any, **kwargs: Any) -> Any:
        options = parse_options(expression.args.get("properties") or [])
        transformed = put_stage(expression, *args, **kwargs)
        answer = transformed.args.get("put_stage_data")
        if answer is not None:
            answer["sourceCompression"] = str(options.get("SOURCE_COMPRESSION", "auto_detect")).lower()
            answer["overwrite"] = options.get("OVERWRITE", False) is True
        return transformed

    transforms.put_stage = with_options


def _describe_results_as_they_ran() -> None:
    """A result's columns are described by the types DuckDB gave them as the statement ran.

    DuckDB's description of the run names the very types its `DESCRIBE` would (both are its
    binder's answer). A result restored from an earlier statement (RESULT_SCAN), or one whose
    columns do not match that description, is described fakesnow's way.
    """
    from fakesnow.cursor import FakeSnowflakeCursor

    run = FakeSnowflakeCursor._execute
    describe = FakeSnowflakeCursor._describe_last_sql

    def running(self: Any, transformed: Any, *args: Any, **kwargs: Any) -> Any:
        self._snowload_described = None
        outcome = run(self, transformed, *args, **kwargs)
        table, columns = self._arrow_table, self._duck_conn.description
        if (
            table is not None
            and columns is not None
            and not transformed.args.get("result_scan_sfqid")
            and [column[0] for column in columns] == table.column_names
        ):
            rows = [(name, str(kind), "YES", None, None, None) for name, kind, *_ in columns]
            self._snowload_described = (table, rows)
        return outcome

    def described(self: Any) -> list[Any]:
        known = getattr(self, "_snowload_described", None)
        if known is not None and known[0] is self._arrow_table:
            return list(known[1])
        return describe(self)  # type: ignore[no-any-return]

    FakeSnowflakeCursor._execute = running  # type: ignore[method-assign]
    FakeSnowflakeCursor._describe_last_sql = described  # type: ignore[method-assign]


def _statement_error(exc: Exception) -> Exception:
    import snowflake.connector.errors

    return snowflake.connector.errors.ProgrammingError(msg=str(exc), errno=STATEMENT_ERRNO, sqlstate="22000")


def _remove(cursor: Any, stage_name: str, path: str) -> str:
    """Delete the staged files under `path` (a prefix, as Snowflake reads it); the SQL of the answer."""
    from fakesnow.transforms import stage
    from sqlglot import exp

    conn = cursor._conn  # the session: its current database and schema
    database, schema, name = stage.parts_from_var(stage_name, conn.database, conn.schema)
    root = Path(stage.internal_dir(f"{database}.{schema}.{name}"))
    prefix = str(root) + "/" + path.lstrip("/")
    removed = []
    if root.is_dir():
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            if str(file).startswith(prefix):
                os.remove(file)
                removed.append(f"{name.lower()}/{file.relative_to(root).as_posix()}")
    if not removed:
        return 'SELECT NULL AS "name", NULL AS "result" WHERE 1 = 0'
    rows = ", ".join(f"({exp.Literal.string(n).sql()})" for n in removed)
    return f'SELECT column1 AS "name", \'removed\' AS "result" FROM VALUES {rows}'


def _swap(run: Callable[[str], Any], table: str, other: str, in_transaction: bool) -> Any:
    """`ALTER TABLE table SWAP WITH other` as renames through a spare name, in one transaction.

    `run` executes one statement as the session's own; its answer to the last is the answer.
    """
    import secrets

    from .sql import QualifiedName, quote_identifier

    one, two = QualifiedName.parse(table), QualifiedName.parse(other)
    spare = one.sibling(f"SNOWLOAD_SWAP_{secrets.token_hex(6).upper()}")
    renames = [
        f"ALTER TABLE {one.sql} RENAME TO {quote_identifier(spare.name)}",
        f"ALTER TABLE {two.sql} RENAME TO {quote_identifier(one.name)}",
        f"ALTER TABLE {spare.sql} RENAME TO {quote_identifier(two.name)}",
    ]
    if in_transaction:  # the caller's COMMIT or ROLLBACK decides
        for statement in renames[:-1]:
            run(statement)
        return run(renames[-1])
    run("BEGIN")
    try:
        for statement in renames:
            run(statement)
    except BaseException:
        with contextlib.suppress(Exception):
            run("ROLLBACK")
        raise
    return run("COMMIT")
