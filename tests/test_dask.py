"""Dask DataFrames staged by their workers: a LocalCluster of two worker processes, the embedded server.

One cluster for the module. The workers reach the test process's embedded server over TCP with the
factory `connect_local()` keeps (it pickles), as a real cluster reaches Snowflake with `connect=`.
"""

from __future__ import annotations

import _thread
import functools
import os
import signal
import threading

import numpy as np
import pandas as pd
import pytest

dask = pytest.importorskip("dask", reason="the dask extra: make test installs it")
dd = pytest.importorskip("dask.dataframe", reason="the dask extra: make test installs it")
distributed = pytest.importorskip("distributed")

from snowflake.connector.errors import ProgrammingError  # noqa: E402

import snowload_nb as sl  # noqa: E402
from snowload_nb import sql  # noqa: E402

PARTITIONS = 20


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None, silence_logs=50
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def frame(rows: int = 48_000, partitions: int = PARTITIONS) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "amount": np.round(rng.random(rows) * 1000, 2),
            "Name Text": [f"name {i} ünï" for i in range(rows)],
            "flag": rng.random(rows) < 0.5,
        }
    )


def read_back(conn, table: str, columns: str = '"id", "amount", "Name Text", "flag"') -> pd.DataFrame:
    rows = conn.cursor().execute(f'SELECT {columns} FROM {table} ORDER BY "id"').fetchall()
    return pd.DataFrame(rows, columns=["id", "amount", "Name Text", "flag"])


def count(conn, table: str) -> int:
    return conn.cursor().execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def staged(conn) -> set[str]:
    """What is on the stage now; nothing before the first load made it."""
    try:
        return {row[0] for row in conn.cursor().execute(f"LIST @{sql.QualifiedName.parse(sql.STAGE_NAME).sql}")}
    except ProgrammingError:
        return set()


def settled(client) -> None:
    """Each worker's one thread is done with the task it was running (Dask cannot take back a
    running task): a task sent to every worker after it has run."""
    workers = list(client.scheduler_info()["workers"])
    client.gather([client.submit(int, 0, workers=[w], pure=False, allow_other_workers=False) for w in workers])


def new_table(conn, name: str) -> str:
    table = f"{name}_{os.getpid()}"
    columns = [("id", "NUMBER(38,0)"), ("amount", "FLOAT"), ("Name Text", "VARCHAR"), ("flag", "BOOLEAN")]
    conn.cursor().execute(sql.create_table(sql.QualifiedName.parse(table), columns))
    return table


def test_a_dask_frame_loads_exactly_from_its_workers_and_a_rerun_loads_nothing(client, conn):
    pdf = frame()
    ddf = dd.from_pandas(pdf, npartitions=PARTITIONS)
    table = f"DASK_EXACT_{os.getpid()}"
    loader = sl.Loader(conn, table, create_table=True, progress="none")

    first = loader.load_dataframe(ddf)

    assert first.ok, [f.error for f in first.failed]
    assert (first.unit, len(first.files), first.count("loaded")) == ("partition", PARTITIONS, PARTITIONS)
    assert first.rows_loaded == len(pdf)
    assert {f.path for f in first.files} == {f"DataFrame.partitions[{n}]" for n in range(PARTITIONS)}
    back = read_back(conn, table)
    assert len(back) == len(pdf)
    assert back["id"].sum() == pdf["id"].sum()
    pd.testing.assert_frame_equal(back, pdf, check_dtype=False)

    again = loader.load_dataframe(ddf)

    assert (again.count("skipped"), again.rows_loaded) == (PARTITIONS, 0)
    assert sum(f.staged_bytes for f in again.files) == 0  # nothing uploaded twice
    assert "already loaded" in again.summary()
    assert count(conn, table) == len(pdf)

    # Its record of loads outlives the rows: emptied, then dropped and made again, it loads again.
    for emptied in (
        f"DELETE FROM {sql.QualifiedName.parse(table).sql}",
        f"DROP TABLE {sql.QualifiedName.parse(table).sql}",
    ):
        conn.cursor().execute(emptied)
        remade = loader.load_dataframe(ddf)

        assert (remade.count("loaded"), remade.rows_loaded) == (PARTITIONS, len(pdf)), emptied
        pd.testing.assert_frame_equal(read_back(conn, table), pdf, check_dtype=False)


