"""mode="truncate" | "overwrite": the table holds exactly the new rows, or, on any failure, exactly the
old ones; a reader never sees it empty or half loaded; the files' load record goes with the rows."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pandas as pd
import pytest
from conftest import VENV_BIN, Interceptor, expected_facts, table_facts

import snowload_nb as sl
from snowload_nb import sql
from snowload_nb.cli import main
from snowload_nb.demo import write_csv

REPLACING = ["truncate", "overwrite"]
BAD_ROW = "10,9,x,1,2026-01-01\n"  # a field missing: no table can take it


def ids(conn, table: str) -> list[int]:
    name = sql.QualifiedName.parse(table).sql
    return [int(r[0]) for r in conn.cursor().execute(f'SELECT "ID" FROM {name} ORDER BY "ID"').fetchall()]


def columns(conn, table: str) -> list[tuple[str, str]]:
    rows = conn.cursor().execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    return [(str(name), str(kind)) for name, kind in rows.fetchall()]


def leftover_tables(conn, table: str) -> list[str]:
    """Tables a replacing load made beside `table` and should have dropped."""
    rows = conn.cursor().execute("SELECT table_name FROM information_schema.tables").fetchall()
    return [str(name) for (name,) in rows if str(name).startswith(f"{table}__SNOWLOAD") or "SNOWLOAD_SWAP" in name]


@pytest.fixture
def old(conn, table, tmp_path):
    """The table holding 50 rows (ids 1-50) loaded from old.csv: what a replacing load replaces."""
    before = write_csv(tmp_path / "old.csv", 0, 1, 50)
    assert sl.Loader(conn, table, progress="none").load([str(before.path)]).ok
    return before


@pytest.mark.parametrize("mode", REPLACING)
def test_the_table_holds_exactly_the_new_rows(conn, table, old, tmp_path, mode, capsys):
    new = [write_csv(tmp_path / f"new_{k}.csv", k + 1, 1000 * (k + 1), 30 + k) for k in range(3)]

    result = sl.Loader(conn, table, workers=2, progress="log", mode=mode).load([str(f.path) for f in new])

    assert result.ok and result.rows_loaded == 93
    assert ids(conn, table) == sorted(i for f in new for i in range(f.first_id, f.first_id + f.rows))
    assert (result.mode, result.rows_replaced) == (mode, 50)
    assert f"93 rows into {table} ({mode}, 50 rows replaced) from 3 files (3 loaded)" in result.summary()
    log = capsys.readouterr().err  # the view: the mode from the first line, the rows replaced at the end
    assert f"loading into {table} ({mode}): 3 files" in log
    assert f"93 rows into {table} ({mode}, 50 rows replaced) from 3 files" in log
    assert leftover_tables(conn, table) == []
    if mode == "truncate":  # the same table object: its definition is untouched
        assert [name for name, _ in columns(conn, table)] == ["ID", "FILE_NO", "NAME", "AMOUNT", "AT", "NOTE"]


@pytest.mark.parametrize("mode", REPLACING)
def test_replacing_loads_files_loaded_before_and_an_append_then_finds_them_loaded(conn, table, old, mode):
    """The load record belongs to the old contents: the same file loads again, once."""
    again = sl.Loader(conn, table, progress="none", mode=mode).load([str(old.path)])
    assert [(f.status, f.rows_loaded) for f in again.files] == [("loaded", 50)]
    assert table_facts(conn, table) == expected_facts([old])

    rerun = sl.Loader(conn, table, progress="none").load([str(old.path)])  # append, the default

    assert [(f.status, f.staged_bytes) for f in rerun.files] == [("skipped", 0)]  # nothing sent again
    assert table_facts(conn, table) == expected_facts([old])


@pytest.mark.parametrize("mode", REPLACING)
def test_one_bad_file_leaves_exactly_the_old_rows_and_their_record(conn, table, old, tmp_path, mode):
    good = [write_csv(tmp_path / f"good_{k}.csv", k + 1, 1000 * (k + 1), 40) for k in range(3)]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,file_no,name,amount,at,note\n9,9,x,1.5,2026-01-01 00:00:00,y\n" + BAD_ROW)

    result = sl.Loader(conn, table, workers=2, progress="none", mode=mode).load(
        [str(good[0].path), str(bad), *(str(g.path) for g in good[1:])]
    )

    assert not result.ok and result.rows_loaded == 0 and result.rows_replaced is None
    statuses = {f.path.rsplit("/", 1)[-1]: f.status for f in result.files}
    assert statuses == {"good_0.csv": "failed", "bad.csv": "failed", "good_1.csv": "failed", "good_2.csv": "failed"}
    assert ids(conn, table) == list(range(1, 51))
    assert [name for name, _ in columns(conn, table)] == ["ID", "FILE_NO", "NAME", "AMOUNT", "AT", "NOTE"]
    assert leftover_tables(conn, table) == []
    # the old rows' record is intact: the old file is still loaded, the good ones are not
    rerun = sl.Loader(conn, table, progress="none").load([str(old.path), str(good[0].path)])
    assert [f.status for f in rerun.files] == ["skipped", "loaded"]


@pytest.mark.parametrize("mode", REPLACING)
def test_the_replacement_and_every_copy_are_one_transaction(conn, table, old, tmp_path, mode):
    new = [write_csv(tmp_path / f"new_{k}.csv", k + 1, 1000 * (k + 1), 10) for k in range(2)]
    sent: list[str] = []
    sessions = Interceptor(lambda statement: sent.append(" ".join(statement.split())))

    assert sl.Loader(conn, table, progress="none", mode=mode, connect=sessions).load([str(f.path) for f in new]).ok

    begin = max(i for i, s in enumerate(sent) if s == "BEGIN")
    end = sent.index("COMMIT", begin)
    assert "SNOWLOAD_LOCKS" in sent[begin + 1]  # the sources' lock slots first, as every load takes them
    statements = [s for s in sent[begin + 1 : end] if "SNOWLOAD_LOCKS" not in s]
    inside = [s.split(" ")[0] + (" FORCE" if s.endswith("FORCE = TRUE") else "") for s in statements]
    target = f'"{table}"' if mode == "truncate" else f'"{table}__SNOWLOAD_NEW_'
    copies = [s for s in sent[begin + 1 : end] if s.startswith("COPY")]
    assert len(copies) == 2 and all(s.startswith(f"COPY INTO {target}") for s in copies)
    if mode == "truncate":  # old rows out, their record out, then each COPY and its record
        assert inside == ["DELETE", "DELETE", "COPY FORCE", "INSERT", "COPY FORCE", "INSERT"]
    else:  # old rows counted, each COPY and its record, then the records and the tables change places
        assert inside == [
            "SELECT",
            "COPY FORCE",
            "INSERT",
            "COPY FORCE",
            "INSERT",
            "UPDATE",
            "ALTER",
        ]
        assert sent[end - 1].startswith(f'ALTER TABLE "{table}__SNOWLOAD_NEW_') and sent[end - 1].endswith(
            f'SWAP WITH "{table}"'
        )


def test_overwrite_makes_the_table_from_the_new_files(conn, table, old, tmp_path):
    scores = tmp_path / "scores.csv"
    scores.write_text("city,score,seen\nOslo,1.5,2024-01-05 05:12:13\nLima,2.25,2024-02-01 00:00:01\n")

    result = sl.Loader(conn, table, progress="none", mode="overwrite").load([str(scores)])

    assert result.ok
    assert [name for name, _ in columns(conn, table)] == ["CITY", "SCORE", "SEEN"]
    kinds = dict(columns(conn, table))
    assert kinds["CITY"] == "TEXT" and kinds["SEEN"].startswith("TIMESTAMP")
    rows = conn.cursor().execute(f'SELECT "CITY", "SCORE", "SEEN" FROM "{table}" ORDER BY "CITY"').fetchall()
    assert [(c, float(s), str(t)) for c, s, t in rows] == [
        ("Lima", 2.25, "2024-02-01 00:00:01"),
        ("Oslo", 1.5, "2024-01-05 05:12:13"),
    ]
    assert leftover_tables(conn, table) == []


def test_overwrite_creates_a_missing_table(conn, tmp_path):
    name = f"MISSING_{time.monotonic_ns()}"
    first = write_csv(tmp_path / "first.csv", 1, 1, 20)

    result = sl.Loader(conn, name, progress="none", mode="overwrite").load([str(first.path)])

    assert result.ok and table_facts(conn, name) == expected_facts([first])


@pytest.mark.parametrize("mode", REPLACING)
def test_a_reader_never_sees_the_table_empty_or_half_loaded(conn, table, old, tmp_path, mode):
    new = [write_csv(tmp_path / f"big_{k}.csv", k + 1, 100_000 * (k + 1), 20_000) for k in range(4)]
    reader = sl.connect_local()
    seen: list[int] = []
    errors: list[str] = []
    done = threading.Event()

    def read() -> None:
        deadline = time.monotonic() + 30  # bounded, whatever happens to the load
        while not done.is_set() and time.monotonic() < deadline:
            try:
                (count,) = reader.cursor().execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
                seen.append(int(count))
            except Exception as exc:
                errors.append(str(exc))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        result = sl.Loader(conn, table, workers=2, progress="none", mode=mode).load([str(f.path) for f in new])
    finally:
        done.set()
        thread.join()
        reader.close()

    assert result.ok and errors == []
    assert set(seen) <= {50, 80_000} and 50 in seen  # only ever all the old rows or all the new ones
    assert len(seen) > 10  # it read all along the load, not once
    assert table_facts(conn, table) == expected_facts(new)


@pytest.mark.parametrize("mode", ["append", *REPLACING])
def test_dataframes_in_each_mode(conn, tmp_path, mode):
    name = f"FRAME_{mode.upper()}_{time.monotonic_ns()}"
    first = pd.DataFrame({"id": [1, 2], "word": ["a", "b"]})
    sl.Loader(conn, name, progress="none", create_table=True).load_dataframe(first)
    second = (
        pd.DataFrame({"id": [3], "word": ["c"]}) if mode != "overwrite" else pd.DataFrame({"key": ["k"], "n": [1.5]})
    )

    result = sl.Loader(conn, name, progress="none", mode=mode).load_dataframe(second)

    assert result.ok and result.mode == mode
    rows = conn.cursor().execute(f'SELECT * FROM "{name}" ORDER BY 1').fetchall()
    expected = {"append": [(1, "a"), (2, "b"), (3, "c")], "truncate": [(3, "c")], "overwrite": [("k", 1.5)]}[mode]
    assert [tuple(r) for r in rows] == expected
    assert result.rows_replaced == (None if mode == "append" else 2)


def test_mode_must_be_one_of_the_three():
    with pytest.raises(ValueError, match="mode must be one of append, overwrite, truncate; got 'replace'"):
        sl.Loader(None, "T", mode="replace")


def test_the_cli_takes_mode(tmp_path):
    first = write_csv(tmp_path / "first.csv", 1, 1, 30)
    command = [str(VENV_BIN / "snowload"), "load", str(first.path), "--table", "T", "--local", "--json"]

    done = subprocess.run([*command, "--mode", "overwrite"], capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # a missing table: overwrite creates it, replacing no rows
    assert (document["mode"], document["rows_replaced"], document["rows_loaded"]) == ("overwrite", 0, 30)


def test_the_cli_says_what_each_mode_does(capsys):
    with pytest.raises(SystemExit):
        main(["load", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--mode {append,truncate,overwrite}" in help_text
    assert "truncate: replace the rows, keep the table" in help_text


@pytest.mark.parametrize(("mode", "fault"), [("overwrite", "fails"), ("truncate", "cancelled")])
def test_a_failure_or_cancel_at_the_last_statement_leaves_the_old_rows(conn, table, old, tmp_path, mode, fault):
    """Failed: the swap (overwrite) or the last file's record (truncate). Cancelled: as the last
    file's record is written, the last moment a cancel can still stop the commit."""
    new = [write_csv(tmp_path / f"new_{k}.csv", k + 1, 1000 * (k + 1), 10) for k in range(2)]
    records: list[str] = []
    jobs = []

    def at_the_end(statement: str) -> None:
        if statement.startswith("INSERT INTO"):
            records.append(statement)
        if fault == "cancelled" and len(records) == 2:
            jobs[0].cancel()
        elif fault == "fails" and (statement.startswith("ALTER TABLE") if mode == "overwrite" else len(records) == 2):
            raise sl.LoadError("simulated: the server refused it")

    loader = sl.Loader(conn, table, progress="none", mode=mode, connect=Interceptor(at_the_end))
    jobs.append(loader.start([str(f.path) for f in new]))
    result = jobs[0].result()

    assert not result.ok and result.rows_replaced is None
    assert {f.status for f in result.files} == {"failed" if fault == "fails" else "cancelled"}
    assert ids(conn, table) == list(range(1, 51))
    assert leftover_tables(conn, table) == []
    rerun = sl.Loader(conn, table, progress="none").load([str(old.path)])  # the old record stands
    assert [f.status for f in rerun.files] == ["skipped"]
