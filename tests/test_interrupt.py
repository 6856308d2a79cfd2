"""An interrupt stops the caller: the load winds down, keeps its result, then KeyboardInterrupt goes on.

The statement after an interrupted `load()` never runs, as after any other interrupted call; a
background job cancelled by `cancel()` (or the widget's button) still ends with its result.
"""

from __future__ import annotations

import _thread
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from conftest import Interceptor, expected_facts, leftover_threads, table_facts

import snowload_nb as sl
from snowload_nb.demo import generate_files, write_csv

WAIT = 120  # s: only a hung load takes this long

# The script a user runs: a blocking load, then a statement that must not run once interrupted.
SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys, tempfile, threading
    import snowload_nb as sl
    from snowload_nb import sql
    from snowload_nb.demo import DEMO_COLUMNS

    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if started in the background
    conn = sl.connect_local()
    conn.cursor().execute(sql.create_table(sql.QualifiedName.parse("T"), DEMO_COLUMNS))
    loader = sl.Loader(conn, "T", workers=1, progress="log")
    try:
        loader.load(sys.argv[1:])
        print("the next statement ran")
    except KeyboardInterrupt:
        result = loader.last_result
        others = [t for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()]
        for t in others:
            t.join(5)  # a thread on its way out gets a moment to finish
        facts = conn.cursor().execute('SELECT COUNT(*), COUNT(DISTINCT "ID"), SUM("ID") FROM "T"').fetchone()
        print(json.dumps({
            "state": result.state,
            "files": {f.path: f.status for f in result.files},
            "rows": result.rows_loaded,
            "table": [int(v or 0) for v in facts],
            "threads": [t.name for t in others if t.is_alive()],
        }), flush=True)
        raise
    """
)


def test_sigint_during_a_blocking_load_in_a_script_raises_after_cleanup(tmp_path):
    files = generate_files(tmp_path / "in", [2_000_000] * 12)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, *(str(f.path) for f in files)],
        env=os.environ | {"TMPDIR": str(tmp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stderr:  # the log view: one line per file as it ends
            if ": loaded" in line:  # one file is in the table, the others still to come
                process.send_signal(signal.SIGINT)
                break
        out, err = process.communicate(timeout=WAIT)
    finally:
        process.kill()

    assert process.returncode == -signal.SIGINT, err  # the interrupt went on, out of the script
    assert "the next statement ran" not in out
    report = json.loads(out)
    assert report["state"] == "cancelled"
    statuses = report["files"]
    assert set(statuses.values()) <= {"loaded", "cancelled"} and "cancelled" in statuses.values()
    loaded = [f for f in files if statuses[str(f.path)] == "loaded"]
    assert loaded, statuses
    assert tuple(report["table"]) == expected_facts(loaded)  # whole files only, by query
    assert report["rows"] == sum(f.rows for f in loaded)
    assert report["threads"] == []
    assert [p.name for p in tmp.iterdir() if p.name.startswith("snowload-")] == []
    assert "Cancelled: " in err  # the view's summary says so


def _interrupt_at(verb: str, when: threading.Event | None = None, until: threading.Event | None = None):
    """Before the first `verb` statement (once `when` is set): a KeyboardInterrupt on the calling
    thread, as Ctrl-C gives; the statement then waits for `until`, if given (the caller has
    acted on the interrupt), so a small load cannot finish first."""
    fired: list[bool] = []

    def before(statement: str) -> None:
        if not fired and statement.split()[0].upper() == verb:
            fired.append(True)
            if when is not None:
                assert when.wait(WAIT)
            _thread.interrupt_main()
            if until is not None:
                assert until.wait(WAIT)

    return before


def test_an_interrupted_dataframe_load_raises_and_keeps_its_result(conn, table, private_tmp):
    import pandas as pd

    frame = pd.DataFrame({"ID": range(1, 3001), "FILE_NO": [0] * 3000})
    loader = sl.Loader(conn, table, progress="none", connect=Interceptor(_interrupt_at("PUT")))
    with pytest.raises(KeyboardInterrupt, match="its result is the Loader's last_result"):
        loader.load_dataframe(frame, chunk_rows=1000)

    result = loader.last_result
    assert result.cancelled and result.rows_loaded == 0
    assert {f.status for f in result.files} == {"cancelled"}
    assert table_facts(conn, table) == (0, 0, 0)  # all or nothing: nothing
    assert list(private_tmp.iterdir()) == []
    assert leftover_threads() == []


def test_interrupting_a_jobs_wait_cancels_it_and_stops_the_caller(conn, table, tmp_path):
    small = write_csv(tmp_path / "small.csv", 0, 1, 500)
    waiting, cancelled = threading.Event(), threading.Event()
    connect = Interceptor(_interrupt_at("PUT", when=waiting, until=cancelled))
    job = sl.Loader(conn, table, progress="none", connect=connect).start([str(small.path)])
    cancel = job.cancel

    def cancelling() -> bool:  # the interrupted wait cancels the job: then the PUT may go on
        try:
            return cancel()
        finally:
            cancelled.set()

    job.cancel = cancelling  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        waiting.set()
        job.wait(WAIT)

    assert job.done()  # wound down before the interrupt went on
    result = job.result(0)
    assert result.cancelled and result.files[0].status == "cancelled"
    assert table_facts(conn, table) == (0, 0, 0)


def test_a_job_cancelled_by_cancel_returns_its_result(conn, table, tmp_path):
    small = write_csv(tmp_path / "small.csv", 0, 1, 500)
    started = threading.Event()
    holder: list = []

    def cancel_at_put(statement: str) -> None:
        if statement.split()[0].upper() == "PUT":
            assert started.wait(WAIT)
            holder[0].cancel()

    job = sl.Loader(conn, table, progress="none", connect=Interceptor(cancel_at_put)).start([str(small.path)])
    holder.append(job)
    started.set()
    result = job.wait(WAIT)  # no raise: nobody interrupted the caller

    assert result.cancelled


@pytest.mark.parametrize("where", ["make_view", "finish"])
def test_an_interrupt_before_the_run_starts_leaves_the_connection_free(conn, table, tmp_path, monkeypatch, where):
    """Between taking the connection and running the files: the next load on it must still work."""
    import snowload_nb.loader as loader_module
    from snowload_nb.model import ProgressModel

    good = write_csv(tmp_path / "good.csv", 1, 1, 100)
    missing = str(tmp_path / "missing.csv")  # refused before the run: its `finish` is in the window
    patched = {"make_view": (loader_module, "make_view"), "finish": (ProgressModel, "finish")}[where]
    original = getattr(*patched)

    def interrupted(*args, **kwargs):
        monkeypatch.setattr(*patched, original)  # once
        raise KeyboardInterrupt

    monkeypatch.setattr(*patched, interrupted)
    # Kept, as IPython keeps the last traceback (sys.last_traceback): its frames keep the run alive.
    with pytest.raises(KeyboardInterrupt) as traceback_kept:
        sl.Loader(conn, table, progress="none").load([str(good.path), missing])

    again = sl.Loader(conn, table, progress="none").load([str(good.path)])  # not ConnectionInUse
    assert traceback_kept.tb is not None
    assert [f.status for f in again.files] == ["loaded"]
    assert table_facts(conn, table) == expected_facts([good])
