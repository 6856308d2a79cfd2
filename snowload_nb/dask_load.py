"""`load_dataframe` for a Dask DataFrame: each partition staged by the worker that holds it.

The rows never travel to the notebook. Each partition's task (`dask_worker.stage_partition`)
writes it as Parquet chunks and PUTs them from its worker, with a session the worker opens from
the Loader's connection factory; the notebook then COPYs every staged partition in one
transaction (`atomic.copy_all_or_nothing`), so the table gains every row or none. The table's
columns, when this load creates them, are merged from the frame's `_meta` and every partition's
own types. Progress comes from the workers as Dask events (`dask_progress`).

Dask is imported only here, and this module only when `load_dataframe` is given a Dask frame.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pickle
import queue
import secrets
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from . import sql
from .atomic import Replacement, copy_all_or_nothing
from .codec_plan import CodecPicker, is_loopback
from .dask_progress import PartitionProgress
from .dask_worker import UPLOAD, Staged, StageSpec, close_sessions, stage_partition, stop_event_name
from .env import resolve_progress
from .errors import FIX, LoadError, describe
from .frames import prepare as prepare_frame
from .inference import Columns, from_arrow, merge, sql_columns
from .ledger import Ledger
from .local import session_factory
from .matching import plan_columns, read_table_columns
from .model import FileState, Phase, ProgressModel
from .pipeline import LoadPlan, PendingCopy, tidy_stage
from .pipeline import Staged as StagedParts
from .result import LoadResult, titled
from .schema import Refused
from .sessions import SessionPool, exclusive_use
from .sql import Compression, QualifiedName, StagePath
from .views import NullView, View, make_view
from .views.refresher import Refresher
from .watch import server_address

_WAKE_INTERVAL = 0.1  # s: how soon the calling thread notices an interrupt or a cancel
NEEDS_FACTORY = (
    "a Dask DataFrame is loaded by its workers, each opening its own session: pass connect=, a "
    "picklable factory such as functools.partial(snowflake.connector.connect, connection_name='prod')"
)


def begin(loader: Any, ddf: Any, chunk_rows: int | None, background: bool) -> DaskRun:
    """Everything before the workers start, on the calling thread: a bad frame, a missing table,
    a factory the workers cannot receive or no Dask client fail here, before any work."""
    from distributed import default_client

    try:
        client = default_client()
    except ValueError:
        raise LoadError(
            "a Dask DataFrame is loaded on a Dask cluster: create a distributed.Client first "
            "(e.g. Client(LocalCluster()))"
        ) from None
    meta = prepare_frame(ddf._meta)  # names and types refused now, as for any frame
    factory = _worker_factory(loader)
    partitions = ddf.npartitions
    names = list(meta.schema.names)
    with contextlib.ExitStack() as hold:
        hold.enter_context(exclusive_use(loader.conn))
        model = ProgressModel(titled(str(loader.table), loader.mode), 0, unit="partition")
        model.workers_busy(0)  # the header counts the cluster's busy workers, from their reports
        rows = {n: model.add_file(f"partition {n}", f"DataFrame.partitions[{n}]", 1) for n in range(partitions)}
        exists = _prepare_stage(loader)
        refused = None
        if exists and loader.mode != "overwrite":
            refused = _name_problem(loader, names)
        spec = StageSpec(
            connect=factory,
            table=loader.table,
            stage=loader.table.sibling(sql.STAGE_NAME),
            attempt=secrets.token_hex(8),
            topic=f"snowload-{secrets.token_hex(6)}",
            # A table this load makes has loaded nothing yet, whatever a dropped one's record says.
            check_ledger=exists and loader.mode == "append" and not loader.force,
            chunk_rows=chunk_rows,
        )
        threads = sum(client.nthreads().values()) or 1
        spec = dataclasses.replace(spec, part_bytes=_link_part_bytes(loader, threads))
        run = DaskRun(loader, client, ddf, spec, model, rows, meta_columns(meta), hold.pop_all())
    with run.discarded_on_interrupt():
        run.view = make_view(resolve_progress(loader.progress), threads, on_cancel=run.cancel, background=background)
        model.start()
        if refused is not None:
            for i in rows.values():
                model.finish(i, FileState.FAILED, error=refused)
            run.refused = True
    return run


def meta_columns(meta: Any) -> Columns:
    """The frame's columns as its `_meta` types them (a column of objects: no type yet)."""
    return [(f.name, from_arrow(f, "the DataFrame")) for f in meta.schema]


