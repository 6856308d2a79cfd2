"""`snowload load` offers what `Loader` offers, and says what went wrong in its own terms.

Each flag is checked by what it does to the table or the result; the messages as a user of the
command sees them: stderr, stdout and the exit status.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import uuid

import pytest
import zstandard
from conftest import VENV_BIN, expected_facts, table_facts

from snowload_nb import cli
from snowload_nb.compress import level_range
from snowload_nb.copy_errors import explain
from snowload_nb.demo import write_csv
from snowload_nb.sources import expand

SNOWLOAD = str(VENV_BIN / "snowload")


def load(capsys, *args: str) -> tuple[int, dict]:
    """`snowload load ... --local --json` in this process (its embedded server): status and document."""
    status = cli.main(["load", *args, "--local", "--progress", "none", "--json"])
    out = capsys.readouterr().out
    return status, json.loads(out)


def test_every_load_option_has_help_text():
    parser = argparse.ArgumentParser()
    cli.add_load_arguments(parser)
    missing = [a.dest for a in parser._actions if not a.help]
    assert missing == []
    top = cli._parser()
    for sub in top._subparsers._group_actions[0].choices.values():
        assert [a.dest for a in sub._actions if not a.help] == [], sub.prog


@pytest.mark.parametrize(
    ("flags", "attribute", "value"),
    [
        (["--atomic"], "atomic", True),
        (["--format", "parquet"], "format", "parquet"),
        (["--compression", "none"], "compression", "none"),
        (["--compression-level", "0"], "compression_level", 0),
        (["--part-size", "7.5"], "part_size_mb", 7.5),
        (["--force"], "force", True),
        (["--workers", "9"], "workers", 9),
        (["--retries", "0"], "retries", 0),
        (["--retry-delay", "0.25"], "retry_delay", 0.25),
        (["--create-table"], "create_table", True),
    ],
)
def test_each_flag_reaches_the_loader(flags, attribute, value):
    args = cli._parser().parse_args(["load", "x.csv", "--table", "T", "--local", *flags])
    assert getattr(cli.loader_for(args, conn=None), attribute) == value


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--part-size", "1", "must be at least 5 (MB), not 1"),
        ("--compression-level", "42", "must be 0.."),
        ("--retries", "-1", "must be >= 0, not -1"),
        ("--retry-delay", "nan", "must be a number of seconds >= 0, not nan"),
        ("--format", "xml", "invalid choice: 'xml'"),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_the_flag(flag, value, says, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["load", "x.csv", "--table", "T", "--local", flag, value])
    assert exited.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and says in err


def test_atomic_loads_all_or_nothing(conn, table, tmp_path, capsys):
    good = write_csv(tmp_path / "good.csv", 0, 1, 300)
    bad = tmp_path / "bad.csv"
    bad.write_text("ID,FILE_NO,NAME,AMOUNT,AT,NOTE\nnot-a-number,1,x,1.5,2026-01-01 00:00:00,y\n")

    status, document = load(capsys, str(good.path), str(bad), "--table", table, "--atomic")

    assert status == cli.EXIT_FAILED
    assert [f["status"] for f in document["files"]] == ["failed", "failed"]
    assert table_facts(conn, table) == (0, 0, 0)  # the good file rolled back with the bad one
    _, alone = load(capsys, str(good.path), "--table", table, "--atomic")
    assert alone["ok"] and table_facts(conn, table) == expected_facts([good])


def test_format_reads_a_file_whatever_its_extension(conn, table, tmp_path, capsys):
    data = write_csv(tmp_path / "export.csv", 0, 1, 200)
    renamed = data.path.rename(tmp_path / "export.dat")

    refused = load(capsys, str(renamed), "--table", table)[1]
    status, document = load(capsys, str(renamed), "--table", table, "--format", "csv")

    assert refused["files"][0]["status"] == "failed"
    assert status == cli.EXIT_OK, document
    assert table_facts(conn, table) == expected_facts([data])


def test_compression_level_and_part_size_shape_what_is_staged(conn, table, tmp_path, capsys):
    data = write_csv(tmp_path / "big.csv", 0, 1, 8_000_000 // 64)
    header = len(data.path.read_bytes().split(b"\n", 1)[0]) + 1
    size = data.path.stat().st_size

    plain = load(capsys, str(data.path), "--table", table, "--compression", "none", "--part-size", "5")[1]
    fastest = load(capsys, str(data.path), "--table", table, "--force", "--compression-level", "0")[1]
    best = str(level_range().stop - 1)
    smallest = load(capsys, str(data.path), "--table", table, "--force", "--compression-level", best)[1]

    (plain_file,), (fast_file,), (small_file,) = plain["files"], fastest["files"], smallest["files"]
    assert plain_file["status"] == fast_file["status"] == small_file["status"] == "loaded"
    # uncompressed, in parts of about 5 MB: the bytes themselves, and the header once more per extra part
    parts = (plain_file["staged_bytes"] - size) // header + 1
    assert plain_file["staged_bytes"] == size + (parts - 1) * header and parts == -(-size // 5_000_000)
    assert fast_file["staged_bytes"] > small_file["staged_bytes"] and small_file["staged_bytes"] < size
    rows, ids, total = expected_facts([data])
    assert table_facts(conn, table) == (3 * rows, ids, 3 * total)  # --force loaded it again, twice


def test_force_loads_an_already_loaded_file_again(conn, table, tmp_path, capsys):
    data = write_csv(tmp_path / "once.csv", 0, 1, 100)
    load(capsys, str(data.path), "--table", table)
    skipped = load(capsys, str(data.path), "--table", table)[1]
    forced = load(capsys, str(data.path), "--table", table, "--force")[1]

    assert skipped["files"][0]["status"] == "skipped"
    assert forced["files"][0]["status"] == "loaded"
    assert table_facts(conn, table)[0] == 2 * data.rows


# -- the messages, as a user of the command reads them -------------------------------------------


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SNOWLOAD, *args], capture_output=True, text=True, timeout=300, env=env)


def test_a_missing_table_suggests_the_flag_not_the_python_option(tmp_path, capsys):
    data = write_csv(tmp_path / "a.csv", 0, 1, 10)
    missing = f"NO_SUCH_{uuid.uuid4().hex[:8].upper()}"
    status = cli.main(["load", str(data.path), "--table", missing, "--local", "--progress", "none"])

    assert status == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert err.startswith(f"snowload: cannot load into {missing} (pass --create-table to create it from the files): ")
    assert "create_table" not in err


def test_without_a_connection_it_says_how_to_give_one(tmp_path):
    home = tmp_path / "snowflake-home"  # no connections.toml in it
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNOWFLAKE_", "SNOWLOAD_CONNECTION"))}
    env["SNOWFLAKE_HOME"] = str(home)

    none_given = run("load", "x.csv", "--table", "T", env=env)
    unknown = run("load", "x.csv", "--table", "T", "--connection", "nope", env=env)

    assert none_given.returncode == unknown.returncode == cli.EXIT_FAILED
    assert "no connection given: pass --local for the embedded Snowflake, or --connection NAME" in none_given.stderr
    assert str(home / "connections.toml") in none_given.stderr
    assert "'nope'" in unknown.stderr
    assert f"connections are read from {home / 'connections.toml'}" in unknown.stderr


def two_columns(conn) -> str:
    """A new table of two columns, A (a number) and B, under a name no other test uses."""
    name = f"AB_{uuid.uuid4().hex[:8].upper()}"
    conn.cursor().execute(f'CREATE TABLE "{name}" ("A" NUMBER, "B" VARCHAR)')
    return name


def test_a_row_with_too_many_fields_names_the_file_the_line_and_the_columns(tmp_path, capsys, conn):
    table = two_columns(conn)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("A,B\n1,x\n2,y,surprise\n")

    status = cli.main(["load", str(ragged), "--table", table, "--local", "--progress", "none"])

    assert status == cli.EXIT_FAILED
    out = capsys.readouterr().out
    ours = "ragged.csv, line 3: 3 fields where the header has 2 (A, B) · the server said: "
    assert ours in out and f'table "{table}" has 2 columns' in out.split(ours, 1)[1]


def test_a_value_of_the_wrong_type_names_the_file_the_line_and_the_column(tmp_path, capsys, conn):
    table = two_columns(conn)
    typed = tmp_path / "typed.csv"
    typed.write_text("A,B\n1,x\n2,y\nabc,z\n")

    status, document = load(capsys, str(typed), "--table", table)

    assert status == cli.EXIT_FAILED
    error = document["files"][0]["error"]
    assert error.startswith("typed.csv, line 4, column \"A\": 'abc' is not a number · the server said: ")
    assert "abc" in error.split("the server said: ", 1)[1]  # the server's own text follows


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_a_compressed_files_rejected_rows_are_named_by_file_and_line(tmp_path, capsys, conn, codec):
    """Read again as written, every gzip member and zstd frame (the bad row is in the second)."""
    table = two_columns(conn)
    head, tail = b"A,B\n1,x\n", b"2,y\nabc,z\n"
    if codec == "gzip":
        data, name = gzip.compress(head) + gzip.compress(tail), "typed.csv.gz"
    else:
        frames = zstandard.ZstdCompressor()
        data, name = frames.compress(head) + frames.compress(tail), "typed.csv.zst"
    (tmp_path / name).write_bytes(data)

    status, document = load(capsys, str(tmp_path / name), "--table", table)

    assert status == cli.EXIT_FAILED
    error = document["files"][0]["error"]
    assert error.startswith(f"{name}, line 4, column \"A\": 'abc' is not a number · the server said: ")


def test_a_header_wider_than_the_table_names_its_column_and_the_flag_that_loads_it(tmp_path, capsys, conn):
    table = two_columns(conn)
    wide = tmp_path / "wide.csv"
    wide.write_text("A,B,C\n1,x,3\n")

    status, document = load(capsys, str(wide), "--table", table)

    assert status == cli.EXIT_FAILED
    assert document["files"][0]["error"] == (
        "its column 'C' is not in the table (pass --extra-columns ignore to load the file without them)"
    )
    status, document = load(capsys, str(wide), "--table", table, "--extra-columns", "ignore")
    assert status == cli.EXIT_OK and document["files"][0]["ignored_columns"] == ["C"]


# -- what real Snowflake says: the same words in front of its text (quoted from its COPY errors) --

SNOWFLAKE_COUNT = (
    "Number of columns in file (3) does not match that of the corresponding table (2), use file format option "
    "error_on_column_count_mismatch=false to ignore this error · File 'k/a/ragged.0001.csv.gz', line 3, "
    'character 1 · Row 2 starts at line 2, column "T"[3] · If you would like to continue loading when an error '
    "is encountered, use other values such as 'SKIP_FILE' or 'CONTINUE' for the ON_ERROR option. For more "
    "information on loading options, please run 'info loading_data' in a SQL client."
)
SNOWFLAKE_TYPE = (
    "Numeric value 'abc' is not recognized · File 'k/a/typed.0002.csv.gz', line 2, character 1 · "
    'Row 1, column "T"["A":1] · If you would like to continue loading when an error is encountered, use other '
    "values such as 'SKIP_FILE' or 'CONTINUE' for the ON_ERROR option."
)


def source(path):
    (entry,) = expand([str(path)], None)
    return entry


def test_snowflake_words_get_the_same_translation(tmp_path):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("A,B\n1,x\n2,y,surprise\n")
    typed = tmp_path / "typed.csv.gz"  # compressed inputs are read again too
    typed.write_bytes(gzip.compress(b"A,B\n1,x\n2,y\n3,z\nabc,w\n"))

    count = explain(SNOWFLAKE_COUNT, source(ragged))
    wrong = explain(SNOWFLAKE_TYPE, source(typed))

    assert count.startswith("ragged.csv, line 3: 3 fields where the header has 2 (A, B) · the server said: Number")
    assert count.endswith('column "T"[3]')  # its advice about ON_ERROR, an option snowload has not, is dropped
    # the server counts lines in its part (here the second); the line is the file's own
    assert wrong.startswith("typed.csv.gz, line 5, column \"A\": 'abc' is not a number · the server said: Numeric")


def test_an_error_it_does_not_know_comes_as_the_server_said(tmp_path):
    data = tmp_path / "fine.csv"
    data.write_text("A,B\n1,x\n")
    assert explain("Table 'T' does not exist or not authorized.", source(data)) == (
        "Table 'T' does not exist or not authorized."
    )
