"""Every refusal of a frame, an option or an input comes before any side effect.

Each refused case runs with create_table=True in a schema of its own, then checks that the schema
holds no table and no stage (so nothing was staged) and that no temporary folder is left.
"""

from __future__ import annotations

import decimal
import itertools
import math
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from snowflake.connector.errors import ProgrammingError

import snowload_nb as sl
from snowload_nb.demo import write_csv
from snowload_nb.frames import FrameError

_numbers = itertools.count(1)
ACCEPTED = "takes a path, a str, or an iterable of them (files, globs and folders)"


@pytest.fixture
def schema(conn) -> str:
    """A schema of this test's own, empty: whatever a load creates shows up in it.

    CREATE SCHEMA makes the new schema the session's current one, as on Snowflake: the shared
    connection goes back to its own, or later tests' unqualified tables would land here.
    """
    name = f"V{next(_numbers)}_{os.getpid()}"
    cursor = conn.cursor()
    (current,) = cursor.execute("SELECT CURRENT_SCHEMA()").fetchone()
    cursor.execute(f'CREATE SCHEMA "{name}"')
    cursor.execute(f'USE SCHEMA "{current}"')
    return name


def assert_untouched(conn, schema: str, private_tmp) -> None:
    """No table in the schema, no stage (so nothing staged), no temporary folder left behind."""
    tables = (
        conn.cursor()
        .execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))
        .fetchall()
    )
    assert tables == []
    with pytest.raises(ProgrammingError, match="does not exist"):
        conn.cursor().execute(f'LIST @"{schema}"."SNOWLOAD_STAGE"')
    assert list(private_tmp.iterdir()) == []


def rows_of(conn, table: str) -> list[tuple]:
    return conn.cursor().execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "part_size_mb",
            math.inf,
            "part_size_mb must be a positive number of megabytes, at least 5 and finite, not inf",
        ),
        ("part_size_mb", math.nan, "not nan"),
        ("part_size_mb", 1e-7, "at least 5 and finite, not 1e-07"),
        ("part_size_mb", 4.99, "at least 5 and finite, not 4.99"),
        ("part_size_mb", True, "not True"),
        ("part_size_mb", "100", "not '100'"),
        ("retry_delay", math.nan, "retry_delay must be a finite number of seconds >= 0, not nan"),
        ("retry_delay", math.inf, "retry_delay must be a finite number of seconds >= 0, not inf"),
        ("retry_delay", -1, "not -1"),
        ("retry_delay", True, "not True"),
    ],
)
def test_bad_options_are_refused_before_anything(conn, schema, tmp_path, private_tmp, option, value, message):
    with pytest.raises(ValueError) as refused:
        sl.Loader(conn, f'"{schema}".T', progress="none", create_table=True, **{option: value}).load(
            [str(write_csv(tmp_path / "a.csv", 0, 1, 10).path)]
        )
    assert message in str(refused.value)
    assert_untouched(conn, schema, private_tmp)


def test_the_smallest_part_size_and_no_retry_delay_load(conn, schema, tmp_path):
    data = write_csv(tmp_path / "a.csv", 0, 1, 20)
    loader = sl.Loader(conn, f'"{schema}".T', progress="none", create_table=True, part_size_mb=5, retry_delay=0)
    result = loader.load([str(data.path)])
    assert result.ok and result.rows_loaded == 20
    assert [row[0] for row in rows_of(conn, f'"{schema}".T')] == list(range(1, 21))


@pytest.mark.parametrize(
    ("paths", "got"),
    [
        (None, "got NoneType None"),
        (123, "got int 123"),
        (b"data/a.csv", "got bytes b'data/a.csv'"),
        (["ok.csv", 7], "got int 7 among the paths"),
        (["ok.csv", b"b.csv"], "got bytes b'b.csv' among the paths"),
        (pd.DataFrame({"a": [1]}), "got DataFrame"),
    ],
)
@pytest.mark.parametrize("method", ["load", "start"])
def test_load_names_the_types_it_takes(conn, schema, private_tmp, paths, got, method):
    loader = sl.Loader(conn, f'"{schema}".T', progress="none", create_table=True)
    with pytest.raises(TypeError) as refused:
        getattr(loader, method)(paths)
    assert str(refused.value).startswith(f"{method}() {ACCEPTED}; {got}")
    if isinstance(paths, pd.DataFrame):
        assert str(refused.value).endswith("use load_dataframe() for frames")
    assert_untouched(conn, schema, private_tmp)


def test_integer_column_labels_become_their_strings_as_to_sql_names_them(conn, schema):
    df = pd.DataFrame([[1, 2], [3, 4]])
    table = f'"{schema}".T'

    result = sl.Loader(conn, table, progress="none", create_table=True).load_dataframe(df)

    assert result.ok and result.rows_loaded == 2
    assert [row[0] for row in conn.cursor().execute(f"DESCRIBE TABLE {table}")] == ["0", "1"]
    assert rows_of(conn, table) == [(1, 2), (3, 4)]
    assert list(df.columns) == [0, 1]  # the caller's frame keeps its labels