def _worker_factory(loader: Any) -> Any:
    """The factory the workers open sessions with: it must reach them, so it must pickle.

    The message never shows the factory or the pickling error: either may hold credentials.
    """
    factory = loader.connect or session_factory(loader.conn)
    if factory is None:
        raise LoadError(NEEDS_FACTORY)
    try:
        pickle.dumps(factory)
    except Exception:
        try:
            import cloudpickle  # what Dask sends functions with, lambdas included

            cloudpickle.dumps(factory)
        except Exception:
            raise LoadError(
                f"the Loader's connect= ({type(factory).__name__}) cannot be sent to the Dask workers, "
                f"so they cannot open sessions: {NEEDS_FACTORY}"
            ) from None
    return factory


def _link_part_bytes(loader: Any, threads: int) -> int | None:
    """What one worker's PUT can carry within the connector's send timeout over the link to the
    server, as this session knows it (a cold link until a load here has measured it); None for a
    server on this machine. Workers elsewhere may have another link: this is the best guess here."""
    address = server_address(loader.conn)
    if address is None or is_loopback(address[0]):
        return None
    return CodecPicker(None, workers=threads, server=address).part_size(loader.part_bytes)


def _prepare_stage(loader: Any) -> bool:
    """The stage and the ledger, before any partition is uploaded; whether the table exists.

    A missing table fails here unless the load creates it, which it does only once every
    partition has said its types.
    """
    cursor = loader.conn.cursor()
    try:
        try:
            cursor.execute(sql.probe_table(loader.table))
            exists = True
        except Exception as exc:
            if not loader.create_table and loader.mode != "overwrite":
                from .loader import CREATE_TABLE

                raise LoadError(f"cannot load into {loader.table} ({FIX}): {describe(exc)}", CREATE_TABLE) from None
            exists = False
        stage = loader.table.sibling(sql.STAGE_NAME)
        try:
            cursor.execute(sql.create_stage(stage))
            Ledger(loader.table).prepare(cursor)
        except Exception as exc:
            raise LoadError(f"cannot create the stage {stage} or its record of loads: {describe(exc)}") from None
        return exists
    finally:
        cursor.close()


def _has_binary_columns(sessions: SessionPool, table: QualifiedName) -> bool:
    """Whether the table has BINARY columns, which the partitions' bytes must load into as bytes;
    a table whose columns cannot be read fails its COPY with the reason."""
    try:
        with sessions.cursor() as cursor:
            return any(column.binary for column in read_table_columns(cursor, table))
    except Exception:
        return False


def _name_problem(loader: Any, names: list[str]) -> str | None:
    """Why the frame's columns do not load into the existing table by name, or None."""
    cursor = loader.conn.cursor()
    try:
        table = read_table_columns(cursor, loader.table)
    except Exception as exc:
        raise LoadError(f"cannot read the columns of {loader.table}: {describe(exc)}") from None
    finally:
        cursor.close()
    try:
        plan_columns(names, table, loader.extra_columns)
    except Refused as exc:
        return str(exc)
    return None


