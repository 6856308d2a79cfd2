"""By-name matching: every input's columns go into the table's columns of the same name, whatever
their order or case; a missing or unknown column is loaded as NULL, left out or refused, and
always named in the file's result and in every view. One rule for CSV, Parquet and DataFrames."""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
from html import escape

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Interceptor

import snowload_nb as sl
from snowload_nb import sql
from snowload_nb.cli import add_load_arguments, loader_for
from snowload_nb.matching import ColumnPlan, TableColumn, plan_columns
from snowload_nb.model import FileState, Phase, ProgressModel
from snowload_nb.pipeline import PendingCopy
from snowload_nb.views import html, text
from snowload_nb.views.log import LogView
from snowload_nb.views.terminal import TerminalView

_numbers = itertools.count(1)
NOTE_NULL = "column 'AMOUNT' not in the file: loaded as NULL"
NOTE_IGNORED = "file column 'colour' not in the table: not loaded"
IGNORE_HINT = "(pass extra_columns='ignore' to load the file without them)"


@pytest.fixture
def people(conn) -> str:
    """ID NOT NULL, NAME and AMOUNT nullable, in that order."""
    name = f"PEOPLE{next(_numbers)}_{os.getpid()}"
    conn.cursor().execute(f'CREATE TABLE "{name}" ("ID" NUMBER(38,0) NOT NULL, "NAME" VARCHAR, "AMOUNT" FLOAT)')
    return name


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """Every COPY the loads of a test build, as sent."""
    sent: list[str] = []
    build = PendingCopy.statement

    def spy(self, plan):
        sent.append(build(self, plan))
        return sent[-1]

    monkeypatch.setattr(PendingCopy, "statement", spy)
    return sent


def rows(conn, table: str) -> list[tuple]:
    return conn.cursor().execute(f'SELECT "ID", "NAME", "AMOUNT" FROM "{table}" ORDER BY "ID"').fetchall()


def load(conn, table, paths, **options):
    return sl.Loader(conn, table, progress="none", workers=2, **options).load([str(p) for p in paths])


def csv(tmp_path, name: str, content: str):
    path = tmp_path / name
    path.write_text(content)
    return path


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ('amount,name,id\n1.5,"Ann, A.",1\n2.5,Bob\n3.5,Cid,3\n', "line 3: 2 fields where the header has 3"),
        ("amount,name,id\n1.5,Ann,1,oops\n", "line 2: 4 fields where the header has 3"),
    ],
    ids=["short row", "long row"],
)
def test_a_reordered_csv_with_a_row_of_the_wrong_width_fails_naming_the_line(
    conn, people, tmp_path, statements, content, why
):
    """A COPY by name would load a short row's gap as NULL on Snowflake: the file is refused first."""
    path = csv(tmp_path, "ragged.csv", content)
    good = csv(tmp_path, "good.csv", "amount,name,id\n9.5,Dan,9\n")

    result = load(conn, people, [path, good])

    assert [(f.status, f.error) for f in result.files] == [("failed", why), ("loaded", None)]
    assert result.files[0].staged_bytes == 0  # refused before anything was sent
    assert rows(conn, people) == [(9, "Dan", 9.5)]


def test_a_reordered_header_loads_each_value_into_its_own_column(conn, people, tmp_path, statements):
    path = csv(tmp_path, "reordered.csv", 'amount,name,id\n1.5,"Ann, A.",1\n2.5,Bob,2\n')

    result = load(conn, people, [path])

    assert result.ok and result.files[0].rows_loaded == 2
    assert rows(conn, people) == [(1, "Ann, A.", 1.5), (2, "Bob", 2.5)]
    assert result.files[0].notes is None and result.files[0].null_columns == ()
    (copy,) = statements
    assert f'COPY INTO "{people}" ("ID", "NAME", "AMOUNT") FROM (SELECT $3, $2, $1 FROM @' in copy


@pytest.mark.parametrize("frame", [False, True], ids=["file", "dataframe"])
def test_a_load_reads_the_tables_columns_once(conn, people, tmp_path, frame):
    """The probe that the table is there is the DESCRIBE that matching by name needs: one round
    trip before anything is sent, not a probe and then a DESCRIBE."""
    sent: list[str] = []
    sessions = Interceptor(sent.append)
    loader = sl.Loader(sessions(), people, progress="none", connect=sessions)

    if frame:
        result = loader.load_dataframe(pd.DataFrame({"NAME": ["Ann"], "AMOUNT": [1.5], "ID": [1]}))
    else:
        result = loader.load([csv(tmp_path, "reordered.csv", "NAME,AMOUNT,ID\nAnn,1.5,1\n")])

    assert result.ok and rows(conn, people) == [(1, "Ann", 1.5)]
    table = sql.QualifiedName.parse(people)
    reads = [s for s in sent if s.startswith(("DESCRIBE", "SELECT * FROM"))]
    assert reads == [sql.describe_table(table)]