def test_mixed_labels_load_into_an_existing_table_by_their_strings(conn, schema):
    table = f'"{schema}".T'
    conn.cursor().execute(f'CREATE TABLE {table} ("2024" NUMBER(38,0), "name" VARCHAR, "1.5" FLOAT)')
    df = pd.DataFrame({2024: [7, 8], "name": ["x", "y"], 1.5: [0.25, 0.5]})

    result = sl.Loader(conn, table, progress="none").load_dataframe(df, chunk_rows=1)

    assert result.ok and result.rows_loaded == 2
    assert rows_of(conn, table) == [(7, "x", 0.25), (8, "y", 0.5)]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])),
            "the DataFrame's column labels are tuples (('a', 'x'), ('a', 'y')), from MultiIndex columns: "
            "name each column with a string first",
        ),
        (
            pd.DataFrame([[1, 2]], columns=pd.Index([("a", "x"), "b"], tupleize_cols=False)),
            "the DataFrame's column labels are tuples (('a', 'x')), from MultiIndex columns",
        ),
        (pd.DataFrame({"": [1], "b": [2]}), "the DataFrame's column names cannot be loaded: column 1 of 2 has no name"),
        (pd.DataFrame({"": [1]}), "column 1 of 1 has no name"),
        (pd.DataFrame({"a\0b": [1]}), "column 1's name 'a\\x00b' holds a NUL character"),
        (
            pd.DataFrame({"amount": [1], "Amount": [2]}),
            "the names 'amount', 'Amount' differ only in case, so they name the same column",
        ),
        (pd.DataFrame({0: [1], "0": [2]}), "the DataFrame has duplicate column names: '0'"),
        (
            pd.DataFrame({"id": [1, 2], "big": np.array([2**64 - 1, 1], dtype="uint64")}),
            "the DataFrame's column 'big' holds 18446744073709551615, above 9223372036854775807",
        ),
        (
            pd.DataFrame({"big": pd.array([None, 2**63], dtype="UInt64")}),
            "column 'big' holds 9223372036854775808, above 9223372036854775807",
        ),
        (
            pa.table({"big": pa.array([None, 2**64 - 1], pa.uint64())}),
            "column 'big' holds 18446744073709551615",
        ),
        (
            pd.DataFrame({"kind": pd.Series(np.array([2**64 - 2, 1], dtype="uint64"), dtype="category")}),
            "column 'kind' holds 18446744073709551614, above 9223372036854775807",
        ),
        (pd.DataFrame({"huge": pd.Series([1, 2**64], dtype=object)}), "column 'huge': Python int too large"),
        (pd.DataFrame({"mixed": pd.Series(["a", 1], dtype=object)}), "column 'mixed': Expected bytes, got a 'int'"),
        (pa.table({"": [1]}), "column 1 of 1 has no name"),
        (pd.DataFrame({"z": np.array([1 + 2j, 3j])}), "the DataFrame cannot be converted to Arrow: column 'z'"),
        (
            pd.DataFrame({"d": [decimal.Decimal("-" + "9" * 45), decimal.Decimal(1), None]}),
            f"column 'd' holds {'9' * 45}, more than the 38 digits before the point that NUMBER(38,0) holds",
        ),
        (
            pa.table({"d": pa.array([decimal.Decimal("1" * 39 + ".1"), None], pa.decimal256(41, 1))}),
            f"column 'd' holds {'1' * 39}.1, more than the 37 digits before the point that NUMBER(38,1) holds",
        ),
    ],
)
def test_frames_that_would_fail_are_refused_before_the_table_exists(conn, schema, private_tmp, frame, message):
    with pytest.raises(FrameError) as refused:
        sl.Loader(conn, f'"{schema}".T', progress="none", create_table=True).load_dataframe(frame)
    assert message in str(refused.value)
    assert_untouched(conn, schema, private_tmp)


def test_unsigned_values_within_range_load_exactly(conn, schema):
    table = f'"{schema}".T'
    df = pd.DataFrame({"u": np.array([2**63 - 1, 0], dtype="uint64"), "n": pd.array([None, 5], dtype="UInt64")})

    result = sl.Loader(conn, table, progress="none", create_table=True).load_dataframe(df)

    assert result.ok
    assert rows_of(conn, table) == [(0, 5), (2**63 - 1, None)]


def test_wide_decimals_whose_values_fit_load_exactly(conn, schema):
    table = f'"{schema}".T'
    wide = pa.table({"k": [1, 2], "d": pa.array([decimal.Decimal("-12345.5"), None], pa.decimal256(40, 1))})

    result = sl.Loader(conn, table, progress="none", create_table=True).load_dataframe(wide)

    assert result.ok
    assert rows_of(conn, table) == [(1, decimal.Decimal("-12345.5")), (2, None)]
