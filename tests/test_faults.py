"""Faults: network failures retried or failing one file, the server going away, interrupts in each phase."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from conftest import Interceptor, connect_with, expected_facts, leftover_threads, table_facts
from snowflake.connector.errors import OperationalError

import snowload_nb as sl
import snowload_nb.local as local
from snowload_nb.demo import generate_files
from snowload_nb.model import Phase, ProgressModel
from snowload_nb.pipeline import stage_key


def verb(statement):
    return statement.split()[0].upper()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return generate_files(tmp_path_factory.mktemp("faults"), [200_000, 400_000, 600_000, 800_000, 1_000_000, 300_000])


def paths(files):
    return [str(f.path) for f in files]


@pytest.fixture
def file_by_file(monkeypatch):
    """Every file through the per-file pipeline, as a big file goes: no batches."""
    import snowload_nb.batches as batches

    monkeypatch.setattr(batches, "FILE_MAX", 0)


@pytest.mark.parametrize("batched", [False, True], ids=["file-by-file", "batched"])
def test_a_transient_put_or_copy_failure_is_retried_and_the_load_succeeds(conn, table, files, batched, request):
    if not batched:
        request.getfixturevalue("file_by_file")
    statements = 1 if batched else len(files)  # the six small files share one batch
    failures = {"PUT": 1, "COPY": 1}
    seen = []

    def fail_first_attempts(statement):
        seen.append(verb(statement))
        if failures.get(verb(statement), 0) > 0:
            failures[verb(statement)] -= 1
            raise OperationalError(msg="simulated: connection reset by peer", errno=254007)

    result = sl.Loader(
        conn, table, workers=3, progress="none", connect=Interceptor(fail_first_attempts), retry_delay=0.01
    ).load(paths(files))

    assert result.ok, result.files
    assert failures == {"PUT": 0, "COPY": 0}
    assert seen.count("PUT") == statements + 1 and seen.count("COPY") == statements + 1
    assert table_facts(conn, table) == expected_facts(files)


def test_a_permanent_failure_fails_that_file_only(conn, table, files, file_by_file):
    doomed = files[2]
    doomed_key = stage_key(sl.loader.expand([str(doomed.path)])[0])

    def fail_one_file(statement):
        if verb(statement) == "COPY" and doomed_key in statement:
            raise OperationalError(msg="simulated: the warehouse is unreachable", errno=250003)

    loader = sl.Loader(
        conn, table, workers=3, progress="none", connect=Interceptor(fail_one_file), retries=2, retry_delay=0.01
    )
    result = loader.load(paths(files))

    statuses = [(f.status, f.error) for f in result.files]
    assert statuses[2] == ("failed", "simulated: the warehouse is unreachable")
    assert [s for i, s in enumerate(statuses) if i != 2] == [("loaded", None)] * (len(files) - 1)
    assert table_facts(conn, table) == expected_facts([f for f in files if f is not doomed])


# With the default settings, as a user has them. No filter for unhandled thread exceptions: the
# connector's query-cancel timer must not print a traceback either.
def test_the_server_going_away_fails_the_rest_in_bounded_time(tmp_path, files, private_tmp, file_by_file):
    server = local._EmbeddedServer(None)
    server.start()
    kwargs = server.connect_kwargs()
    setup = connect_with(kwargs)
    from snowload_nb import sql
    from snowload_nb.demo import DEMO_COLUMNS

    setup.cursor().execute(sql.create_table(sql.QualifiedName.parse("GONE"), DEMO_COLUMNS))
    copies = []

    def stop_after_the_first_copy(statement):
        if verb(statement) == "COPY":
            copies.append(statement)
            if len(copies) == 2:
                server.stop()  # the first COPY went through; from now on nobody answers

    job = sl.Loader(
        setup,
        "GONE",
        workers=1,  # so the first file's transaction has committed before the server stops
        progress="none",
        connect=Interceptor(stop_after_the_first_copy, kwargs),
        retry_delay=0.01,
    ).start(paths(files))
    result = job.wait(timeout=240)

    assert result is not None, "the load did not end after the server went away"
    statuses = [f.status for f in result.files]
    assert statuses.count("loaded") == 1
    assert statuses.count("failed") == len(files) - 1
    errors = [f.error for f in result.files if f.status == "failed"]
    assert all(e for e in errors)
    assert any("not tried: the server stopped answering" in e for e in errors)
    assert list(private_tmp.iterdir()) == []
    assert leftover_threads() == []


@pytest.fixture
def ctrl_c_raises():
    """Python's own SIGINT handler, as in a terminal or a kernel: a process started in the
    background by a non-interactive shell inherits SIGINT ignored, and would never see it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("phase", ["compress", "upload", "copy"])
def test_an_interrupt_in_any_phase_cancels_cleanly(conn, table, files, private_tmp, monkeypatch, phase, ctrl_c_raises):
    interrupted = threading.Event()

    def interrupt():
        if not interrupted.is_set():
            interrupted.set()
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C or the notebook's Interrupt does

    if phase == "compress":
        advance = ProgressModel.advance

        def advance_then_interrupt(model, index, which, nbytes):
            advance(model, index, which, nbytes)
            if which is Phase.COMPRESS:
                interrupt()

        monkeypatch.setattr(ProgressModel, "advance", advance_then_interrupt)
        connect = None
    else:
        wanted = {"upload": "PUT", "copy": "COPY"}[phase]

        def interrupt_at(statement):
            if verb(statement) == wanted:
                interrupt()

        connect = Interceptor(interrupt_at)

    loader = sl.Loader(conn, table, workers=2, progress="none", connect=connect)
    with pytest.raises(KeyboardInterrupt):  # once the load has wound down, the caller stops too
        loader.load(paths(files))
    result = loader.last_result

    assert interrupted.is_set()
    assert result.cancelled and not result.ok
    statuses = {f.status for f in result.files}
    assert "cancelled" in statuses and statuses <= {"loaded", "cancelled"}, [(f.status, f.error) for f in result.files]
    loaded = [g for g, f in zip(files, result.files, strict=True) if f.status == "loaded"]
    assert table_facts(conn, table) == expected_facts(loaded)  # whole files only
    assert result.rows_loaded == sum(g.rows for g in loaded)
    assert list(private_tmp.iterdir()) == []
    assert leftover_threads() == []
