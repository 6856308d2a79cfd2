"""Column names and types for `create_table=True`, one file at a time.

Every file's names are checked before anything is sent, so a file whose header cannot name a
table's columns (an empty name, a trailing comma, a name twice) fails alone, named, instead of
failing the CREATE TABLE for every file. A file's types come from its Parquet schema, or from
the text of a CSV's first SAMPLE_BYTES, classified by `inference` (not by pyarrow's own
inference, which reads `007` as 7); the loader merges every file's. pyarrow's csv and parquet
modules are imported when first needed: most loads never infer a schema, and every megabyte
counts against a load's memory.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections import defaultdict
from collections.abc import Callable

import pyarrow as pa

from .diagnose import wrong_field_count
from .errors import Refused, UnsupportedType, describe
from .inference import NULL, Columns, classify, from_arrow
from .sources import SourceFile
from .sql import Compression, FileFormat, normalise_identifier

SAMPLE_BYTES = 4 << 20  # of each CSV, read to infer its types (README: "Creating the table")
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


def check_header(source: SourceFile) -> list[str]:
    """The file's column names (a CSV's header, a Parquet schema's), or Refused naming why they
    cannot name a table's columns. Read once: the caller matches them to the table's."""
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
            return names
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
    return list(names)


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


def table_columns(source: SourceFile) -> Columns:
    """This file's columns and the types its sample needs, or Refused saying why it cannot give them.

    A CSV's types come from its first SAMPLE_BYTES (a bounded read, whatever the file's size), a
    Parquet file's from its schema. The caller merges every file's (inference.merge).
    """
    check_header(source)
    try:
        if source.format is FileFormat.CSV:
            return _csv_columns(source)
        import pyarrow.parquet as pq

        schema = pq.read_schema(source.path)
        return [(normalise_identifier(field.name), from_arrow(field, source.name)) for field in schema]
    except Refused:
        raise
    except UnsupportedType as exc:
        raise Refused(str(exc)) from None
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise Refused(f"cannot infer its column types: {describe(exc)}") from None


def _csv_columns(source: SourceFile) -> Columns:
    """Each column's type from the text of the file's first rows, read as COPY reads them: an
    empty field or \\N is NULL, a quoted empty field is an empty string, everything else text."""
    names = csv_header(source)
    try:
        batch = _csv_sample(source, len(names))
    except pa.ArrowInvalid as exc:
        # pyarrow names neither the line nor the header's count: say it as COPY's check does
        ragged = _ragged_row(source) if "Expected" in str(exc) else None
        if ragged is None:
            raise
        raise Refused(ragged) from None
    if batch is None:  # a header and no rows: nothing says what the columns hold
        return [(normalise_identifier(name), NULL) for name in names]
    columns = []
    for name, values in zip(names, batch.columns, strict=True):
        try:
            text = values.cast(pa.string())
        except pa.ArrowInvalid:
            # Such a file fails its own load (COPY reads CSV as UTF-8); it must not make every
            # other file's column BINARY.
            raise Refused(
                f"cannot infer its column types: column {normalise_identifier(name)!r} holds bytes that are not "
                "UTF-8; COPY reads CSV as UTF-8, so convert the file first"
            ) from None
        columns.append((normalise_identifier(name), classify(text)))
    del batch
    pa.default_memory_pool().release_unused()  # Arrow keeps what a sample freed, per thread, unless asked
    return columns


def _csv_sample(source: SourceFile, width: int) -> pa.RecordBatch | None:
    """The rows in the file's first SAMPLE_BYTES, each field as bytes (or null), or None if none."""
    import pyarrow.csv as pacsv

    labels = [f"c{k}" for k in range(width)]  # the header's own names may be any text
    with pa.input_stream(str(source.path), compression=_ARROW_CODECS[source.compression]) as stream:
        reader = pacsv.open_csv(
            stream,
            # one block, parsed on this thread: the loader already reads a few files' samples at once
            read_options=pacsv.ReadOptions(
                block_size=SAMPLE_BYTES, skip_rows=1, column_names=labels, use_threads=False
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(labels, pa.binary()),
                null_values=["", "\\N"],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        try:
            return reader.read_next_batch()
        except StopIteration:
            return None
        finally:
            reader.close()


def _ragged_row(source: SourceFile) -> str | None:
    """'line L: F fields where the header has H' for the sample's first row of the wrong width."""
    with pa.input_stream(str(source.path), compression=_ARROW_CODECS[source.compression]) as stream:
        text = stream.read(SAMPLE_BYTES).decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        width = len(next(reader, []))
        line = reader.line_num
        for row in reader:
            if row and len(row) != width:
                return f"line {line + 1}: {len(row)} fields where the header has {width}"
            line = reader.line_num
    except csv.Error:
        return None
    return None


def check_row_widths(source: SourceFile, between_blocks: Callable[[], None] = lambda: None) -> None:
    """Raise Refused naming the first row whose field count differs from the header's.

    For a CSV copied by name: Snowflake's COPY with a transformation ignores
    ERROR_ON_COLUMN_COUNT_MISMATCH, so a short row would load its missing fields as NULL, and the
    embedded server fails it with a message about its own column names. Arrow parses the whole
    file at C speed; only a file that fails is read again, by the csv module, for the line.
    """
    import pyarrow.csv as pacsv

    width = len(csv_header(source))
    labels = [f"c{k}" for k in range(width)]
    with pa.input_stream(str(source.path), compression=_ARROW_CODECS[source.compression]) as stream:
        try:  # open_csv parses the first block itself
            with contextlib.closing(
                pacsv.open_csv(
                    stream,
                    read_options=pacsv.ReadOptions(skip_rows=1, column_names=labels, block_size=HEADER_READ * 64),
                    parse_options=pacsv.ParseOptions(newlines_in_values=True),
                    convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(labels, pa.binary())),
                )
            ) as reader:
                for _ in reader:
                    between_blocks()  # a cancel stops the check, as it stops compression
        except pa.ArrowInvalid as exc:
            where = wrong_field_count(source.path) if source.compression is Compression.NONE else None
            raise Refused(where or describe(exc)) from None
