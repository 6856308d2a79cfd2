"""`LoadJob` is a `concurrent.futures.Future`: the standard library's tools work on it.

A job is held "running" by a gate: a real session to the embedded server whose PUT waits on an
Event until the test opens it, so nothing here depends on how fast a load is.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pandas as pd
import pytest
from conftest import Interceptor, table_facts

import snowload_nb as sl
from snowload_nb.demo import write_csv
from snowload_nb.job import LoadJob

WAIT = 120  # s: only a hung load takes this long


class Gate:
    """Holds every PUT until `open()`; `reached` is set once a PUT waits, so the job is running."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self._open = threading.Event()

    def __call__(self, statement: str) -> None:
        if statement.split()[0].upper() == "PUT":
            self.reached.set()
            assert self._open.wait(WAIT), "the test never opened the gate"

    def open(self) -> None:
        self._open.set()


@pytest.fixture
def small(tmp_path):
    return write_csv(tmp_path / "small.csv", 0, 1, 500)


@pytest.fixture
def other_conn(server):
    """A second connection: one connection carries one load at a time."""
    session = sl.connect_local()
    yield session
    session.close()


def running_job(conn, table, path, gate: Gate) -> LoadJob:
    job = sl.Loader(conn, table, progress="none", connect=Interceptor(gate)).start([str(path)])
    assert gate.reached.wait(WAIT)
    return job


def test_a_job_is_a_future(conn, table, small):
    job = sl.Loader(conn, table, progress="none").start([str(small.path)])

    assert isinstance(job, concurrent.futures.Future)
    assert job.result(timeout=WAIT).ok
    assert job.done() and not job.running() and not job.cancelled()
    assert job.exception() is None


def test_futures_wait_and_as_completed_take_jobs(conn, other_conn, table, small, tmp_path):
    second = write_csv(tmp_path / "second.csv", 1, 1_000, 300)
    jobs = [
        sl.Loader(conn, table, progress="none").start([str(small.path)]),
        sl.Loader(other_conn, table, progress="none").start([str(second.path)]),
    ]

    done, not_done = concurrent.futures.wait(jobs, timeout=WAIT)
    assert done == set(jobs) and not not_done
    finished = list(concurrent.futures.as_completed(jobs, timeout=WAIT))
    assert set(finished) == set(jobs) and len(finished) == 2
    assert [j.result().ok for j in jobs] == [True, True]
    assert table_facts(conn, table)[0] == small.rows + second.rows


def test_as_completed_yields_a_job_as_it_ends(conn, other_conn, table, small, tmp_path):
    """The held job comes second: as_completed hands over the free one first."""
    gate = Gate()
    held = running_job(conn, table, small.path, gate)
    free = sl.Loader(other_conn, table, progress="none").start([str(write_csv(tmp_path / "f.csv", 1, 9_000, 10).path)])

    ended = concurrent.futures.as_completed([held, free], timeout=WAIT)
    assert next(ended) is free
    gate.open()
    assert next(ended) is held
    assert held.result().ok


def test_a_coroutine_awaits_a_job_through_wrap_future(conn, table, small):
    job = sl.Loader(conn, table, progress="none").start([str(small.path)])

    async def cell() -> sl.LoadResult:
        return await asyncio.wrap_future(job)

    result = asyncio.run(asyncio.wait_for(cell(), WAIT))
    assert result is job.result() and result.ok and result.rows_loaded == small.rows


def test_result_with_a_timeout_raises_timeout_error_while_running(conn, table, small):
    gate = Gate()
    job = running_job(conn, table, small.path, gate)
    try:
        assert job.running() and not job.done()
        with pytest.raises(TimeoutError):
            job.result(timeout=0.01)
        with pytest.raises(TimeoutError):
            job.exception(timeout=0.01)
        with pytest.raises(TimeoutError):
            job.wait(timeout=0.01)  # the alias behaves the same
    finally:
        gate.open()
    assert job.result(timeout=WAIT).ok


def test_a_done_callback_is_called_once_with_the_job(conn, table, small):
    gate = Gate()
    job = running_job(conn, table, small.path, gate)
    calls: list[concurrent.futures.Future] = []
    called = threading.Event()

    def on_done(future: concurrent.futures.Future) -> None:
        calls.append(future)
        called.set()

    job.add_done_callback(on_done)
    assert calls == []  # not before the job ends
    gate.open()
    assert called.wait(WAIT)
    job.result()
    assert calls == [job]

    late: list[concurrent.futures.Future] = []
    job.add_done_callback(late.append)  # on an ended job: at once, on this thread
    assert late == [job] and calls == [job]


def test_cancel_is_true_on_a_running_job_and_false_on_an_ended_one(conn, table, small):
    gate = Gate()
    job = running_job(conn, table, small.path, gate)

    assert job.cancel() is True
    gate.open()
    result = job.result(timeout=WAIT)
    assert result.cancelled and result.files[0].status == "cancelled"
    assert not job.cancelled()  # a cancelled load still has a result: the job ends with it
    assert job.cancel() is False


def test_a_job_re_raises_what_stopped_its_load():
    class Failing:
        def execute(self) -> sl.LoadResult:
            raise sl.LoadError("the stage went away")

        def cancel(self) -> None:
            pass

    job = LoadJob(Failing())

    with pytest.raises(sl.LoadError, match="the stage went away"):
        job.result(timeout=WAIT)
    assert isinstance(job.exception(), sl.LoadError)
    with pytest.raises(sl.LoadError):
        job.wait()
    assert repr(job) == "<LoadJob failed>"


def test_start_dataframe_loads_in_the_background(conn, table):
    frame = pd.DataFrame({"ID": range(1, 101), "NAME": [f"n{i}" for i in range(100)]})
    loader = sl.Loader(conn, table + "_DF", progress="none", create_table=True)

    job = loader.start_dataframe(frame, chunk_rows=40)

    assert isinstance(job, LoadJob)
    result = job.result(timeout=WAIT)
    assert result.ok and result.unit == "chunk" and result.rows_loaded == 100 and len(result.files) == 3
    assert loader.last_result is result
    # what the chunks report is the Parquet bytes staged, not an in-memory estimate
    assert all(f.source_bytes == f.staged_bytes > 0 for f in result.files)


def test_start_dataframe_raises_a_bad_frame_at_once(conn, table):
    with pytest.raises(sl.FrameError):
        sl.Loader(conn, table, progress="none").start_dataframe(pd.DataFrame())


def test_the_views_count_a_chunks_parquet_bytes(conn, table, monkeypatch):
    """The bars' totals, like the result, are the Parquet bytes staged, not in-memory estimates."""
    from snowload_nb import loader as loader_module
    from snowload_nb.views import NullView

    finals = []

    class Keeping(NullView):
        def close(self, snapshot) -> None:
            finals.append(snapshot)

    monkeypatch.setattr(loader_module, "make_view", lambda *args, **kwargs: Keeping())
    frame = pd.DataFrame({"ID": range(1, 1001), "NAME": ["same"] * 1000})
    result = sl.Loader(conn, table + "_PQ", progress="none", create_table=True).load_dataframe(frame, chunk_rows=300)

    assert result.ok
    staged = sum(f.staged_bytes for f in result.files)
    assert finals[0].bytes_total == staged == sum(f.source_bytes for f in result.files)
