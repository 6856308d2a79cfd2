"""One bad input fails alone, named, with its reason, at every step before the workers; the rest load.

The steps: expanding what the user typed into files, checking headers and inferring the new
table's types for create_table. Each case is one the sweep in issue 11 found aborting a whole load.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import VENV_BIN, expected_facts, load_without_file_powers, table_facts

import snowload_nb as sl
from snowload_nb import sql
from snowload_nb.demo import DEMO_COLUMNS, write_csv

_names = itertools.count(1)
TRAILING_COMMA = "its header row ends in a comma: column 7 has no name"
EMPTY_FIRST_LINE = "its first line is empty: a CSV needs a header row naming its columns"
SYMLINK_LOOP = "is a symbolic link loop: it points back at itself"


@pytest.fixture
def new_table() -> str:
    """A name no table has yet: create_table makes it."""
    return f"NEW{next(_names)}_{os.getpid()}"


@pytest.fixture
def good(tmp_path):
    return write_csv(tmp_path / "good.csv", 0, 1, 300)


@pytest.fixture
def bad_files(tmp_path) -> dict[str, str]:
    """Inputs the sweep found aborting a create_table load, and the reason each must fail with."""
    (tmp_path / "newline.csv").write_text("\n")
    (tmp_path / "trailing_comma.csv").write_text("id,file_no,name,amount,at,note,\n1,0,a,1.5,2026-01-01 00:00:00,x,\n")
    (tmp_path / "duplicate.csv").write_text("id,file_no,name,amount,at,id\n1,0,a,1.5,2026-01-01 00:00:00,2\n")
    (tmp_path / "case_twins.csv").write_text("id,ID\n1,2\n")
    with gzip.open(tmp_path / "gz_comma.csv.gz", "wt") as stream:
        stream.write("id,file_no,name,amount,at,note,\n")
    os.symlink(tmp_path / "loop_b.csv", tmp_path / "loop_a.csv")
    os.symlink(tmp_path / "loop_a.csv", tmp_path / "loop_b.csv")
    return {
        "newline.csv": EMPTY_FIRST_LINE,
        "trailing_comma.csv": TRAILING_COMMA,
        "duplicate.csv": "bad header row: the name 'id' is used 2 times",
        "case_twins.csv": "bad header row: the names 'id', 'ID' differ only in case, so they name the same column",
        "gz_comma.csv.gz": TRAILING_COMMA,
        "loop_a.csv": SYMLINK_LOOP,
    }


def load(conn, table, paths, **options):
    options = {"workers": 2, "progress": "none", **options}
    return sl.Loader(conn, table, **options).load([str(p) for p in paths])


def outcomes(result) -> dict[str, tuple[str, str | None]]:
    return {os.path.basename(f.path): (f.status, f.error) for f in result.files}


def columns_of(conn, table: str) -> list[str]:
    return [row[0] for row in conn.cursor().execute(f"DESCRIBE TABLE {sql.QualifiedName.parse(table).sql}")]


def table_exists(conn, table: str) -> bool:
    rows = (
        conn.cursor()
        .execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = %s", (table,))
        .fetchone()
    )
    return rows[0] > 0


def test_bad_files_first_fail_alone_and_the_table_is_made_from_a_good_one(conn, new_table, tmp_path, good, bad_files):
    result = load(conn, new_table, [*(tmp_path / name for name in bad_files), good.path], create_table=True)

    assert outcomes(result) == {
        **{name: ("failed", reason) for name, reason in bad_files.items()},
        "good.csv": ("loaded", None),
    }
    assert columns_of(conn, new_table) == [name for name, _ in DEMO_COLUMNS]
    assert table_facts(conn, new_table) == expected_facts([good])


def test_a_symlink_loop_fails_alone_when_the_table_exists(conn, table, tmp_path, good):
    os.symlink(tmp_path / "b.csv", tmp_path / "a.csv")
    os.symlink(tmp_path / "a.csv", tmp_path / "b.csv")

    result = load(conn, table, [tmp_path / "a.csv", good.path])

    assert outcomes(result) == {"a.csv": ("failed", SYMLINK_LOOP), "good.csv": ("loaded", None)}
    assert table_facts(conn, table) == expected_facts([good])


def test_a_path_no_file_system_accepts_fails_alone(conn, table, good):
    result = load(conn, table, ["bad\0name.csv", good.path])

    assert [(f.path, f.status, f.error) for f in result.files] == [
        ("bad\0name.csv", "failed", "is not a usable path: embedded null byte"),
        (str(good.path), "loaded", None),
    ]
    assert table_facts(conn, table) == expected_facts([good])


def test_type_inference_refuses_a_file_it_cannot_read_and_the_others_decide(conn, new_table, tmp_path, good):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("id,file_no,name,amount,at,note\n1,0,a,1.5,2026-01-01 00:00:00,x,surplus\n")
    durations = tmp_path / "durations.parquet"
    pq.write_table(pa.table({"id": [1], "wait": pa.array([5], pa.duration("s"))}), durations)
    not_parquet = tmp_path / "not_really.parquet"
    not_parquet.write_text("id,name\n1,a\n")

    result = load(conn, new_table, [ragged, durations, not_parquet, good.path], create_table=True)

    found = outcomes(result)
    assert found["good.csv"] == ("loaded", None)
    assert found["ragged.csv"] == ("failed", "line 2: 7 fields where the header has 6")  # as COPY's check says it
    assert found["durations.parquet"] == (
        "failed",
        "durations.parquet: column 'wait' has type duration[s], which has no Snowflake column type to load into",
    )
    status, error = found["not_really.parquet"]
    assert status == "failed" and error.startswith("cannot read its Parquet schema: "), error
    assert columns_of(conn, new_table) == [name for name, _ in DEMO_COLUMNS]
    assert table_facts(conn, new_table) == expected_facts([good])


def test_when_every_file_is_bad_each_says_why_and_no_table_is_made(conn, new_table, tmp_path, bad_files):
    result = load(conn, new_table, [tmp_path / name for name in bad_files], create_table=True)

    assert outcomes(result) == {name: ("failed", reason) for name, reason in bad_files.items()}
    assert not result.ok
    assert not table_exists(conn, new_table)


def test_a_file_after_the_one_the_table_came_from_is_checked_too(conn, new_table, tmp_path, good):
    """Which files fail must not depend on their order: every header is checked, not the first only."""
    comma = tmp_path / "comma_last.csv"
    comma.write_text("id,file_no,name,amount,at,note,\n")

    result = load(conn, new_table, [good.path, comma], create_table=True)

    assert outcomes(result) == {"good.csv": ("loaded", None), "comma_last.csv": ("failed", TRAILING_COMMA)}
    assert table_facts(conn, new_table) == expected_facts([good])


def test_header_names_are_checked_on_every_load(conn, tmp_path):
    """Names pick each value's column (by-name matching), so a header that cannot name columns
    fails its file whether or not it would create the table: a pandas index's empty name too."""
    indexed = tmp_path / "indexed.csv"
    indexed.write_text(",a,b\n0,1,x\n1,2,y\n")
    table = f"POSITIONAL_{os.getpid()}"
    conn.cursor().execute(f'CREATE TABLE "{table}" ("I" NUMBER(38,0), "A" NUMBER(38,0), "B" VARCHAR)')

    into_existing = load(conn, table, [indexed])
    refused = load(conn, f"NEVER_{table}", [indexed], create_table=True)

    reason = (
        "bad header row: column 1 of 3 has no name "
        "(an index written by pandas' to_csv? write the file with index=False)"
    )
    assert outcomes(into_existing) == outcomes(refused) == {"indexed.csv": ("failed", reason)}
    assert conn.cursor().execute(f'SELECT * FROM "{table}"').fetchall() == []
    assert not table_exists(conn, f"NEVER_{table}")