def test_by_name_into_an_existing_table_truncate_and_overwrite(client, conn):
    table = new_table(conn, "DASK_BY_NAME")
    pdf = frame(6_000)
    shuffled = pdf[["flag", "Name Text", "id", "amount"]]  # the table's columns in another order
    ddf = dd.from_pandas(shuffled, npartitions=PARTITIONS)

    appended = sl.Loader(conn, table, progress="none").load_dataframe(ddf)
    replaced = sl.Loader(conn, table, progress="none", mode="truncate").load_dataframe(ddf)

    assert appended.ok and replaced.ok
    assert replaced.rows_replaced == len(pdf)
    pd.testing.assert_frame_equal(read_back(conn, table), pdf, check_dtype=False)

    other = pd.DataFrame({"id": np.arange(500), "label": [f"l{i}" for i in range(500)]})
    overwritten = sl.Loader(conn, table, progress="none", mode="overwrite").load_dataframe(
        dd.from_pandas(other, npartitions=PARTITIONS)
    )

    assert overwritten.ok and overwritten.rows_replaced == len(pdf)
    rows = conn.cursor().execute(f'SELECT "id", "label" FROM {table} ORDER BY "id"').fetchall()
    assert [(int(i), label) for i, label in rows] == list(zip(range(500), other["label"], strict=True))


def test_the_new_table_has_the_types_of_every_partition_merged(client, conn):
    """`_meta` says integers; one partition holds fractions: the table's column holds them all."""

    def part(n: int) -> pd.DataFrame:
        ids = np.arange(n * 10, n * 10 + 10)
        codes = ids + 0.25 if n == 3 else ids  # Dask does not check a partition against _meta
        return pd.DataFrame({"id": ids, "code": codes})

    meta = pd.DataFrame({"id": pd.Series(dtype="int64"), "code": pd.Series(dtype="int64")})
    ddf = dd.from_map(part, range(PARTITIONS), meta=meta)
    table = f"DASK_TYPES_{os.getpid()}"

    result = sl.Loader(conn, table, create_table=True, progress="none").load_dataframe(ddf)

    assert result.ok, [f.error for f in result.failed]
    types = {row[0]: row[1] for row in conn.cursor().execute(f"DESCRIBE TABLE {table}").fetchall()}
    assert types["code"] == "FLOAT", types
    rows = conn.cursor().execute(f'SELECT "id", "code" FROM {table} ORDER BY "id"').fetchall()
    expected = [(i, i + 0.25 if 30 <= i < 40 else i) for i in range(PARTITIONS * 10)]
    assert [(int(i), float(c)) for i, c in rows] == expected


def test_bytes_load_as_bytes_into_the_binary_column_the_load_makes(client, conn, monkeypatch):
    """Snowflake reads Parquet bytes as text unless COPY says otherwise (BINARY_AS_TEXT): every COPY
    the notebook sends says so, and the rows are the partitions' bytes."""
    statements = []
    build = sql.copy_into

    def recorded(*args, **kwargs):
        statements.append(build(*args, **kwargs))
        return statements[-1]

    monkeypatch.setattr(sql, "copy_into", recorded)  # the notebook's process builds every COPY
    blobs = pd.DataFrame({"id": np.arange(40), "blob": [bytes([i, 255 - i]) + b"cafe" for i in range(40)]})
    table = f"DASK_BYTES_{os.getpid()}"

    with dask.config.set({"dataframe.convert-string": False}):  # Dask would make the bytes str
        ddf = dd.from_pandas(blobs, npartitions=4)

    result = sl.Loader(conn, table, create_table=True, progress="none").load_dataframe(ddf)

    assert result.ok, [f.error for f in result.failed]
    rows = conn.cursor().execute(f'SELECT "id", "blob" FROM {table} ORDER BY "id"').fetchall()
    assert [(int(i), bytes(b)) for i, b in rows] == list(zip(range(40), blobs["blob"], strict=True))
    assert statements and all("BINARY_AS_TEXT = FALSE" in statement for statement in statements)


