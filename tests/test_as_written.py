"""Text with backslashes, empty strings and binary values load exactly as written, on Snowflake too.

Snowflake's COPY defaults change such values: in an unquoted CSV field a backslash escapes the
next character (ESCAPE_UNENCLOSED_FIELD = '\\', so `C:\\new` loads a line break and a field
ending in a backslash joins its row to the next), and Parquet bytes with no logical type are
read as UTF-8 text (BINARY_AS_TEXT = TRUE), which a BINARY column takes as hex. The embedded
server (DuckDB) reads both as written whatever COPY says, so those checks are two: the values in
the table, and that every COPY the loader sent tells Snowflake to read them so (without the
options, only the second fails). A
quoted empty field is an empty string on Snowflake; the embedded server made it NULL until
`embedded_fixes` said otherwise (without that, the rows check fails).
"""

from __future__ import annotations

import itertools
import os
import threading

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from conftest import Interceptor
from sqlglot import exp

import snowload_nb as sl

_names = itertools.count(1)


@pytest.fixture
def new_table() -> str:
    return f"AS_WRITTEN{next(_names)}_{os.getpid()}"


class CopyFormats:
    """Every COPY the loader's sessions send, read back as its FILE_FORMAT options."""

    def __init__(self) -> None:
        self.formats: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.connect = Interceptor(self.seen)

    def seen(self, statement: str) -> None:
        tree = sqlglot.parse_one(statement, read="snowflake")
        if not isinstance(tree, exp.Copy):
            return
        for param in tree.args.get("params") or []:
            if param.name.upper() == "FILE_FORMAT":
                with self.lock:
                    self.formats.append({o.name.upper(): o.args["value"].sql().upper() for o in param.expressions})


def rows_of(conn, table: str, columns: str) -> list[tuple]:
    return conn.cursor().execute(f'SELECT {columns} FROM "{table}" ORDER BY "ID"').fetchall()


def test_backslashes_in_csv_text_load_as_written(conn, new_table, tmp_path):
    (tmp_path / "paths.csv").write_text(
        "ID,PATH,NOTE\n"
        "1,C:\\new\\table,a\\tb\n"
        '2,"C:\\quoted\\n",\\\\\n'
        "3,ends in a backslash,x\\\n"  # on Snowflake's default, this would join line 4 to it
        "4,\\N,\n"  # an unquoted \N or empty field is NULL, as COPY reads it with or without escapes
        '5,"",""\n'  # a quoted empty field is an empty string
    )
    copies = CopyFormats()

    result = sl.Loader(conn, new_table, progress="none", create_table=True, connect=copies.connect).load(
        [str(tmp_path / "paths.csv")]
    )

    assert result.ok, result.summary()
    assert rows_of(conn, new_table, '"ID", "PATH", "NOTE"') == [
        (1, "C:\\new\\table", "a\\tb"),
        (2, "C:\\quoted\\n", "\\\\"),
        (3, "ends in a backslash", "x\\"),
        (4, None, None),
        (5, "", ""),
    ]
    assert copies.formats and all(f["TYPE"] == "CSV" for f in copies.formats)
    assert all(f.get("ESCAPE_UNENCLOSED_FIELD") == "NONE" for f in copies.formats), copies.formats


def test_binary_parquet_columns_load_as_their_bytes(conn, new_table, tmp_path):
    values = [b"cafe", b"\x00\xff\xfe", b"", None]  # hex-looking text, bytes that are not UTF-8, empty
    pq.write_table(
        pa.table({"ID": pa.array([1, 2, 3, 4], pa.int64()), "BLOB": pa.array(values, pa.binary())}),
        tmp_path / "blobs.parquet",
    )
    copies = CopyFormats()

    result = sl.Loader(conn, new_table, progress="none", create_table=True, connect=copies.connect).load(
        [str(tmp_path / "blobs.parquet")]
    )

    assert result.ok, result.summary()
    assert [row[0] for row in rows_of(conn, new_table, '"BLOB"')] == values
    assert copies.formats and all(f.get("BINARY_AS_TEXT") == "FALSE" for f in copies.formats), copies.formats


def test_bytes_in_a_dataframe_load_as_their_bytes(conn, new_table):
    frame = pd.DataFrame({"ID": [1, 2, 3], "BLOB": [b"cafe", b"\x00\xff", None]})
    copies = CopyFormats()

    result = sl.Loader(conn, new_table, progress="none", create_table=True, connect=copies.connect).load_dataframe(
        frame
    )

    assert result.ok, result.summary()
    assert [row[0] for row in rows_of(conn, new_table, '"BLOB"')] == [b"cafe", b"\x00\xff", None]
    assert copies.formats and all(f.get("BINARY_AS_TEXT") == "FALSE" for f in copies.formats), copies.formats


def test_an_existing_table_reads_bytes_as_its_columns_take_them(conn, new_table, tmp_path):
    """BINARY columns take a file's bytes as bytes. A table with none keeps Snowflake's default,
    under which text that some Parquet writers store as bytes still loads into VARCHAR as text."""
    texts, blobs = f"{new_table}_TEXT", f"{new_table}_BLOB"
    conn.cursor().execute(f'CREATE TABLE "{texts}" ("ID" NUMBER, "S" VARCHAR)')
    conn.cursor().execute(f'CREATE TABLE "{blobs}" ("ID" NUMBER, "B" BINARY)')
    ids = pa.array([1, 2], pa.int64())
    pq.write_table(pa.table({"ID": ids, "S": pa.array([b"hello", b"cafe"], pa.binary())}), tmp_path / "s.parquet")
    pq.write_table(pa.table({"ID": ids, "B": pa.array([b"cafe", b"\x00\xff"], pa.binary())}), tmp_path / "b.parquet")
    into_texts, into_blobs = CopyFormats(), CopyFormats()

    loaded = [
        sl.Loader(conn, texts, progress="none", connect=into_texts.connect).load([str(tmp_path / "s.parquet")]),
        sl.Loader(conn, blobs, progress="none", connect=into_blobs.connect).load([str(tmp_path / "b.parquet")]),
    ]

    assert all(result.ok for result in loaded), [result.summary() for result in loaded]
    assert rows_of(conn, texts, '"ID", "S"') == [(1, "hello"), (2, "cafe")]
    assert rows_of(conn, blobs, '"ID", "B"') == [(1, b"cafe"), (2, b"\x00\xff")]
    assert into_texts.formats and all("BINARY_AS_TEXT" not in f for f in into_texts.formats), into_texts.formats
    assert into_blobs.formats and all(f.get("BINARY_AS_TEXT") == "FALSE" for f in into_blobs.formats)
