"""create_table's types come from every input, widened, and every value loads as written.

Each case is from issue 12's "Type inference" list, and each is checked where it matters: the
table's types by DESCRIBE, and the values by query after the real COPY on the embedded server.
"""

from __future__ import annotations

import datetime
import gzip
import io
import itertools
import os
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import snowload_nb as sl
from snowload_nb.model import ProgressModel
from snowload_nb.views import html
from snowload_nb.views.log import LogView
from snowload_nb.views.terminal import TerminalView

_names = itertools.count(1)


@pytest.fixture
def new_table() -> str:
    return f"TYPES{next(_names)}_{os.getpid()}"


def load(conn, table, paths, **options) -> sl.LoadResult:
    return sl.Loader(conn, table=table, progress="none", create_table=True, **options).load(paths)


def types_of(conn, table) -> dict[str, str]:
    return {row[0]: row[1] for row in conn.cursor().execute(f'DESCRIBE TABLE "{table}"')}


def rows_of(conn, table, columns: str, order: str = '"ID"') -> list[tuple]:
    return conn.cursor().execute(f'SELECT {columns} FROM "{table}" ORDER BY {order}').fetchall()


def statuses(result) -> dict[str, tuple[str, str | None]]:
    return {os.path.basename(f.path): (str(f.status), f.error) for f in result.files}


def test_a_tiny_first_file_does_not_decide_the_types_of_a_big_second_one(conn, new_table, tmp_path):
    """The issue's case: dates and whole amounts first, then times of day and cents."""
    (tmp_path / "a_small.csv").write_text("ID,TS,AMOUNT\n1,2024-01-01,5\n2,2024-01-02,6\n")
    big = ["ID,TS,AMOUNT"] + [f"{i},2024-01-05 05:12:{i % 60:02d},{i % 100}.{i % 100:02d}" for i in range(3, 20_003)]
    big[1] = "3,2024-01-05 05:12:13,12.50"
    (tmp_path / "b_big.csv").write_text("\n".join(big) + "\n")

    result = load(conn, new_table, [tmp_path / "a_small.csv", tmp_path / "b_big.csv"])

    assert statuses(result) == {"a_small.csv": ("loaded", None), "b_big.csv": ("loaded", None)}
    types = types_of(conn, new_table)
    assert types["ID"] == "NUMBER(38,0)"
    assert types["TS"].startswith("TIMESTAMP_NTZ")
    assert types["AMOUNT"] == "NUMBER(38,2)"
    assert rows_of(conn, new_table, '"ID", "TS", "AMOUNT"')[:3] == [
        (1, datetime.datetime(2024, 1, 1), Decimal("5.00")),
        (2, datetime.datetime(2024, 1, 2), Decimal("6.00")),
        (3, datetime.datetime(2024, 1, 5, 5, 12, 13), Decimal("12.50")),
    ]
    written = [Decimal(5), Decimal(6), Decimal("12.50")] + [
        Decimal(f"{i % 100}.{i % 100:02d}") for i in range(4, 20_003)
    ]
    assert [amount for (amount,) in rows_of(conn, new_table, '"AMOUNT"')] == written  # every cent, exactly


def test_text_that_looks_like_a_number_stays_text_as_written(conn, new_table, tmp_path):
    forty = "1234567890123456789012345678901234567890"
    (tmp_path / "a.csv").write_text(
        f'ID,CODE,PHONE,BIG,SEP\n1,007,+4915112345678,{forty},"1,234"\n2,004930123,+1,1,"12,345,678"\n'
    )
    (tmp_path / "b.csv").write_text("ID,CODE,PHONE,BIG,SEP\n3,12,44,5,6\n")

    result = load(conn, new_table, [tmp_path / "a.csv", tmp_path / "b.csv"])

    assert statuses(result) == {"a.csv": ("loaded", None), "b.csv": ("loaded", None)}
    types = types_of(conn, new_table)
    assert [types[c].split("(")[0] for c in ("ID", "CODE", "PHONE", "BIG", "SEP")] == [
        "NUMBER",
        "VARCHAR",
        "VARCHAR",
        "VARCHAR",
        "VARCHAR",
    ]
    assert rows_of(conn, new_table, '"CODE", "PHONE", "BIG", "SEP"') == [
        ("007", "+4915112345678", forty, "1,234"),
        ("004930123", "+1", "1", "12,345,678"),
        ("12", "44", "5", "6"),
    ]