def _raise_in_partition_7(df: pd.DataFrame, partition_info=None) -> pd.DataFrame:
    if partition_info is not None and partition_info["number"] == 7:
        raise ValueError("bad input in this partition")
    return df


def test_a_partition_that_raises_fails_the_load_naming_it_and_nothing_is_committed(client, conn):
    table = new_table(conn, "DASK_RAISES")
    ddf = dd.from_pandas(frame(6_000), npartitions=PARTITIONS).map_partitions(_raise_in_partition_7)
    before = staged(conn)

    result = sl.Loader(conn, table, progress="none").load_dataframe(ddf)
    settled(client)

    assert not result.ok
    culprit = [f for f in result.failed if "bad input in this partition" in (f.error or "")]
    assert [f.path for f in culprit] == ["DataFrame.partitions[7]"]
    assert "partition 7" in culprit[0].error
    assert result.rows_loaded == 0
    assert count(conn, table) == 0
    assert staged(conn) - before == set()  # nothing left staged, by the load or by a task still running


def test_a_partition_that_cannot_be_converted_fails_the_load_naming_it(client, conn):
    def part(n: int) -> pd.DataFrame:
        values = np.array([1 + 2j, 3j]) if n == 5 else np.array([1.0, 2.0])  # complex: no column holds it
        return pd.DataFrame({"id": [n * 2, n * 2 + 1], "v": values})

    meta = pd.DataFrame({"id": pd.Series(dtype="int64"), "v": pd.Series(dtype="float64")})
    ddf = dd.from_map(part, range(PARTITIONS), meta=meta)
    table = f"DASK_UNCONVERTIBLE_{os.getpid()}"

    result = sl.Loader(conn, table, create_table=True, progress="none").load_dataframe(ddf)

    assert not result.ok and result.rows_loaded == 0
    (culprit,) = [f for f in result.files if "could not be converted" in (f.error or "")]
    assert culprit.path == "DataFrame.partitions[5]"
    assert "partition 5" in culprit.error


def _kill_own_worker_once(df: pd.DataFrame, marker: str = "", partition_info=None) -> pd.DataFrame:
    """The first time partition 9 is computed, its worker process dies (SIGKILL), as a lost machine would."""
    if partition_info is not None and partition_info["number"] == 9:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return df
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)
    return df


def test_a_worker_killed_mid_load_still_ends_with_the_table_exact(client, conn, tmp_path):
    before = staged(conn)
    pdf = frame(12_000)
    marker = str(tmp_path / "killed-once")
    kill = functools.partial(_kill_own_worker_once, marker=marker)
    ddf = dd.from_pandas(pdf, npartitions=PARTITIONS).map_partitions(kill)
    table = f"DASK_KILLED_{os.getpid()}"

    result = sl.Loader(conn, table, create_table=True, progress="none").load_dataframe(ddf)

    assert os.path.exists(marker), "no worker was killed: the test tested nothing"
    assert result.ok, [f.error for f in result.failed]
    pd.testing.assert_frame_equal(read_back(conn, table), pdf, check_dtype=False)
    client.wait_for_workers(2)  # the nanny restarted it, for the next test
    settled(client)
    # Nothing new on the stage: not this load's, nor an earlier test's load that the lost worker
    # had held results of (Dask computes again a key a client still holds; loads let go of theirs).
    assert staged(conn) - before == set()


