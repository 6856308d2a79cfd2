"""Exactly once, whatever happens: leftover parts, two loads of one file, files that change,
a connection two loads share. Every case is checked by value in the table."""

from __future__ import annotations

import os
import re
import threading
import warnings

import pytest
from conftest import Interceptor, expected_facts, table_facts

import snowload_nb as sl
from snowload_nb import local, sql
from snowload_nb.demo import ROW_BYTES, write_csv
from snowload_nb.model import Phase, ProgressModel


def verb(statement):
    return statement.split()[0].upper()


def staged_files(conn) -> list[str]:
    return [row[0] for row in conn.cursor().execute(f"LIST @{sql.QualifiedName.parse(sql.STAGE_NAME).sql}")]


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """About 24 MB: five parts of 5 MB, staged uncompressed."""
    return write_csv(tmp_path_factory.mktemp("big") / "big.csv", 0, 1, 24_000_000 // ROW_BYTES)


def cancel_after_two_parts(job_of, puts, refuse_remove=False):
    """A statement hook: cancel the load once it has sent two parts and starts a third PUT
    (and, with `refuse_remove`, fail its REMOVEs, as a server that stops answering would)."""

    def before(statement):
        if verb(statement) == "PUT":
            puts.append(statement)
            if len(puts) == 3:
                job_of().cancel()
        if refuse_remove and verb(statement) == "REMOVE":
            raise RuntimeError("REMOVE refused by the test")

    return before


def test_a_cancelled_load_removes_the_parts_it_sent(conn, table, big):
    puts, jobs = [], []
    hook = cancel_after_two_parts(lambda: jobs[0], puts)
    loader = sl.Loader(conn, table, progress="none", part_size_mb=5, compression="none", connect=Interceptor(hook))
    jobs.append(loader.start([str(big.path)]))

    result = jobs[0].result()

    assert result.cancelled and result.files[0].status == "cancelled"
    assert len(puts) >= 2 and table_facts(conn, table) == (0, 0, 0)
    assert staged_files(conn) == []  # nothing of the attempt is left on the stage


def test_an_all_or_nothing_load_cancelled_as_its_file_is_staged_leaves_nothing_staged(conn, table, tmp_path):
    """Cancelled at its only PUT: the part goes up, the file never reaches its COPY, and what it
    staged is removed (a file the all-or-nothing COPY never takes has no one else to remove it)."""
    source = write_csv(tmp_path / "one.csv", 0, 1, 1000)
    jobs = []

    def cancel_at_the_put(statement):
        if verb(statement) == "PUT":
            jobs[0].cancel()

    loader = sl.Loader(conn, table, progress="none", atomic=True, connect=Interceptor(cancel_at_the_put))
    jobs.append(loader.start([str(source.path)]))

    result = jobs[0].result()

    assert result.cancelled and table_facts(conn, table) == (0, 0, 0)
    assert staged_files(conn) == []


def test_parts_left_by_a_cancelled_load_are_never_loaded_again(conn, table, big):
    puts, jobs = [], []
    hook = cancel_after_two_parts(lambda: jobs[0], puts, refuse_remove=True)
    loader = sl.Loader(conn, table, progress="none", part_size_mb=5, compression="none", connect=Interceptor(hook))
    jobs.append(loader.start([str(big.path)]))
    first = jobs[0].result()
    assert first.cancelled and first.files[0].status == "cancelled"
    assert table_facts(conn, table) == (0, 0, 0) and staged_files(conn)  # its parts stayed

    again = sl.Loader(conn, table, progress="none").load([str(big.path)])  # another part plan

    assert again.ok and again.files[0].status == "loaded" and again.rows_loaded == big.rows
    assert table_facts(conn, table) == expected_facts([big])
    assert staged_files(conn) == []  # the loaded file's folder went, the cancelled attempt's with it


def test_a_failed_copy_leaves_nothing_that_a_rerun_would_load_twice(conn, table, big):
    def reject_the_copy(statement):
        if verb(statement) == "COPY":
            raise sl.LoadError("simulated: the disk filled up on the server")

    failed = sl.Loader(
        conn, table, progress="none", part_size_mb=5, compression="none", connect=Interceptor(reject_the_copy)
    )
    assert failed.load([str(big.path)]).files[0].status == "failed"

    again = sl.Loader(conn, table, progress="none", part_size_mb=7).load([str(big.path)])

    assert again.ok and table_facts(conn, table) == expected_facts([big])


@pytest.mark.parametrize("attempt", range(5))
def test_two_loads_of_one_file_at_once_load_it_once_and_say_so(table, tmp_path, attempt):
    source = write_csv(tmp_path / "same.csv", 0, 1, 200_000)
    connections = [sl.connect_local(), sl.connect_local()]
    start = threading.Barrier(2)
    results = [None, None]

    def load(k):
        start.wait()
        results[k] = sl.Loader(connections[k], table, progress="none").load([str(source.path)])

    threads = [threading.Thread(target=load, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    outcomes = sorted((r.files[0].status, r.files[0].rows_loaded) for r in results)
    assert outcomes == [("loaded", source.rows), ("skipped", 0)], [
        (r.files[0].status, r.files[0].error) for r in results
    ]
    assert all(r.ok for r in results)
    assert table_facts(connections[0], table) == expected_facts([source])


def rewrite_during_compression(monkeypatch, after_bytes, change):
    """Run `change` once, from the worker, when the file has been read past `after_bytes`."""
    advance = ProgressModel.advance
    done = threading.Event()
    seen = [0]

    def advance_then_change(model, index, phase, nbytes):
        advance(model, index, phase, nbytes)
        if phase is Phase.COMPRESS and not done.is_set():
            seen[0] += nbytes
            if seen[0] >= after_bytes:
                done.set()
                change()

    monkeypatch.setattr(ProgressModel, "advance", advance_then_change)
    return done


def same_size_rewrite(path):
    data = path.read_bytes()
    path.write_bytes(data.replace(b"alpha", b"ALPHA"))


def truncate_mid_row(path):
    os.truncate(path, path.stat().st_size * 2 // 3 + 7)


def append_rows(path):
    with open(path, "a") as out:
        out.write("999999999,0,appended,1.5,2026-01-01 00:00:00,\n")


@pytest.mark.parametrize("part_size_mb", [5, 100], ids=["cut in parts", "staged as it is"])
@pytest.mark.parametrize("change", [same_size_rewrite, truncate_mid_row, append_rows])
def test_a_file_that_changes_while_it_loads_fails_and_loads_nothing(
    conn, table, tmp_path, monkeypatch, change, part_size_mb
):
    """Cut in parts, the file changes while they are written; staged as it is (it fits one part),
    while its text is checked."""
    source = write_csv(tmp_path / "moving.csv", 0, 1, 24_000_000 // ROW_BYTES)
    done = rewrite_during_compression(monkeypatch, 8_000_000, lambda: change(source.path))

    loader = sl.Loader(conn, table, progress="none", part_size_mb=part_size_mb, compression="none")
    result = loader.load([str(source.path)])

    assert done.is_set()
    assert result.files[0].status == "failed"
    assert "changed while loading: load it again" in result.files[0].error
    assert table_facts(conn, table) == (0, 0, 0)

    monkeypatch.undo()
    again = sl.Loader(conn, table, progress="none").load([str(source.path)])
    if change is truncate_mid_row:  # what is on disk now ends in half a row: refused, with its line
        assert again.files[0].status == "failed"
        assert re.search(r"line:? \d+", again.files[0].error, re.IGNORECASE), again.files[0].error
        assert table_facts(conn, table) == (0, 0, 0)
    else:
        assert again.ok and again.files[0].status == "loaded"
        rows, distinct, _ = table_facts(conn, table)
        assert rows == distinct == again.rows_loaded  # the version now on disk, once


def test_a_csv_that_fits_one_part_is_put_as_it_is_and_a_change_before_its_put_ends_loads_nothing(conn, table, tmp_path):
    """Not copied: its text is checked, then its PUT reads the file itself. Rows appended after the
    check would reach the stage unchecked; the file's size and time after the PUT give them away."""
    source = write_csv(tmp_path / "whole.csv", 0, 1, 2000)
    put = []

    def append_before_the_put(statement):
        if verb(statement) == "PUT":
            put.append(os.path.realpath(re.match(r"PUT 'file://(.+?)'", statement)[1]))
            append_rows(source.path)

    # Forced: auto may stage it compressed after an earlier test measured a slow link to this server.
    loader = sl.Loader(conn, table, progress="none", compression="none", connect=Interceptor(append_before_the_put))
    result = loader.load([str(source.path)])

    assert put == [str(source.path.resolve())]
    assert result.files[0].status == "failed"
    assert "changed while loading: load it again" in result.files[0].error
    assert table_facts(conn, table) == (0, 0, 0)
    assert staged_files(conn) == []


def test_a_connection_carries_one_load_at_a_time(conn, table, tmp_path):
    files = [write_csv(tmp_path / f"f{i}.csv", i, 1 + 1000 * i, 1000) for i in range(2)]
    release = threading.Event()

    def hold_the_first_put(statement):
        if verb(statement) == "PUT":
            release.wait()

    first = sl.Loader(conn, table, progress="none", connect=Interceptor(hold_the_first_put)).start([str(files[0].path)])
    try:
        with pytest.raises(sl.ConnectionInUse, match="in use by another load") as refused:
            sl.Loader(conn, table, progress="none").load([str(files[1].path)])
        assert "its own connection" in str(refused.value) and "connect=" in str(refused.value)
    finally:
        release.set()
    assert first.result().ok

    second = sl.Loader(conn, table, progress="none").load([str(files[1].path)])  # its turn now
    assert second.ok and table_facts(conn, table) == expected_facts(files)


def test_workers_far_beyond_the_files_are_capped_and_open_no_idle_sessions(conn, table, tmp_path):
    source = write_csv(tmp_path / "two.csv", 0, 1, 2)
    opened = []

    def count(statement):
        pass

    interceptor = Interceptor(count)

    def factory():
        opened.append(1)
        return interceptor()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loader = sl.Loader(conn, table, workers=10**6, progress="none", connect=factory)
    assert any("workers=1000000 is more than snowload_nb runs at once" in str(w.message) for w in caught)

    result = loader.load([str(source.path)])

    assert result.ok and table_facts(conn, table) == expected_facts([source])
    assert len(opened) == 1  # one file: one session


def test_two_processes_loading_one_file_into_one_server_load_it_once(conn, table, tmp_path):
    """The ledger and its lock slots live in the server, so separate clients take turns too."""
    import json
    import subprocess
    import sys
    import textwrap

    source = write_csv(tmp_path / "shared.csv", 0, 1, 200_000)
    script = textwrap.dedent(
        f"""
        import json, sys
        import snowload_nb as sl
        from snowload_nb import local
        kwargs = json.loads(sys.argv[1])
        conn = local.embedded_session(kwargs)
        loader = sl.Loader(conn, {table!r}, progress="none", connect=lambda: local.embedded_session(kwargs))
        print("ready", flush=True)
        sys.stdin.readline()  # both start on the same line from the test
        result = loader.load([{str(source.path)!r}])
        print(json.dumps([result.files[0].status, result.files[0].rows_loaded, result.files[0].error]))
        """
    )
    kwargs = json.dumps(local.embedded_server().connect_kwargs())
    clients = [
        subprocess.Popen(
            [sys.executable, "-c", script, kwargs], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for client in clients:
        assert client.stdout.readline().strip() == "ready"
    for client in clients:
        client.stdin.write("go\n")
        client.stdin.flush()
    outcomes = sorted(tuple(json.loads(client.communicate(timeout=300)[0].strip())) for client in clients)

    assert [o[:2] for o in outcomes] == [("loaded", source.rows), ("skipped", 0)], outcomes
    assert table_facts(conn, table) == expected_facts([source])
