"""Re-runs: nothing loads twice, every view says so, and force=True loads again."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from conftest import expected_facts, table_facts

import snowload_nb as sl
from snowload_nb import sql
from snowload_nb.demo import write_csv


@pytest.mark.parametrize("progress", ["log", "tqdm", "widget"])
def test_a_second_run_is_skipped_and_every_view_says_already_loaded(conn, table, mixed_files, capsys, views, progress):
    paths = [str(f.path) for f in mixed_files[:4] if f.rows]
    sl.Loader(conn, table, progress="none").load(paths)

    again = sl.Loader(conn, table, workers=2, progress=progress).load(paths)

    assert again.ok and again.rows_loaded == 0
    assert [f.status for f in again.files] == ["skipped"] * len(paths)
    err = capsys.readouterr().err
    if progress == "log":
        lines = err.splitlines()
        assert lines[0].endswith(f", {len(paths)} already loaded")  # the first line, before any work
        assert sum("already loaded" in line for line in lines) == len(paths) + 2  # first line, files, summary
    elif progress == "tqdm":
        assert f"0 loaded, {len(paths)} already loaded" in err
    else:
        finished = views[-1]._finished.value
        assert finished.count("already loaded") == len(paths)
        # nothing was left to do, and nothing failed: every phase's bar ends full and green
        assert [(row.bar.value, row.bar.bar_style) for row in views[-1]._aggregates] == [(1.0, "success")] * 3
        assert f"0 loaded, {len(paths)} already loaded" in views[-1].record_text
    assert table_facts(conn, table) == expected_facts([f for f in mixed_files[:4] if f.rows])


def test_a_rerun_compresses_nothing_and_sends_no_put_or_copy(conn, table, mixed_files, monkeypatch):
    """The ledger answers before any work: a re-run of unchanged files costs a few queries."""
    import snowload_nb.pipeline as pipeline

    paths = [str(f.path) for f in mixed_files[:4] if f.rows]
    sl.Loader(conn, table, progress="none").load(paths)
    work: list[str] = []
    split_csv, stage_all = pipeline.split_csv, pipeline._stage_all
    monkeypatch.setattr(pipeline, "split_csv", lambda *a, **k: work.append("compress") or split_csv(*a, **k))
    monkeypatch.setattr(pipeline, "_stage_all", lambda *a, **k: work.append("stage") or stage_all(*a, **k))

    again = sl.Loader(conn, table, workers=2, progress="none").load(paths)

    assert [(f.status, f.staged_bytes) for f in again.files] == [("skipped", 0)] * len(paths)
    assert work == []  # no file was compressed, staged (PUT) or copied
    assert table_facts(conn, table) == expected_facts([f for f in mixed_files[:4] if f.rows])
    sl.Loader(conn, "ANOTHER_" + table, create_table=True, progress="none").load(paths[:1])
    assert work  # the spies do see a load that works


def test_force_loads_again(conn, table, mixed_files):
    chosen = [f for f in mixed_files[:3] if f.rows]
    paths = [str(f.path) for f in chosen]
    sl.Loader(conn, table, progress="none").load(paths)

    forced = sl.Loader(conn, table, progress="none", force=True).load(paths)

    assert [f.status for f in forced.files] == ["loaded"] * len(paths)
    rows, distinct, total = table_facts(conn, table)
    once = expected_facts(chosen)
    assert (rows, distinct, total) == (2 * once[0], once[1], 2 * once[2])


def test_a_changed_file_loads_again(conn, table, tmp_path):
    from snowload_nb.demo import write_csv

    first = write_csv(tmp_path / "daily.csv", 0, 1, 10)
    sl.Loader(conn, table, progress="none").load([str(first.path)])
    second = write_csv(tmp_path / "daily.csv", 1, 100, 20)  # same name, new contents

    result = sl.Loader(conn, table, progress="none").load([str(second.path)])

    assert [(f.status, f.rows_loaded) for f in result.files] == [("loaded", 20)]
    assert table_facts(conn, table) == expected_facts([first, second])


def test_once_the_record_of_loads_exists_a_load_finds_it_with_one_query(conn, table, tmp_path, monkeypatch):
    """Making it is three statements before any file starts, each CREATE on Snowflake a DDL round
    trip that commits; a load after the first needs none of them."""
    files = [write_csv(tmp_path / f"f{i}.csv", i, 1 + 1000 * i, 1000) for i in range(2)]
    sl.Loader(conn, table, progress="none").load([str(files[0].path)])
    made = []
    for name in ("create_ledger", "create_locks", "count_lock_slots", "fill_lock_slots"):
        build = getattr(sql, name)
        monkeypatch.setattr(sql, name, lambda *args, _build=build, _name=name: made.append(_name) or _build(*args))

    result = sl.Loader(conn, table, progress="none").load([str(files[1].path)])

    assert result.ok and made == []
    assert table_facts(conn, table) == expected_facts(files)


def test_a_load_makes_a_missing_stage_and_once_it_exists_finds_it_by_the_listing_it_needs(
    conn, table, tmp_path, monkeypatch
):
    """`CREATE STAGE IF NOT EXISTS` is a DDL round trip on Snowflake, and commits the session's
    open transaction: sent on every load, it cost each one a statement the stage's listing
    (which finds what unfinished attempts left) already answers."""
    files = [write_csv(tmp_path / f"f{i}.csv", i, 1 + 1000 * i, 1000) for i in range(2)]
    schema = f"STAGELESS_{uuid.uuid4().hex[:8].upper()}"
    with contextlib.closing(sl.connect_local()) as other:  # CREATE SCHEMA makes it the session's schema
        other.cursor().execute(f"CREATE SCHEMA {schema}")  # a schema of its own: no stage in it yet
    table = f"{schema}.{table}"
    stage = sql.QualifiedName.parse(table).sibling(sql.STAGE_NAME)
    made = []
    build = sql.create_stage
    monkeypatch.setattr(sql, "create_stage", lambda name: made.append(name) or build(name))

    first = sl.Loader(conn, table, progress="none", create_table=True).load([str(files[0].path)])
    made_by_first, made[:] = list(made), []
    second = sl.Loader(conn, table, progress="none").load([str(files[1].path)])

    assert made_by_first == [stage] and made == []
    assert [f.status for f in first.files + second.files] == ["loaded", "loaded"]
    assert table_facts(conn, table) == expected_facts(files)


def test_lock_slots_dropped_by_hand_are_made_again_and_the_record_of_loads_keeps_its_word(conn, table, tmp_path):
    first, second = (write_csv(tmp_path / f"f{i}.csv", i, 1 + 1000 * i, 1000) for i in range(2))
    sl.Loader(conn, table, progress="none").load([str(first.path)])
    cursor = conn.cursor()
    cursor.execute(f"DROP TABLE {sql.QualifiedName.parse(sql.LOCKS_NAME).sql}")

    made = sl.Loader(conn, table, progress="none").load([str(second.path)])
    again = sl.Loader(conn, table, progress="none").load([str(first.path), str(second.path)])

    assert made.ok and [f.status for f in made.files] == ["loaded"]
    assert [f.status for f in again.files] == ["skipped", "skipped"]
    assert table_facts(conn, table) == expected_facts([first, second])