def test_every_other_shape_of_text_loads_as_its_type(conn, new_table, tmp_path):
    (tmp_path / "a.csv").write_text(
        "ID,FLAG,RATIO,AT_TIME,AT_ZONE,NEG\n"
        "1,true,1.5e3,05:12:13,2024-01-05T05:12:13Z,-0.125\n"
        "2,False,-2,23:59:59.5,2024-01-05 05:12:13+01:00,-7\n"
    )

    result = load(conn, new_table, [tmp_path / "a.csv"])

    assert statuses(result) == {"a.csv": ("loaded", None)}
    assert [t.split("(")[0] for t in types_of(conn, new_table).values()] == [
        "NUMBER",
        "BOOLEAN",
        "FLOAT",
        "TIME",
        "TIMESTAMP_TZ",
        "NUMBER",
    ]
    utc = datetime.timezone.utc
    assert rows_of(conn, new_table, '"FLAG", "RATIO", "AT_TIME", "AT_ZONE", "NEG"') == [
        (
            True,
            1500.0,
            datetime.time(5, 12, 13),
            datetime.datetime(2024, 1, 5, 5, 12, 13, tzinfo=utc),
            Decimal("-0.125"),
        ),
        (
            False,
            -2.0,
            datetime.time(23, 59, 59, 500000),
            datetime.datetime(2024, 1, 5, 4, 12, 13, tzinfo=utc),
            Decimal("-7"),
        ),
    ]


def test_a_column_all_null_in_one_file_takes_its_type_from_the_others(conn, new_table, tmp_path):
    (tmp_path / "a.csv").write_text("ID,SCORE,AT,NOTHING\n1,,\\N,\n2,,,\n")
    (tmp_path / "b.csv").write_text("ID,SCORE,AT,NOTHING\n3,7,2024-01-05 05:12:13,\n4,,2024-01-06,\n")

    result = load(conn, new_table, [tmp_path / "a.csv", tmp_path / "b.csv"])

    assert statuses(result) == {"a.csv": ("loaded", None), "b.csv": ("loaded", None)}
    types = types_of(conn, new_table)
    assert types["SCORE"] == "NUMBER(38,0)"
    assert types["AT"].startswith("TIMESTAMP_NTZ")
    assert types["NOTHING"].startswith("VARCHAR")  # no file gave it a value: text, the widest
    assert rows_of(conn, new_table, '"ID", "SCORE", "AT", "NOTHING"') == [
        (1, None, None, None),
        (2, None, None, None),
        (3, 7, datetime.datetime(2024, 1, 5, 5, 12, 13), None),
        (4, None, datetime.datetime(2024, 1, 6), None),
    ]


def test_a_conflict_that_cannot_widen_is_text(conn, new_table, tmp_path):
    (tmp_path / "a.csv").write_text("ID,WHEN_OR_COUNT,FLAG\n1,2024-01-01,true\n")
    (tmp_path / "b.csv").write_text("ID,WHEN_OR_COUNT,FLAG\n2,5,7\n")

    load(conn, new_table, [tmp_path / "a.csv", tmp_path / "b.csv"])

    types = types_of(conn, new_table)
    assert types["WHEN_OR_COUNT"].startswith("VARCHAR")
    assert types["FLAG"].startswith("VARCHAR")
    assert rows_of(conn, new_table, '"WHEN_OR_COUNT", "FLAG"') == [("2024-01-01", "true"), ("5", "7")]


