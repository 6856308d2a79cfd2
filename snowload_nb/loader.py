"""`Loader`: many files, a thread pool, one progress model, one view, and a result at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from . import sql
from .atomic import copy_all_or_nothing
from .compress import DEFAULT_LEVEL, level_range
from .env import resolve_progress, validate_progress
from .errors import LoadError, describe
from .frames import prepare as prepare_frame
from .job import LoadJob
from .model import FileState, ProgressModel
from .pipeline import NOT_STARTED, LoadPlan, PendingCopy, Source, load_file
from .result import LoadResult
from .schema import infer_columns
from .sessions import SessionPool
from .sources import InputProblem, SourceFile, expand
from .sql import FileFormat, QualifiedName
from .views import NullView, View, make_view
from .views.refresher import Refresher

COMPRESSIONS = ("gzip", "none")
FORMATS = ("auto", "csv", "parquet")
# Snowflake loads files of 100-250 MB compressed in parallel best; a part is cut once its
# staged (compressed) size reaches this.
DEFAULT_PART_SIZE_MB = 100
_WAKE_INTERVAL = 0.1  # s: how soon the calling thread notices an interrupt

Paths = Iterable[str | os.PathLike[str]] | str | os.PathLike[str]


class Loader:
    """Loads local CSV and Parquet files into one Snowflake table, `workers` files at a time.

    `conn` is any `snowflake.connector` connection (or one from `connect_local()`); `connect`,
    a zero-argument factory, gives every worker a session of its own instead of sharing `conn`.
    """

    def __init__(
        self,
        conn: Any,
        table: str,
        *,
        workers: int = 4,
        progress: str = "auto",
        create_table: bool = False,
        connect: Callable[[], Any] | None = None,
        format: str = "auto",
        compression: str = "gzip",
        compression_level: int = DEFAULT_LEVEL,
        part_size_mb: float = DEFAULT_PART_SIZE_MB,
        force: bool = False,
        atomic: bool = False,
        retries: int = 2,
        retry_delay: float = 0.5,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, not {workers!r}")
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {', '.join(COMPRESSIONS)}; got {compression!r}")
        if compression_level not in level_range():
            raise ValueError(f"compression_level must be in {level_range()}, not {compression_level!r}")
        if isinstance(part_size_mb, bool) or not isinstance(part_size_mb, (int, float)) or not part_size_mb > 0:
            raise ValueError(f"part_size_mb must be a positive number, not {part_size_mb!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an integer >= 0, not {retries!r}")
        if not isinstance(retry_delay, (int, float)) or retry_delay < 0:
            raise ValueError(f"retry_delay must be a number of seconds >= 0, not {retry_delay!r}")
        if connect is not None and not callable(connect):
            raise ValueError("connect must be a zero-argument callable that opens a connection")
        self.conn = conn
        self.table = QualifiedName.parse(table)
        self.workers = workers
        self.progress = validate_progress(progress)
        self.create_table = create_table
        self.connect = connect
        self.format = format
        self.compression = compression
        self.compression_level = compression_level
        self.part_size_mb = part_size_mb
        self.force = force
        self.atomic = atomic
        self.retries = retries
        self.retry_delay = retry_delay
        self.last_result: LoadResult | None = None

    def __repr__(self) -> str:
        return f"Loader(table={str(self.table)!r}, workers={self.workers}, progress={self.progress!r})"

    def load(self, paths: Paths) -> LoadResult:
        """Load files, globs and folders; block until done. Interrupt cancels and returns what loaded."""
        result = self._begin(paths, background=False).execute()
        self.last_result = result
        return result

    def start(self, paths: Paths) -> LoadJob:
        """Start loading in the background and return at once; the progress view stays live."""
        return LoadJob(self._begin(paths, background=True), on_result=self._remember)

    def _remember(self, result: LoadResult) -> None:
        self.last_result = result

    def load_dataframe(self, data: Any, *, chunk_rows: int | None = None) -> LoadResult:
        """Load a pandas DataFrame, pyarrow Table or polars DataFrame; block until done.

        The frame goes up as Parquet chunks (`chunk_rows` rows each; by default about 16 MB of
        memory each), shown as files in the views, and loads all or nothing. Its columns are
        matched to the table's by name; `create_table=True` creates the table from its schema,
        names kept exactly.
        """
        if chunk_rows is not None and (
            isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1
        ):
            raise ValueError(f"chunk_rows must be an integer >= 1, not {chunk_rows!r}")
        frame = prepare_frame(data)
        model = ProgressModel(str(self.table), self.workers, unit="chunk")
        sources: list[tuple[int, Source]] = [
            (model.add_file(c.name, c.given, c.size), c) for c in frame.chunks(chunk_rows)
        ]
        if sources or self.create_table:
            self._prepare_target(frame.columns)
        result = self._start_run(model, sources, atomic=True, background=False).execute()
        self.last_result = result
        return result

    def _begin(self, paths: Paths, background: bool) -> _Run:
        """Everything that must happen on the calling thread: inputs, target, and the view."""
        entries = expand(paths, None if self.format == "auto" else FileFormat(self.format))
        model = ProgressModel(str(self.table), self.workers)
        indexed = [(model.add_file(_display_name(e), e.given, _size(e)), e) for e in entries]
        sources: list[tuple[int, Source]] = [(i, e) for i, e in indexed if isinstance(e, SourceFile)]
        if sources:
            first = sources[0][1]
            self._prepare_target(lambda: infer_columns(first))
        run = self._start_run(model, sources, atomic=self.atomic, background=background)
        for i, e in indexed:
            if isinstance(e, InputProblem):
                model.finish(i, FileState.FAILED, error=e.reason)
        return run

    def _start_run(
        self, model: ProgressModel, sources: list[tuple[int, Source]], atomic: bool, background: bool
    ) -> _Run:
        run = _Run(self, model, sources, atomic)
        run.view = make_view(resolve_progress(self.progress), self.workers, on_cancel=run.cancel, background=background)
        model.start()
        return run

    def _sessions(self) -> SessionPool:
        return SessionPool(self.conn, self.workers, factory=self.connect)

    def _prepare_target(self, columns: Callable[[], list[tuple[str, str]]]) -> None:
        """Create the stage, and the table if asked and missing; fail early if the table is missing.

        The table is created only when the probe says it is not there: a CREATE on an existing
        table, even IF NOT EXISTS, makes the embedded server forget the table's load history.
        """
        stage = self.table.sibling(sql.STAGE_NAME)
        cursor = self.conn.cursor()
        try:
            try:
                _execute(
                    cursor,
                    sql.probe_table(self.table),
                    f"cannot load into {self.table} (pass create_table=True to create it from the first file)",
                )
            except LoadError:
                if not self.create_table:
                    raise
                _execute(cursor, sql.create_table(self.table, columns()), f"cannot create table {self.table}")
            _execute(cursor, sql.create_stage(stage), f"cannot create the stage {stage}")
        finally:
            cursor.close()


class _Run:
    """One load from its first file to its result; `execute` runs on the calling or a job thread."""

    def __init__(self, loader: Loader, model: ProgressModel, sources: list[tuple[int, Source]], atomic: bool) -> None:
        self.loader = loader
        self.model = model
        self.sources = sources
        self.atomic = atomic
        self.view: View = NullView()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Nothing new starts; running files stop at their next chunk."""
        self._cancel.set()

    def execute(self) -> LoadResult:
        interrupted = False
        try:
            interrupted = self._pool()
        finally:
            self.model.end(cancelled=interrupted or self._cancel.is_set())
            final = self.model.snapshot()
            self.view.close(final)
        files = self.model.files()
        return LoadResult.build(str(self.loader.table), files, final.elapsed, final.state, final.unit, final.timeline)

    def _pool(self) -> bool:
        """Run the files on the pool with the refresher drawing; True if cancelled."""
        loader, model, cancel = self.loader, self.model, self._cancel
        refresher = Refresher(model, self.view).start()
        try:
            if not self.sources:
                return False
            with _private_workdir() as workdir, contextlib.closing(loader._sessions()) as sessions:
                plan = LoadPlan(
                    table=loader.table,
                    stage=loader.table.sibling(sql.STAGE_NAME),
                    workdir=workdir,
                    compression_level=loader.compression_level if loader.compression == "gzip" else None,
                    part_size=round(loader.part_size_mb * 1_000_000),
                    force=loader.force,
                    retries=loader.retries,
                    retry_delay=loader.retry_delay,
                    defer_copy=self.atomic,
                )
                uploads = ThreadPoolExecutor(loader.workers, thread_name_prefix="snowload-upload")
                executor = ThreadPoolExecutor(loader.workers, thread_name_prefix="snowload-worker")
                futures: list[Future[PendingCopy | None]] = []
                try:
                    # Largest first: a big file started last would finish long after the others.
                    for i, source in sorted(self.sources, key=lambda entry: entry[1].size, reverse=True):
                        futures.append(executor.submit(load_file, i, source, plan, model, sessions, uploads, cancel))
                    # In short waits: an interrupt's signal may land on a worker thread, and the
                    # calling thread, where Python raises KeyboardInterrupt, only sees it once it wakes.
                    while wait(futures, timeout=_WAKE_INTERVAL).not_done:
                        pass
                except KeyboardInterrupt:
                    cancel.set()
                finally:
                    _shutdown(executor, cancel)
                    _shutdown(uploads, cancel)
                if self.atomic:
                    pending = [p for f in futures if not f.cancelled() and (p := f.result()) is not None]
                    failed = [f.name for f in model.files() if f.state is FileState.FAILED]
                    copy_all_or_nothing(pending, failed, plan, model, sessions, cancel)
                for i, _ in self.sources:
                    if model.state_of(i) is FileState.QUEUED:
                        model.finish(i, FileState.CANCELLED, error=NOT_STARTED)
            return cancel.is_set()
        finally:
            refresher.stop()


def _execute(cursor: Any, statement: str, context: str) -> None:
    try:
        cursor.execute(statement)
    except Exception as exc:
        raise LoadError(f"{context}: {describe(exc)}") from None


def _shutdown(executor: ThreadPoolExecutor, cancel: threading.Event) -> None:
    """Wait for running files to stop; a second interrupt only hurries them, never abandons them."""
    while True:
        try:
            executor.shutdown(wait=True, cancel_futures=cancel.is_set())
            return
        except KeyboardInterrupt:
            cancel.set()


@contextlib.contextmanager
def _private_workdir() -> Iterator[Path]:
    """A 0700 folder for compressed files, removed whatever happens."""
    path = Path(tempfile.mkdtemp(prefix="snowload-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _display_name(entry: SourceFile | InputProblem) -> str:
    return entry.name if isinstance(entry, SourceFile) else (Path(entry.given).name or entry.given)


def _size(entry: SourceFile | InputProblem) -> int:
    return entry.size if isinstance(entry, SourceFile) else 0