def test_a_header_in_the_tables_order_keeps_the_plain_positional_copy(conn, people, tmp_path, statements):
    path = csv(tmp_path, "other_case.csv", "Id,NaMe,amount\n1,Ann,1.5\n")

    result = load(conn, people, [path])

    assert result.ok and rows(conn, people) == [(1, "Ann", 1.5)]
    (copy,) = statements
    assert copy.startswith(f'COPY INTO "{people}" FROM @') and "SELECT" not in copy
    assert "SKIP_HEADER = 1" in copy and "MATCH_BY_COLUMN_NAME" not in copy


def test_a_different_case_and_order_matches_case_insensitively(conn, people, tmp_path):
    path = csv(tmp_path, "cased.csv", "NAME,Amount,iD\nAnn,1.5,1\n")

    result = load(conn, people, [path])

    assert result.ok and rows(conn, people) == [(1, "Ann", 1.5)]


def test_a_missing_nullable_column_loads_null_and_says_so(conn, people, tmp_path):
    path = csv(tmp_path, "no_amount.csv", "name,id\nAnn,1\nBob,2\n")

    result = load(conn, people, [path])

    assert result.ok and rows(conn, people) == [(1, "Ann", None), (2, "Bob", None)]
    (f,) = result.files
    assert (f.null_columns, f.ignored_columns, f.notes) == (("AMOUNT",), (), NOTE_NULL)
    document = result.to_dict()["files"][0]
    assert (document["null_columns"], document["notes"]) == (["AMOUNT"], NOTE_NULL)
    assert NOTE_NULL in result.results_table() and escape(NOTE_NULL) in result._repr_html_()
    assert result.to_pandas()["notes"].tolist() == [NOTE_NULL]


def test_a_missing_not_null_column_fails_the_file_naming_it(conn, people, tmp_path):
    bad = csv(tmp_path, "no_id.csv", "name,amount\nAnn,1.5\n")
    good = csv(tmp_path, "good.csv", "id,name,amount\n7,Gus,7.5\n")

    result = load(conn, people, [bad, good])

    assert [(f.status, f.error) for f in result.files] == [
        ("failed", "the table's NOT NULL column 'ID' is not in the file"),
        ("loaded", None),
    ]
    assert rows(conn, people) == [(7, "Gus", 7.5)]  # the other file loads; nothing of this one


def test_an_unknown_column_fails_the_file_unless_told_to_ignore_it(conn, people, tmp_path):
    path = csv(tmp_path, "colour.csv", "colour,id,name,amount\nred,1,Ann,1.5\n")

    refused = load(conn, people, [path])

    (f,) = refused.files
    assert f.status == "failed" and f.error.startswith("its column 'colour' is not in the table")
    assert rows(conn, people) == []

    ignored = load(conn, people, [path], extra_columns="ignore")

    (f,) = ignored.files
    assert (f.status, f.ignored_columns, f.notes) == ("loaded", ("colour",), NOTE_IGNORED)
    assert rows(conn, people) == [(1, "Ann", 1.5)]


def test_a_file_sharing_no_column_with_the_table_fails(conn, people, tmp_path):
    path = csv(tmp_path, "elsewhere.csv", "x,y\n1,2\n")

    result = load(conn, people, [path], extra_columns="ignore")

    assert result.files[0].error == "none of its columns ('x', 'y') is a column of the table"


def test_a_bad_header_is_refused_without_create_table_too(conn, people, tmp_path):
    path = csv(tmp_path, "twice.csv", "id,ID,name\n1,2,Ann\n")

    result = load(conn, people, [path])

    reason = "bad header row: the names 'id', 'ID' differ only in case, so they name the same column"
    assert result.files[0].error == reason


def test_a_reordered_csv_in_several_parts_loads_every_part(conn, people, tmp_path, statements, monkeypatch):
    puts: list[str] = []
    put = sql.put
    monkeypatch.setattr(sql, "put", lambda *args: puts.append(put(*args)) or puts[-1])
    count = 500_000  # about 16 MB: four parts of 5 MB, staged uncompressed
    path = tmp_path / "big.csv"
    with open(path, "w") as out:
        out.write("name,amount,id\n")
        out.writelines(f"name number {i},{i}.25,{i}\n" for i in range(count))

    result = load(conn, people, [path], part_size_mb=5, compression="none", atomic=True)

    assert result.ok and result.rows_loaded == count
    total, ids, amounts, named = (
        conn.cursor()
        .execute(
            f'SELECT COUNT(*), SUM("ID"), SUM("AMOUNT"), COUNT_IF("NAME" = \'name number \' || CAST("ID" AS VARCHAR)) '
            f'FROM "{people}"'
        )
        .fetchone()
    )
    id_sum = count * (count - 1) // 2
    assert (total, ids, amounts, named) == (count, id_sum, id_sum + 0.25 * count, count)
    assert len(puts) == 4 and "(SELECT $3, $1, $2 FROM" in statements[0]  # one COPY of its four parts