def test_a_parquet_pair_whose_schemas_widen(conn, new_table, tmp_path):
    pq.write_table(
        pa.table(
            {
                "ID": pa.array([1, 2], pa.int32()),
                "AMOUNT": pa.array([5, 6], pa.int64()),
                "TS": pa.array([datetime.date(2024, 1, 1), None], pa.date32()),
                "RATIO": pa.array([1, 2], pa.int16()),
                "EMPTY": pa.array([None, None], pa.null()),
            }
        ),
        tmp_path / "a.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "ID": pa.array([3], pa.int64()),
                "AMOUNT": pa.array([Decimal("12.50")], pa.decimal128(10, 2)),
                "TS": pa.array([datetime.datetime(2024, 1, 5, 5, 12, 13)], pa.timestamp("us")),
                "RATIO": pa.array([0.25], pa.float64()),
                "EMPTY": pa.array(["now text"], pa.string()),
            }
        ),
        tmp_path / "b.parquet",
    )

    result = load(conn, new_table, [tmp_path / "a.parquet", tmp_path / "b.parquet"])

    assert statuses(result) == {"a.parquet": ("loaded", None), "b.parquet": ("loaded", None)}
    types = types_of(conn, new_table)
    assert types["AMOUNT"] == "NUMBER(38,2)"
    assert types["TS"].startswith("TIMESTAMP_NTZ")
    assert types["RATIO"] == "FLOAT"
    assert types["EMPTY"].startswith("VARCHAR")
    assert rows_of(conn, new_table, '"ID", "AMOUNT", "TS", "RATIO", "EMPTY"') == [
        (1, Decimal("5.00"), datetime.datetime(2024, 1, 1), 1.0, None),
        (2, Decimal("6.00"), None, 2.0, None),
        (3, Decimal("12.50"), datetime.datetime(2024, 1, 5, 5, 12, 13), 0.25, "now text"),
    ]


def test_columns_are_merged_by_name_in_the_order_they_first_appear(conn, new_table, tmp_path):
    pq.write_table(pa.table({"id": [1], "name": ["a"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"ID": [2], "amount": [Decimal("1.5")], "Name": ["b"]}), tmp_path / "b.parquet")

    result = load(conn, new_table, [tmp_path / "a.parquet", tmp_path / "b.parquet"])

    assert statuses(result) == {"a.parquet": ("loaded", None), "b.parquet": ("loaded", None)}
    assert list(types_of(conn, new_table).items())[:3] == [
        ("ID", "NUMBER(38,0)"),
        ("NAME", "VARCHAR(16777216)"),
        ("AMOUNT", "NUMBER(38,1)"),
    ]
    assert rows_of(conn, new_table, '"ID", "NAME", "AMOUNT"') == [(1, "a", None), (2, "b", Decimal("1.5"))]


def test_a_file_that_cannot_give_types_is_refused_alone_and_the_others_decide(conn, new_table, tmp_path):
    pq.write_table(pa.table({"ID": [1], "TAGS": pa.array([[1, 2]], pa.list_(pa.int64()))}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"ID": [2], "TAGS": ["x"]}), tmp_path / "b.parquet")

    result = load(conn, new_table, [tmp_path / "a.parquet", tmp_path / "b.parquet"])

    assert statuses(result) == {
        "a.parquet": (
            "failed",
            "a.parquet: column 'TAGS' has type list<element: int64>, which has no Snowflake column type to load into",
        ),
        "b.parquet": ("loaded", None),
    }
    assert rows_of(conn, new_table, '"ID", "TAGS"') == [(2, "x")]


def test_a_row_of_the_wrong_width_in_the_sample_is_named_by_line(conn, new_table, tmp_path):
    (tmp_path / "a.csv").write_text("ID,NAME\n1,a\n")
    with gzip.open(tmp_path / "b.csv.gz", "wt") as stream:
        stream.write("ID,NAME\n2,b\n3\n")

    result = load(conn, new_table, [tmp_path / "a.csv", tmp_path / "b.csv.gz"])

    assert statuses(result) == {
        "a.csv": ("loaded", None),
        "b.csv.gz": ("failed", "line 3: 1 fields where the header has 2"),
    }
    assert rows_of(conn, new_table, '"ID", "NAME"') == [(1, "a")]