def test_a_connection_the_workers_cannot_open_is_refused_before_any_work(client, conn):
    table = new_table(conn, "DASK_NO_FACTORY")
    lock = threading.Lock()
    ddf = dd.from_pandas(frame(100), npartitions=2)

    with pytest.raises(sl.LoadError, match="cannot be sent to the Dask workers"):
        sl.Loader(conn, table, progress="none", connect=lambda: (lock, sl.connect_local())).load_dataframe(ddf)

    assert count(conn, table) == 0


def test_events_move_each_partition_forward_once_whatever_their_order():
    """Events and results arrive in no promised order, and a retried partition reports again."""
    from snowload_nb.dask_progress import PartitionProgress
    from snowload_nb.dask_worker import Staged
    from snowload_nb.formatting import header_line
    from snowload_nb.model import FileState, Phase, ProgressModel, Wait

    model = ProgressModel("T", 0, unit="partition")
    rows = {n: model.add_file(f"partition {n}", f"DataFrame.partitions[{n}]", 1) for n in range(3)}
    model.start()
    progress = PartitionProgress(model, rows)

    def event(n, step, worker="tcp://a", **values):
        progress.on_event((0.0, {"partition": n, "step": step, "worker": worker, **values}))

    event(0, "convert")
    event(1, "convert", worker="tcp://b")
    assert "2 workers busy" in header_line(model.snapshot())
    event(0, "converted", bytes=1000)
    event(0, "upload")
    event(0, "part", number=1, bytes=400)
    snap = {f.index: f for f in model.snapshot().active}
    assert (snap[0].size, snap[0].phase) == (1000, Phase.UPLOAD)
    event(0, "convert", worker="tcp://b")  # the same partition run again elsewhere: no step back
    event(0, "converted", worker="tcp://b", bytes=1000)
    assert {f.index: f.phase for f in model.snapshot().active}[0] is Phase.UPLOAD
    # partition 1's result comes before its events: what they would have said is applied at once
    progress.staged(Staged(1, "k1", parts=1, rows=5, nbytes=700))
    event(1, "converted", worker="tcp://b", bytes=700)
    event(0, "staged")
    assert model.snapshot().waiting == {Wait.STAGED: 2}
    assert "0 workers busy" in header_line(model.snapshot())
    model.finish(rows[2], FileState.CANCELLED)
    event(2, "convert")  # after its end: nothing, and no error
    assert model.state_of(rows[2]) is FileState.CANCELLED


def test_the_views_say_partitions(client, conn, monkeypatch):
    import snowload_nb.dask_load as dask_load

    made = []
    make_view = dask_load.make_view
    monkeypatch.setattr(dask_load, "make_view", lambda *a, **k: made.append(make_view(*a, **k)) or made[-1])
    ddf = dd.from_pandas(frame(6_000), npartitions=PARTITIONS)
    table = f"DASK_VIEWS_{os.getpid()}"

    result = sl.Loader(conn, table, create_table=True, progress="widget").load_dataframe(ddf)

    assert result.ok
    (widget,) = made
    assert widget.record_text.startswith(f"Done: 6,000 rows into {table} from {PARTITIONS} partitions")
    assert f"partition {PARTITIONS - 1}" in widget.record_html


def _wait_for_the_test(df: pd.DataFrame, event: str = "") -> pd.DataFrame:
    distributed.Event(event).wait()
    return df


def test_cancel_stops_the_dask_futures_and_commits_nothing(client, conn):
    table = new_table(conn, "DASK_CANCELLED")
    release = distributed.Event(f"release-{os.getpid()}")
    hold = functools.partial(_wait_for_the_test, event=release.name)
    plain = dd.from_pandas(frame(2_000), npartitions=PARTITIONS)
    ddf = plain.map_partitions(hold, meta=plain._meta)  # with meta given, Dask need not call it here
    before = staged(conn)
    try:
        job = sl.Loader(conn, table, progress="none").start_dataframe(ddf)
        assert job.cancel()
        result = job.result(timeout=120)
    finally:
        release.set()  # the workers' threads, blocked in partitions nobody wants, go free
    settled(client)

    assert result.cancelled and result.rows_loaded == 0
    assert {f.status for f in result.files} == {"cancelled"}
    assert count(conn, table) == 0
    assert staged(conn) - before == set()  # the tasks released after the cancel staged nothing