class DaskRun:
    """One Dask load, from submitting the partitions to its result; `execute` blocks."""

    def __init__(
        self,
        loader: Any,
        client: Any,
        ddf: Any,
        spec: StageSpec,
        model: ProgressModel,
        rows: dict[int, int],
        meta: Columns,
        hold: contextlib.ExitStack,
    ) -> None:
        self.loader = loader
        self.client = client
        self.ddf = ddf
        self.spec = spec
        self.model = model
        self.rows = rows  # partition -> the model's row
        self.meta = meta
        self.view: View = NullView()
        self.refused = False  # the frame's columns do not match the table's: nothing to run
        self.interrupted = False
        self._hold = hold
        self._cancel = threading.Event()
        self._cancelled_by_user = False
        self._futures: list[Any] = []
        self._progress = PartitionProgress(model, rows)
        self._uploading: set[str] = set()  # partitions' keys whose worker began to stage them

    @contextlib.contextmanager
    def discarded_on_interrupt(self) -> Any:
        """Before `execute`, an error or interrupt leaves the connection free and the view closed."""
        try:
            yield
        except BaseException:
            self._hold.close()
            self.model.end(cancelled=True)
            self.view.close(self.model.snapshot())
            raise

    def cancel(self) -> None:
        """Nothing more is staged or committed; the partitions' Dask futures are cancelled."""
        self._cancelled_by_user = True
        self._cancel.set()

    def execute(self) -> LoadResult:
        replacement: Replacement | None = None
        refresher = Refresher(self.model, self.view).start()
        try:
            with self._hold:
                if not self.refused:
                    replacement = self._load()
        except KeyboardInterrupt:
            self.interrupted = True
            self._cancel.set()
        finally:
            refresher.stop()
            self._end_unfinished()
            replaced = replacement.rows_replaced if replacement is not None else None
            if replaced is not None:
                self.model.table = titled(str(self.loader.table), self.loader.mode, replaced)
            self.model.workers_busy(0)
            self.model.end(cancelled=self._cancel.is_set())
            final = self.model.snapshot()
            self.view.close(final)
        result = LoadResult.build(
            str(self.loader.table), self.model.files(), final.elapsed, final.state, final.unit, final.timeline
        )
        return dataclasses.replace(result, mode=self.loader.mode, rows_replaced=replaced)

    def _load(self) -> Replacement | None:
        """Stage every partition on the workers, then COPY them all in one transaction."""
        staged = self._stage_all()
        pending, failed = self._pending(staged)
        if self._cancel.is_set() or failed:
            self._tidy(pending)
            self._end_pending(pending, failed)
            return None
        workdir = Path(tempfile.mkdtemp(prefix="snowload-dask-"))
        try:
            with contextlib.closing(SessionPool(self.loader.conn, 1, factory=self.loader.connect)) as sessions:
                try:
                    replacement = self.loader._prepare_target(lambda: self._columns(staged)).replacement
                except LoadError as exc:
                    self._tidy(pending)
                    for item in pending:
                        self.model.finish(item.index, FileState.FAILED, error=f"not loaded: {exc}")
                    return None
                target = self.loader.table if replacement is None else replacement.target
                plan = LoadPlan(
                    table=target,
                    stage=self.spec.stage,
                    workdir=workdir,
                    attempt=self.spec.attempt,
                    compression_level=None,
                    part_size=1,
                    force=self.loader.force or replacement is not None,
                    defer_copy=True,
                    binary_columns=_has_binary_columns(sessions, target),
                )
                try:
                    copy_all_or_nothing(pending, [], plan, self.model, sessions, self._cancel, replacement)
                    # It takes an interrupt during its COPY as a cancel of its own: raised on, once settled.
                    if self._cancel.is_set() and not self._cancelled_by_user:
                        self.interrupted = True
                finally:
                    if replacement is not None:
                        replacement.settle(sessions, plan)
                return replacement
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _stage_all(self) -> dict[int, Staged]:
        """Run every partition's task, following the events, until all end or the load stops."""
        from dask import delayed

        done: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        tasks = [
            delayed(stage_partition, pure=False)(part, n, self.spec, dask_key_name=f"snowload-{n}-{self.spec.attempt}")
            for n, part in enumerate(self.ddf.to_delayed())
        ]
        self.client.subscribe_topic(self.spec.topic, self._on_event)
        staged: dict[int, Staged] = {}
        try:
            self._futures = self.client.compute(tasks)
            for n, future in enumerate(self._futures):
                future.add_done_callback(lambda f, n=n: done.put((n, f)))
            left = len(self._futures)
            while left and not self._cancel.is_set():
                try:
                    n, future = done.get(timeout=_WAKE_INTERVAL)
                except queue.Empty:
                    continue
                left -= 1
                outcome = self._outcome(n, future)
                if outcome is not None:
                    staged[n] = outcome
        except KeyboardInterrupt:
            self.interrupted = True
            self._cancel.set()
        finally:
            if self._cancel.is_set() or len(staged) < len(self._futures):
                self._stop_tasks()
            with contextlib.suppress(Exception):
                self.client.unsubscribe_topic(self.spec.topic)
            with contextlib.suppress(Exception):
                self.client.run(close_sessions, self.spec.attempt)
            # Let go of the tasks: a key the client still holds is computed again when the worker
            # holding its result dies, so a later load's lost worker would stage this load's
            # partitions anew, long after this load ended.
            for future in self._futures:
                with contextlib.suppress(Exception):
                    future.release()
            self._futures = []
        return staged

    def _on_event(self, event: Any) -> None:
        _, message = event
        if isinstance(message, dict) and message.get("step") == UPLOAD and "key" in message:
            self._uploading.add(str(message["key"]))
        self._progress.on_event(event)

    def _stop_tasks(self) -> None:
        """Tell the tasks to stage nothing more (those Dask cannot take back check it), then cancel."""
        from distributed import Event

        with contextlib.suppress(Exception):
            Event(stop_event_name(self.spec.attempt), client=self.client).set()
        self.client.cancel(self._futures)

    def _outcome(self, n: int, future: Any) -> Staged | None:
        """A finished task: staged, already loaded, empty, or failed (then the load stops)."""
        i = self.rows[n]
        if future.status != "finished":
            self._progress.ended(n)
            if future.status == "cancelled":
                return None
            why = f"partition {n} failed: {describe(future.exception())}"
            self._fail(i, why)
            return None
        result: Staged = future.result()
        if result.error is not None:
            self._progress.ended(n)
            self._fail(i, result.error)
            return None
        self._progress.staged(result)
        if result.already_loaded:
            self.model.finish(i, FileState.SKIPPED)
        elif not result.parts:
            for phase in (Phase.COMPRESS, Phase.UPLOAD, Phase.COPY):
                self.model.begin(i, phase)
                self.model.complete(i, phase)
            self.model.finish(i, FileState.LOADED, rows=0)
        return result

    def _fail(self, i: int, why: str) -> None:
        """A partition failed: the load is all or nothing, so the others need not go on."""
        self.model.finish(i, FileState.FAILED, error=why)
        self._stop_tasks()

    def _pending(self, staged: dict[int, Staged]) -> tuple[list[PendingCopy], list[str]]:
        pending = [
            PendingCopy(
                self.rows[n],
                _PartitionSource(s.key, f"partition {n}"),
                StagePath(self.spec.stage, s.key).child(self.spec.attempt),
                StagedParts(Compression.NONE, s.parts),
            )
            for n, s in sorted(staged.items())
            if s.parts and not s.already_loaded
        ]
        failed = [f.name for f in self.model.files() if f.state is FileState.FAILED]
        return pending, failed

    def _columns(self, staged: dict[int, Staged]) -> list[tuple[str, str]]:
        """The new table's columns: the frame's `_meta`, widened by what every partition holds."""
        columns = sql_columns(merge([self.meta, *(list(s.columns) for s in staged.values() if s.columns)]))
        self.model.created = tuple(columns)
        return columns

    def _tidy(self, pending: list[PendingCopy]) -> None:
        """Remove what this attempt staged of partitions that will not be copied: those staged, and
        those whose worker had begun (a task still uploading removes its own once it sees the stop)."""
        plan = LoadPlan(self.loader.table, self.spec.stage, Path(), self.spec.attempt, None, 1)
        keys = {item.source.key for item in pending} | self._uploading
        with contextlib.closing(SessionPool(self.loader.conn, 1, factory=self.loader.connect)) as sessions:
            for key in sorted(keys):
                tidy_stage(_PartitionSource(key, key), False, sessions, plan)

    def _end_pending(self, pending: list[PendingCopy], failed: list[str]) -> None:
        if self._cancel.is_set():
            state, why = FileState.CANCELLED, "not loaded: the load was cancelled"
        else:
            state, why = FileState.FAILED, f"not loaded: the load is all or nothing and {failed[0]} failed"
        for item in pending:
            self.model.finish(item.index, state, error=why)

    def _end_unfinished(self) -> None:
        """Partitions still running when the load stopped: cancelled, or not loaded for a failure."""
        failed = [f.name for f in self.model.files() if f.state is FileState.FAILED]
        for n, i in self.rows.items():
            if self.model.state_of(i).terminal:
                continue
            self._progress.ended(n)
            if failed and not self._cancel.is_set():
                self.model.finish(i, FileState.CANCELLED, error=f"not loaded: {failed[0]} failed")
            else:
                self.model.finish(i, FileState.CANCELLED, error="not loaded: the load was cancelled")


@dataclasses.dataclass(frozen=True)
class _PartitionSource:
    """A staged partition as the COPY step sees a source: a key, a name, Parquet."""

    key: str
    name: str
    format: sql.FileFormat = sql.FileFormat.PARQUET
    compression: Compression = Compression.NONE
