"""Real loads into the embedded server: the table holds exactly the files' rows."""

from __future__ import annotations

import pytest
from conftest import expected_facts, leftover_threads, table_facts

import snowload_nb as sl


@pytest.mark.parametrize("workers", [1, 2, 3, 10])
def test_mixed_files_load_exactly_once(conn, table, mixed_files, workers, private_tmp):
    result = sl.Loader(conn, table, workers=workers, progress="none").load([str(f.path) for f in mixed_files])

    assert table_facts(conn, table) == expected_facts(mixed_files)
    assert result.ok
    assert result.rows_loaded == sum(f.rows for f in mixed_files)
    assert [(r.path, r.status, r.rows_loaded) for r in result.files] == [
        (str(f.path), "loaded", f.rows) for f in mixed_files
    ]
    assert list(private_tmp.iterdir()) == []
    assert leftover_threads() == []


def test_globs_and_folders_expand_once(conn, table, mixed_files):
    folder = mixed_files[0].path.parent
    result = sl.Loader(conn, table, workers=4, progress="none").load(
        [str(folder / "events_0*.csv"), str(folder), str(mixed_files[3].path)]
    )

    assert sorted(r.path for r in result.files) == sorted(str(f.path) for f in mixed_files)
    assert table_facts(conn, table) == expected_facts(mixed_files)


def test_quoted_commas_doubled_quotes_and_newlines_load_exactly(conn, table, tmp_path):
    path = tmp_path / "awkward.csv"
    path.write_text(
        "id,file_no,name,amount,at,note\n"
        '1,0,"a, b",1.5,2026-01-02 03:04:05,"he said ""hi"""\n'
        '2,0,"multi\nline",2.5,2026-01-02 03:04:06,\n',
        encoding="utf-8",
    )
    result = sl.Loader(conn, table, progress="none").load([str(path)])

    assert result.ok, result.files
    rows = conn.cursor().execute(f'SELECT "ID", "NAME", "NOTE" FROM "{table}" ORDER BY "ID"').fetchall()
    assert rows == [(1, "a, b", 'he said "hi"'), (2, "multi\nline", None)]


def test_create_table_infers_columns_from_the_file(conn, mixed_files):
    result = sl.Loader(conn, "CREATED_FROM_CSV", progress="none", create_table=True).load([str(mixed_files[2].path)])

    assert result.ok
    columns = conn.cursor().execute('DESCRIBE TABLE "CREATED_FROM_CSV"').fetchall()
    # amounts are written with two decimals: cents, kept exactly, not a FLOAT
    assert [(c[0], c[1].split("(16777216)")[0].split("(9)")[0]) for c in columns] == [
        ("ID", "NUMBER(38,0)"), ("FILE_NO", "NUMBER(38,0)"), ("NAME", "VARCHAR"),
        ("AMOUNT", "NUMBER(38,2)"), ("AT", "TIMESTAMP_NTZ"), ("NOTE", "VARCHAR"),
    ]  # fmt: skip
    assert table_facts(conn, "CREATED_FROM_CSV") == expected_facts([mixed_files[2]])


def test_missing_table_is_a_clear_error_before_any_work(conn, mixed_files):
    with pytest.raises(sl.LoadError, match=r"cannot load into NO_SUCH_TABLE .*create_table=True"):
        sl.Loader(conn, "NO_SUCH_TABLE", progress="none").load([str(mixed_files[0].path)])


def test_a_missing_path_fails_alone(conn, table, mixed_files):
    result = sl.Loader(conn, table, progress="none").load([str(mixed_files[0].path), "nowhere/missing.csv"])

    assert not result.ok
    assert [(r.status, r.error) for r in result.files] == [("loaded", None), ("failed", "no such file")]
    assert table_facts(conn, table) == expected_facts([mixed_files[0]])


def test_a_second_run_loads_nothing_and_says_already_loaded(conn, table, mixed_files):
    paths = [str(f.path) for f in mixed_files[:3]]
    sl.Loader(conn, table, progress="none").load(paths)
    again = sl.Loader(conn, table, progress="none").load(paths)

    assert again.ok and again.rows_loaded == 0
    # the header-only file has nothing to skip: it loads its zero rows each time
    assert [r.status for r in again.files] == ["skipped", "loaded", "skipped"]
    assert table_facts(conn, table) == expected_facts(mixed_files[:3])


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_workers_must_be_a_positive_integer(conn, bad):
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        sl.Loader(conn, "T", workers=bad)


def test_unknown_progress_mode_is_refused(conn):
    with pytest.raises(ValueError, match="progress must be one of auto, widget, html, tqdm, log, none"):
        sl.Loader(conn, "T", progress="fancy")


def test_failures_leave_no_temporary_files_or_threads(conn, table, mixed_files, tmp_path, private_tmp):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,file_no,name,amount,at,note\nnot-a-number,0,a,1,2026-01-01 00:00:00,x\n")
    result = sl.Loader(conn, table, workers=3, progress="none").load([str(bad), str(mixed_files[3].path)])

    assert [r.status for r in result.files] == ["failed", "loaded"]
    assert "not-a-number" in result.files[0].error
    assert list(private_tmp.iterdir()) == []
    assert leftover_threads() == []
    with pytest.raises(sl.LoadError):
        sl.Loader(conn, "NO_SUCH_TABLE", progress="none").load([str(bad)])
    assert list(private_tmp.iterdir()) == []
    assert leftover_threads() == []


def test_create_table_on_a_second_run_keeps_the_load_history(conn, mixed_files):
    paths = [str(mixed_files[0].path), str(mixed_files[2].path)]
    first = sl.Loader(conn, "CREATED_TWICE", progress="none", create_table=True).load(paths)
    again = sl.Loader(conn, "CREATED_TWICE", progress="none", create_table=True).load(paths)

    assert [f.status for f in first.files] == ["loaded", "loaded"]
    assert [f.status for f in again.files] == ["skipped", "skipped"]
    assert table_facts(conn, "CREATED_TWICE") == expected_facts([mixed_files[0], mixed_files[2]])


def test_sessions_that_cannot_open_fail_every_file_with_the_reason(conn, table, mixed_files):
    def refuse():
        raise ConnectionRefusedError(111, "Connection refused")

    result = sl.Loader(conn, table, workers=3, progress="none", connect=refuse).load(
        [str(f.path) for f in mixed_files[:3] if f.rows]
    )

    assert {(f.status, f.error) for f in result.files} == {("failed", "Connection refused")}
    assert table_facts(conn, table) == (0, 0, 0)


def test_the_private_folder_is_0700_while_it_lives(conn, table, mixed_files, private_tmp, monkeypatch):
    from snowload_nb.model import Phase, ProgressModel

    modes = set()
    advance = ProgressModel.advance

    def look(model, index, phase, nbytes):
        if phase is Phase.COMPRESS:
            modes.update(oct(p.stat().st_mode & 0o777) for p in private_tmp.iterdir())
        advance(model, index, phase, nbytes)

    monkeypatch.setattr(ProgressModel, "advance", look)
    result = sl.Loader(conn, table, workers=2, progress="none").load([str(mixed_files[3].path)])

    assert result.ok
    assert modes == {"0o700"}
    assert list(private_tmp.iterdir()) == []