def _started_then_wait(df: pd.DataFrame, started: str = "", release: str = "") -> pd.DataFrame:
    distributed.Event(started).set()
    distributed.Event(release).wait()
    return df


def test_an_interrupt_cancels_the_futures_commits_nothing_and_is_raised_on(client, conn):
    table = new_table(conn, "DASK_INTERRUPTED")
    started = distributed.Event(f"started-{os.getpid()}")
    release = distributed.Event(f"release-interrupt-{os.getpid()}")
    hold = functools.partial(_started_then_wait, started=started.name, release=release.name)
    plain = dd.from_pandas(frame(2_000), npartitions=PARTITIONS)
    ddf = plain.map_partitions(hold, meta=plain._meta)
    loader = sl.Loader(conn, table, progress="none")

    def interrupt_once_running():
        started.wait()  # a partition is running on a worker: the load is under way
        _thread.interrupt_main()

    helper = threading.Thread(target=interrupt_once_running)
    helper.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            loader.load_dataframe(ddf)
    finally:
        helper.join()
        release.set()

    assert loader.last_result.cancelled and loader.last_result.rows_loaded == 0
    assert count(conn, table) == 0


def test_columns_the_table_lacks_fail_every_partition_before_any_work(client, conn):
    table = new_table(conn, "DASK_EXTRA_COLUMN")
    ddf = dd.from_pandas(frame(2_000).assign(extra=1), npartitions=PARTITIONS)

    result = sl.Loader(conn, table, progress="none").load_dataframe(ddf)

    assert result.count("failed") == PARTITIONS and result.rows_loaded == 0
    assert all("extra" in f.error for f in result.files)
    assert sum(f.staged_bytes for f in result.files) == 0
    assert count(conn, table) == 0


def test_a_missing_table_without_create_table_fails_before_any_work(client, conn):
    ddf = dd.from_pandas(frame(100), npartitions=2)

    with pytest.raises(sl.LoadError, match="create_table=True"):
        sl.Loader(conn, f"DASK_MISSING_{os.getpid()}", progress="none").load_dataframe(ddf)


def test_partitions_over_what_the_link_takes_go_up_in_slices_and_load_exactly(client, conn, monkeypatch, tmp_path):
    """For a server elsewhere, a worker cuts each chunk's Parquet to what one PUT can carry over
    the link within the send timeout (here shortened to 0.4 s: slices of 0.5 MB); the table holds
    exactly the frame, and a re-run, whose key is the whole chunks' bytes, loads nothing."""
    from snowflake.connector import storage_client

    from snowload_nb import dask_load

    monkeypatch.setattr(storage_client, "REQUEST_CONNECTION_TIMEOUT", 0.4)
    monkeypatch.setattr(dask_load, "is_loopback", lambda host: False)
    table = new_table(conn, "DASK_SLICED")
    pdf = frame(120_000)
    pdf["amount"] = np.random.default_rng(3).random(len(pdf))  # distinct values: Parquet a chunk cannot shrink
    ddf = dd.from_pandas(pdf, npartitions=2)
    pdf.iloc[:60_000].to_parquet(tmp_path / "one.parquet", index=False)
    assert (tmp_path / "one.parquet").stat().st_size > 2 * 500_000  # each partition goes in several slices
    loader = sl.Loader(conn, table, progress="none")

    first = loader.load_dataframe(ddf)

    assert first.ok, first.summary()
    pd.testing.assert_frame_equal(read_back(conn, table), pdf, check_dtype=False)
    again = loader.load_dataframe(ddf)
    assert (again.count("skipped"), again.rows_loaded) == (2, 0)
    assert count(conn, table) == len(pdf)
