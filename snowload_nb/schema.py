"""Column names and types for `create_table=True`, read from a file the way pyarrow reads it.

Every file's names are checked before anything is sent, so a file whose header cannot name a
table's columns (an empty name, a trailing comma, a name twice) fails alone, named, instead of
failing the CREATE TABLE for every file. pyarrow's csv and parquet modules are imported when
first needed: most loads never infer a schema, and every megabyte counts against a load's memory.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

import pyarrow as pa

from .errors import Refused, UnsupportedType, describe
from .sources import SourceFile
from .sql import Compression, FileFormat, normalise_identifier

SAMPLE_BYTES = 1 << 20
HEADER_READ = 1 << 16  # read a header this much at a time: one read for any ordinary header
_ARROW_CODECS = {Compression.NONE: None, Compression.GZIP: "gzip", Compression.ZSTD: "zstd"}


def name_problem(names: list[str]) -> str | None:
    """Why these names cannot be a table's columns, or None.

    Names that differ only in case count as the same: COPY matches Parquet columns case-
    insensitively, and the embedded server's columns are case-insensitive, so both fail later.
    """
    if not names:
        return "there are no column names"
    empty = [n for n, name in enumerate(names, 1) if name == ""]
    if empty:
        if len(empty) == 1:
            return f"column {empty[0]} of {len(names)} has no name"
        return f"columns {', '.join(map(str, empty))} of {len(names)} have no name"
    for n, name in enumerate(names, 1):
        if "\x00" in name:
            return f"column {n}'s name {name!r} holds a NUL character"
    spellings: dict[str, list[str]] = defaultdict(list)
    for name in names:
        spellings[normalise_identifier(name).lower()].append(name)
    for same in spellings.values():
        if len(same) > 1:
            if len(set(same)) == 1:
                return f"the name {same[0]!r} is used {len(same)} times"
            return f"the names {', '.join(map(repr, same))} differ only in case, so they name the same column"
    return None


def check_header(source: SourceFile) -> None:
    """Raise Refused if the file's column names cannot create a table, naming the reason."""
    if source.format is FileFormat.CSV:
        try:
            names = csv_header(source)
        except (OSError, ValueError, csv.Error) as exc:  # pyarrow's errors are OSError or ValueError
            raise Refused(f"cannot read its header row: {describe(exc)}") from None
        if any("\0" in name for name in names):
            raise Refused("line 1: a NUL byte, so this is binary data, not CSV text")
        if any("\n" in name or "\r" in name for name in names):
            raise Refused("bad header row: a column name spans lines (a quote in the header never closed?)")
        problem = name_problem(names)
        if problem is None:
            return
        if not names or names == [""]:
            raise Refused("its first line is empty: a CSV needs a header row naming its columns")
        if len(names) > 1 and names[-1] == "" and names.count("") == 1:
            raise Refused(f"its header row ends in a comma: column {len(names)} has no name")
        if len(names) > 1 and names[0] == "" and names.count("") == 1:
            problem += " (an index written by pandas' to_csv? write the file with index=False)"
        raise Refused(f"bad header row: {problem}")
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(source.path).names
    except (OSError, ValueError) as exc:
        raise Refused(f"cannot read its Parquet schema: {describe(exc)}") from None
    problem = name_problem(names)
    if problem is not None:
        raise Refused(f"bad column names: {problem}")


def csv_header(source: SourceFile) -> list[str]:
    """The names in a CSV file's first row, read as COPY reads them (quotes, doubled quotes)."""
    head = b""
    with pa.input_stream(str(source.path), compression=_ARROW_CODECS[source.compression]) as stream:
        while b"\n" not in head and len(head) < SAMPLE_BYTES:
            block = stream.read(HEADER_READ)
            if not block:
                break
            head += block
    text = head.decode("utf-8-sig", errors="replace")
    return next(csv.reader(io.StringIO(text, newline="")), [])


def table_columns(source: SourceFile) -> list[tuple[str, str]]:
    """A new table's columns from this file, or Refused saying why this file cannot give them."""
    check_header(source)
    try:
        columns = infer_columns(source)
    except UnsupportedType as exc:
        raise Refused(str(exc)) from None
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise Refused(f"cannot infer its column types: {describe(exc)}") from None
    if source.format is FileFormat.CSV:
        # pyarrow reads a CSV column holding bytes that are not UTF-8 as binary: such a file fails
        # its own load (COPY reads CSV as UTF-8), and must not give every other file a BINARY column.
        for name, kind in columns:
            if kind == "BINARY":
                raise Refused(
                    f"cannot infer its column types: column {name!r} holds bytes that are not UTF-8; "
                    "COPY reads CSV as UTF-8, so convert the file first"
                )
    return columns


def infer_columns(source: SourceFile) -> list[tuple[str, str]]:
    """(column name, Snowflake type) for the file's columns, from a sample of its first rows."""
    if source.format is FileFormat.CSV:
        schema = _csv_schema(source.path)
    else:
        import pyarrow.parquet as pq

        schema = pq.read_schema(source.path)
    return [(normalise_identifier(field.name), snowflake_type(field, source.name)) for field in schema]


def snowflake_type(field: pa.Field, where: str) -> str:
    t = field.type
    if pa.types.is_null(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        return "VARCHAR"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return "NUMBER(38,0)"
    if pa.types.is_floating(t):
        return "FLOAT"
    if pa.types.is_decimal(t):
        # The scale is the data's; the precision Snowflake's widest, or later, larger values would not fit.
        return f"NUMBER(38,{min(t.scale, 37)})"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_time(t):
        return "TIME"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP_TZ" if t.tz else "TIMESTAMP_NTZ"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "BINARY"
    raise UnsupportedType(
        f"{where}: column {field.name!r} has type {t}, which has no Snowflake column type to load into"
    )


def _csv_schema(path: Path) -> pa.Schema:
    import pyarrow.csv as pacsv

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=SAMPLE_BYTES),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
    )
    try:
        return reader.schema
    finally:
        reader.close()