def test_the_cli_prints_its_whole_json_document_when_inputs_are_bad(tmp_path, good, bad_files):
    paths = [str(tmp_path / name) for name in bad_files] + [str(good.path)]
    done = subprocess.run(
        [str(VENV_BIN / "snowload"), "load", *paths, "--table", "CLI_BAD", "--local", "--create-table", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)  # the whole of stdout is the document
    assert done.stdout == json.dumps(document, indent=2) + "\n"
    assert "Traceback" not in done.stderr
    assert [(os.path.basename(f["path"]), f["status"], f["error"]) for f in document["files"]] == [
        *((name, "failed", reason) for name, reason in bad_files.items()),
        ("good.csv", "loaded", None),
    ]
    assert document["rows_loaded"] == good.rows


def test_a_file_that_is_not_utf8_text_never_gives_the_table_its_types(conn, new_table, tmp_path, good):
    """pyarrow reads bytes that are not UTF-8 as binary: the table must not get a BINARY column."""
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(bytes(range(256)) * 40)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("id,file_no,name,amount,at,note\n1,0,caf\xe9,1.5,2026-01-02 03:04:05,x\n".encode("latin-1"))
    open_quote = tmp_path / "open_quote.csv"
    open_quote.write_text('id,"file_no,name\n1,2\n')

    result = load(conn, new_table, [garbage, latin1, open_quote, good.path], create_table=True)

    assert outcomes(result) == {
        "garbage.csv": ("failed", "line 1: a NUL byte, so this is binary data, not CSV text"),
        "latin1.csv": (
            "failed",
            "cannot infer its column types: column 'NAME' holds bytes that are not UTF-8; "
            "COPY reads CSV as UTF-8, so convert the file first",
        ),
        "open_quote.csv": ("failed", "bad header row: a column name spans lines (a quote in the header never closed?)"),
        "good.csv": ("loaded", None),
    }
    types = dict(row[:2] for row in conn.cursor().execute(f'DESCRIBE TABLE "{new_table}"'))
    assert types["NAME"].startswith("VARCHAR")
    assert table_facts(conn, new_table) == expected_facts([good])


def test_a_table_that_cannot_be_created_names_the_file_its_columns_came_from(conn, tmp_path, good):
    comma = tmp_path / "comma.csv"
    comma.write_text("id,file_no,name,amount,at,note,\n")
    with pytest.raises(sl.LoadError) as failed:
        load(conn, "NO_SUCH_SCHEMA.T", [comma, good.path], create_table=True)
    message = str(failed.value)
    assert message.startswith("cannot create table NO_SUCH_SCHEMA.T: ")
    assert message.endswith(f"(its columns were inferred from {good.path})")


def test_a_folder_this_process_may_not_list_fails_alone(tmp_path, good):
    locked = tmp_path / "locked"
    locked.mkdir()
    write_csv(locked / "inside.csv", 1, 1000, 5)
    locked.chmod(0)
    tmp_path.chmod(0o755)
    try:
        report = load_without_file_powers([str(locked), str(good.path)])
    finally:
        locked.chmod(0o700)
    assert report == {"files": [["failed", "cannot be read: permission denied"], ["loaded", None]], "rows": good.rows}