def test_parquet_follows_the_same_rule(conn, people, tmp_path):
    reordered = tmp_path / "reordered.parquet"
    pq.write_table(pa.table({"Amount": [1.5], "ID": [1], "name": ["Ann"]}), reordered)
    missing = tmp_path / "missing.parquet"
    pq.write_table(pa.table({"id": [2], "name": ["Bob"]}), missing)
    unknown = tmp_path / "unknown.parquet"
    pq.write_table(pa.table({"id": [3], "colour": ["red"]}), unknown)
    no_id = tmp_path / "no_id.parquet"
    pq.write_table(pa.table({"name": ["Cy"]}), no_id)

    result = load(conn, people, [reordered, missing, unknown, no_id])

    assert [(f.status, f.error, f.notes) for f in result.files] == [
        ("loaded", None, None),
        ("loaded", None, NOTE_NULL),
        ("failed", f"its column 'colour' is not in the table {IGNORE_HINT}", None),
        ("failed", "the table's NOT NULL column 'ID' is not in the file", None),
    ]
    assert rows(conn, people) == [(1, "Ann", 1.5), (2, "Bob", None)]


def test_a_dataframe_follows_the_same_rule(conn, people):
    loader = sl.Loader(conn, people, progress="none")

    reordered = loader.load_dataframe(pd.DataFrame({"name": ["Ann"], "Id": [1], "AMOUNT": [1.5]}))
    missing = loader.load_dataframe(pd.DataFrame({"id": [2, 3], "name": ["Bob", "Cy"]}), chunk_rows=1)
    unknown = loader.load_dataframe(pd.DataFrame({"id": [4], "colour": ["red"]}))
    ignored = sl.Loader(conn, people, progress="none", extra_columns="ignore").load_dataframe(
        pd.DataFrame({"id": [5], "colour": ["red"]})
    )

    assert reordered.ok and reordered.files[0].notes is None
    assert missing.ok and [f.notes for f in missing.files] == [NOTE_NULL, NOTE_NULL]
    assert not unknown.ok and unknown.files[0].error.startswith("its column 'colour' is not in the table")
    assert ignored.ok and ignored.files[0].notes == (
        "columns 'NAME', 'AMOUNT' not in the file: loaded as NULL; " + NOTE_IGNORED
    )
    assert rows(conn, people) == [(1, "Ann", 1.5), (2, "Bob", None), (3, "Cy", None), (5, None, None)]


def test_every_view_names_the_columns_left_null_or_out():
    model = ProgressModel("PEOPLE", 1)
    index = model.add_file("no_amount.csv", "/data/no_amount.csv", 100)
    model.columns(index, ("AMOUNT",), ("colour",))
    model.start()
    for phase in (Phase.COMPRESS, Phase.UPLOAD, Phase.COPY):
        model.begin(index, phase)
        model.complete(index, phase)
    model.finish(index, FileState.LOADED, rows=2)
    model.end()
    snapshot = model.snapshot()
    both = f"{NOTE_NULL}; {NOTE_IGNORED}"

    record_html, record_text = html.record_parts(snapshot)  # the widget's and the HTML view's record
    log = io.StringIO()
    LogView(log).close(snapshot)

    assert escape(both) in record_html and both in record_text
    assert both in TerminalView.summary(snapshot)
    assert both in log.getvalue() and both in text.finished_line(snapshot.finished[0])
    assert sl.LoadResult.build("PEOPLE", model.files(), 1.0, snapshot.state).files[0].notes == both


def test_the_plan_decides_from_names_alone():
    table = [TableColumn("ID", False), TableColumn("Name", True)]

    assert plan_columns(["id", "NAME"], table) == ColumnPlan()  # the fast path
    assert plan_columns(["name", "id"], table) == ColumnPlan(fields=(("ID", 2), ("Name", 1)))
    assert plan_columns(["id"], table) == ColumnPlan(fields=(("ID", 1),), null_columns=("Name",))


def test_the_cli_passes_extra_columns(conn):
    parser = argparse.ArgumentParser()
    add_load_arguments(parser)

    default = parser.parse_args(["a.csv", "--table", "T", "--local"])
    ignore = parser.parse_args(["a.csv", "--table", "T", "--local", "--extra-columns", "ignore"])

    assert loader_for(default, conn).extra_columns == "fail"
    assert loader_for(ignore, conn).extra_columns == "ignore"
    with pytest.raises(ValueError, match="extra_columns must be one of fail, ignore"):
        sl.Loader(conn, "T", extra_columns="drop")
    assert json.dumps(sl.LoadResult("T", [], 0.0, "done").to_dict())  # still plain data