def test_dataframe_chunks_with_a_column_all_none_in_one_chunk(conn, new_table):
    frame = pd.DataFrame(
        {
            "ID": [1, 2, 3, 4],
            "SCORE": [None, None, 7, 8],
            "AMOUNT": [None, None, Decimal("12.50"), Decimal("1.5")],
            "NOTHING": [None, None, None, None],
        }
    )
    loader = sl.Loader(conn, table=new_table, progress="none", create_table=True)

    result = loader.load_dataframe(frame, chunk_rows=2)

    assert [str(f.status) for f in result.files] == ["loaded", "loaded"]
    types = types_of(conn, new_table)
    assert types["AMOUNT"] == "NUMBER(38,2)"
    assert types["NOTHING"].startswith("VARCHAR")
    assert rows_of(conn, new_table, '"ID", "SCORE", "AMOUNT", "NOTHING"') == [
        (1, None, None, None),
        (2, None, None, None),
        (3, 7.0, Decimal("12.50"), None),
        (4, 8.0, Decimal("1.50"), None),
    ]


def test_the_log_view_shows_the_new_table_before_any_file(conn, new_table, tmp_path, capsys):
    (tmp_path / "a.csv").write_text("ID,TS,AMOUNT\n1,2024-01-01,5\n")
    (tmp_path / "b.csv").write_text("ID,TS,AMOUNT\n2,2024-01-05 05:12:13,12.50\n")
    paths = [tmp_path / "a.csv", tmp_path / "b.csv"]

    sl.Loader(conn, table=new_table, progress="log", create_table=True).load(paths)
    lines = [line.split(" ", 1)[1] for line in capsys.readouterr().err.splitlines()]

    assert lines[:2] == [
        f"snowload loading into {new_table}: 2 files, 69 B",
        f"snowload creating {new_table} (ID NUMBER(38,0), TS TIMESTAMP_NTZ, AMOUNT NUMBER(38,2))",
    ]
    # A load into the table that now exists creates nothing, and says nothing of it.
    sl.Loader(conn, table=new_table, progress="log", create_table=True, force=True).load(paths)
    assert "creating" not in capsys.readouterr().err


def created_snapshot():
    model = ProgressModel("EVENTS", 2)
    model.add_file("a.csv", "/data/a.csv", 10)
    model.created = (("ID", "NUMBER(38,0)"), ("NOTE <b>", "VARCHAR"))
    model.start()
    return model.snapshot()


def test_every_view_shows_the_table_it_creates():
    s = created_snapshot()
    line = "creating EVENTS (ID NUMBER(38,0), NOTE <b> VARCHAR)"

    log = io.StringIO()
    LogView(log).draw(s)
    assert log.getvalue().splitlines()[1].endswith(f"snowload {line}")

    terminal = TerminalView(2, io.StringIO())
    assert terminal.lines(s, 100)[0] == line
    assert terminal.final_lines(s, 100)[0] == line
    assert terminal.lines(s, 30)[0] == line[:28] + "…"  # cut to the terminal, never wrapped

    header = html.header(s)
    assert "title='creating EVENTS (ID NUMBER(38,0), NOTE &lt;b&gt; VARCHAR)'" in header
    assert "<b>" not in header.replace("<b>", "", 2)  # a column's name is text, never markup


def test_a_load_into_an_existing_table_shows_no_new_table():
    model = ProgressModel("EVENTS", 2)
    model.start()
    s = model.snapshot()
    assert TerminalView(2, io.StringIO()).lines(s, 100)[0] != ""
    assert "creating" not in "\n".join(TerminalView(2, io.StringIO()).lines(s, 100))
    assert "title=" not in html.header(s)
