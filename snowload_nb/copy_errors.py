"""A COPY's rejection of a file, said in snowload's words first, with the server's own text after.

The two backends word the same mistakes differently (`describe` joins their lines with " · "):

- a row or a header with the wrong number of fields. Snowflake: "Number of columns in file (3)
  does not match that of the corresponding table (2), use file format option
  error_on_column_count_mismatch=false to ignore this error · File 'k/a/part.0001.csv.gz', line 3,
  character 1 · Row 2 starts at line 2, column "T"[3]"; the embedded server (DuckDB): 'Binder
  Error: table "T" has 2 columns but 3 values were supplied', with no line at all.
- a value that is not of its column's type. Snowflake: "Numeric value 'abc' is not recognized ·
  File '…', line 4, character 1 · Row 3, column "T"["A":1]"; the embedded server: 'Conversion
  Error: CSV Error on Line: 4 · Original Line: abc,w · Error when converting column "column0".
  Could not convert string "abc" to 'BIGINT''.

(Snowflake's texts as users have quoted them: github.com/Snowflake-Labs/schemachange/issues/111 for
the column count, github.com/Snowflake-Labs/sfquickstarts/issues/156 for a value it cannot read.)

Both count lines in the staged part, not in the user's file (every part repeats the header), so
the line is found again in the file itself, which is read only after such a failure. `explain` is
the one place this happens; a message it does not recognise is returned as it came, less
Snowflake's advice about ON_ERROR (an option snowload does not offer).
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator
from typing import IO, Any

from .compress import decompressing
from .diagnose import wrong_field_count
from .formatting import plural
from .sources import SourceFile
from .sql import Compression, FileFormat

# Snowflake's advice about ON_ERROR, which snowload does not offer: noise to a user of it.
_ADVICE = re.compile(r"\s*·?\s*If you would like to continue loading when an error is encountered.*$")
_COUNT = (
    re.compile(r"has (?P<table>\d+) columns but (?P<file>\d+) values were supplied"),  # embedded
    re.compile(
        r"Number of columns in file \((?P<file>\d+)\) does not match that of the corresponding table \((?P<table>\d+)\)"
    ),
)
_EMBEDDED_TYPE = re.compile(
    r"Error when converting column \"column(?P<index>\d+)\"\. "
    r"Could not convert string \"(?P<value>.*?)\" to '(?P<type>[\w ]+)'"
)
_SNOWFLAKE_TYPE = re.compile(r"^(?P<what>[\w ]+?) '(?P<value>.*?)' is not recognized")
_SNOWFLAKE_COLUMN = re.compile(r'column "[^"]*"\["(?P<name>(?:[^"]|"")*)":(?P<position>\d+)\]')
# The embedded server's types, as a user of Snowflake reads them.
_KINDS = {
    "TINYINT": "a number", "SMALLINT": "a number", "INTEGER": "a number", "BIGINT": "a number",
    "HUGEINT": "a number", "DECIMAL": "a number", "DOUBLE": "a number", "FLOAT": "a number",
    "BOOLEAN": "a boolean", "DATE": "a date", "TIME": "a time", "TIMESTAMP": "a timestamp",
    "TIMESTAMP_NS": "a timestamp", "TIMESTAMP WITH TIME ZONE": "a timestamp",
}  # fmt: skip
_SNOWFLAKE_KINDS = {"Numeric value": "a number", "Boolean value": "a boolean", "Date": "a date",
                    "Time": "a time", "Timestamp": "a timestamp"}  # fmt: skip
_MAX_SCAN_LINES = 10_000_000  # past this, a line is not worth the wait: the server's text still says why


def explain(error: str, source: Any) -> str:
    """`error` (the server's, as `describe` gave it) with what it means for this file put first:
    its name, the line and the columns; unchanged when it is not a mismatch we know, or the
    source is not a CSV file we can read again (a DataFrame chunk, Parquet)."""
    server = _ADVICE.sub("", error).strip()
    if not (isinstance(source, SourceFile) and source.format is FileFormat.CSV):
        return server
    try:
        ours = _count_mismatch(server, source) or _type_mismatch(server, source)
    except (OSError, csv.Error, UnicodeError):  # the file is gone or unreadable now: the server's words
        ours = None
    return f"{ours} · the server said: {server}" if ours else server


def _count_mismatch(server: str, source: SourceFile) -> str | None:
    found = next((m for pattern in _COUNT if (m := pattern.search(server))), None)
    if found is None:
        return None
    header = _header(source)
    row = _ragged_row(source)
    if row is not None:
        return f"{source.name}, {row} ({_names(header)})"
    table = int(found["table"])
    if len(header) != table:
        columns = plural(len(header), "column")
        return f"{source.name}: its header has {columns} ({_names(header)}) where the table has {table}"
    return f"{source.name}: its rows do not have the table's {table} columns"


def _type_mismatch(server: str, source: SourceFile) -> str | None:
    header = _header(source)
    embedded = _EMBEDDED_TYPE.search(server)
    if embedded is not None:
        index, value = int(embedded["index"]), embedded["value"]
        kind = _KINDS.get(embedded["type"].upper(), f"a {embedded['type']}")
    else:
        snowflake, column = _SNOWFLAKE_TYPE.search(server), _SNOWFLAKE_COLUMN.search(server)
        if snowflake is None or column is None:
            return None
        index, value = int(column["position"]) - 1, snowflake["value"]
        kind = _SNOWFLAKE_KINDS.get(snowflake["what"], "of the column's type")
    column = f'column "{header[index]}"' if 0 <= index < len(header) else f"column {index + 1}"
    line = _line_with(source, index, value)
    where = f"line {line}, " if line is not None else ""
    return f"{source.name}, {where}{column}: '{value}' is not {kind}"


def _names(header: list[str]) -> str:
    return ", ".join(header)


def _rows(source: SourceFile) -> Iterator[tuple[int, list[str]]]:
    """(line the row starts on, fields) for every row of the file, the header first."""
    with _open_text(source) as stream:
        reader = csv.reader(stream, strict=True)
        start = 1
        for row in reader:
            yield start, row
            start = reader.line_num + 1
            if start > _MAX_SCAN_LINES:
                return


def _header(source: SourceFile) -> list[str]:
    with contextlib.closing(_rows(source)) as rows:
        return next((row for _, row in rows), [])


def _ragged_row(source: SourceFile) -> str | None:
    """ "line L: F fields where the header has H", for the first such row; None if every row fits."""
    if source.compression is Compression.NONE:
        return wrong_field_count(source.path)
    with contextlib.closing(_rows(source)) as rows:
        _, header = next(rows, (0, []))
        ragged = ((n, r) for n, r in rows if r and len(r) != len(header))
        found = next(ragged, None)
    return None if found is None else f"line {found[0]}: {len(found[1])} fields where the header has {len(header)}"


def _line_with(source: SourceFile, index: int, value: str) -> int | None:
    """The first line whose field `index` is `value`: where the server's part-relative line is."""
    with contextlib.closing(_rows(source)) as rows:
        next(rows, None)
        return next((n for n, row in rows if index < len(row) and row[index] == value), None)


@contextlib.contextmanager
def _open_text(source: SourceFile) -> Iterator[IO[str]]:
    """The file's text as written: every gzip member or zstd frame of a compressed one."""
    with open(source.path, "rb") as raw, decompressing(raw, source.compression) as stream:
        yield io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
