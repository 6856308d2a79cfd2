"""A table dropped and made again, truncated or emptied holds none of the rows its record of loads
lists: its files load again, once, as Snowflake's own load history is forgotten with the table.
A table that still has rows keeps its record's word."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import Interceptor, expected_facts, table_facts

import snowload_nb as sl
from snowload_nb import sql
from snowload_nb.demo import DEMO_COLUMNS, write_csv


def emptied(conn, table: str, how: str) -> None:
    name = sql.QualifiedName.parse(table)
    cursor = conn.cursor()
    if how in ("dropped and made again", "dropped, made by create_table"):
        cursor.execute(f"DROP TABLE {name.sql}")
    if how == "dropped and made again":
        cursor.execute(sql.create_table(name, DEMO_COLUMNS))
    elif how == "truncated":
        cursor.execute(f"TRUNCATE TABLE {name.sql}")
    elif how == "all rows deleted":
        cursor.execute(f"DELETE FROM {name.sql}")


def make_files(folder, rows: int):
    return [write_csv(folder / f"f{i}.csv", i, 1 + 100_000 * i, rows + 500 * i) for i in range(2)]


@pytest.fixture
def two_files(tmp_path):
    return make_files(tmp_path, 2_000)  # under a megabyte each: packed in one batch


@pytest.mark.parametrize(
    "how", ["dropped and made again", "dropped, made by create_table", "truncated", "all rows deleted"]
)
@pytest.mark.parametrize(
    ("rows", "shape"),
    [(25_000, {}), (2_000, {}), (2_000, {"atomic": True})],
    ids=["one by one", "in a batch", "all or nothing"],
)
def test_files_load_again_into_a_table_with_no_row_and_once_only(conn, table, tmp_path, how, rows, shape):
    two_files = make_files(tmp_path, rows)
    paths = [str(f.path) for f in two_files]
    first = sl.Loader(conn, table, progress="none", **shape).load(paths)
    emptied(conn, table, how)

    again = sl.Loader(conn, table, progress="none", create_table=True, **shape).load(paths)
    third = sl.Loader(conn, table, progress="none", **shape).load(paths)

    assert [f.status for f in first.files] == ["loaded", "loaded"]
    assert [(f.status, f.rows_loaded) for f in again.files] == [("loaded", f.rows) for f in two_files]
    assert [f.status for f in third.files] == ["skipped", "skipped"]
    assert table_facts(conn, table) == expected_facts(two_files)


def test_a_table_that_still_has_rows_keeps_its_records_word(conn, table, two_files):
    """Rows deleted by hand from a table that keeps others: its files are loaded, as Snowflake's
    load history says of them (`force=True` loads them again)."""
    paths = [str(f.path) for f in two_files]
    sl.Loader(conn, table, progress="none").load(paths)
    conn.cursor().execute(f'DELETE FROM {sql.QualifiedName.parse(table).sql} WHERE "FILE_NO" = 0')

    again = sl.Loader(conn, table, progress="none").load(paths)

    assert [f.status for f in again.files] == ["skipped", "skipped"]
    assert table_facts(conn, table) == expected_facts(two_files[1:])


def test_two_loads_into_an_emptied_table_at_once_load_each_file_once(conn, table, two_files):
    """The second load found the table empty, then, before it removes their records, the first
    loads the files: the removal finds rows in the table and removes nothing, and the second
    load's own records find the first's and roll back."""
    paths = [str(f.path) for f in two_files]
    sl.Loader(conn, table, progress="none").load(paths)
    emptied(conn, table, "dropped and made again")
    first: list[sl.LoadResult] = []
    other = sl.connect_local()  # a connection carries one load at a time

    def the_other_load_goes_first(statement: str) -> None:
        # The second load's first claim is its removal's, in a transaction just begun.
        if statement.startswith(f"UPDATE {sql.QualifiedName.parse(sql.LOCKS_NAME).sql}") and not first:
            first.append(sl.Loader(other, table, progress="none").load(paths))

    try:
        second = sl.Loader(conn, table, progress="none", connect=Interceptor(the_other_load_goes_first)).load(paths)
    finally:
        other.close()

    assert [f.status for f in first[0].files] == ["loaded", "loaded"]
    assert [f.status for f in second.files] == ["skipped", "skipped"]
    assert second.ok
    assert table_facts(conn, table) == expected_facts(two_files)


def test_a_dataframe_loads_again_into_its_table_dropped_and_made_again(conn, table):
    frame = pd.DataFrame({"ID": range(1, 301), "NAME": [f"n{i}" for i in range(300)]})
    name = f"{table}_FRAME"
    first = sl.Loader(conn, name, progress="none", create_table=True).load_dataframe(frame)
    conn.cursor().execute(f"DROP TABLE {sql.QualifiedName.parse(name).sql}")

    again = sl.Loader(conn, name, progress="none", create_table=True).load_dataframe(frame)
    third = sl.Loader(conn, name, progress="none").load_dataframe(frame)

    assert [f.status for f in first.files] == ["loaded"]
    assert [(f.status, f.rows_loaded) for f in again.files] == [("loaded", 300)]
    assert [f.status for f in third.files] == ["skipped"]
    assert table_facts(conn, name) == (300, 300, sum(range(1, 301)))
