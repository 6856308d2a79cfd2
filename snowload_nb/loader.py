"""`Loader`: many files, a thread pool, one progress model, one view, and a result at the end."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import sql
from .atomic import MODES, Replacement, copy_all_or_nothing
from .batches import batch_limit, load_batch, plan_batches
from .codec_choice import NONE, gzip, zstd
from .codec_plan import CodecPicker, is_loopback, with_codecs
from .compress import DEFAULT_LEVEL, ZSTD_DEFAULT_LEVEL, levels
from .env import resolve_progress, validate_progress
from .errors import FIX, Cancelled, Fix, LoadError, describe
from .frames import is_dask
from .frames import prepare as prepare_frame
from .inference import Columns, merge, sql_columns
from .job import LoadJob
from .ledger import Ledger
from .matching import EXTRA_COLUMNS, ColumnPlan, TableColumn, plan_columns, read_table_columns
from .model import FileState, ProgressModel
from .options import (
    COMPRESSIONS,
    DEFAULT_PART_SIZE_MB,
    FORMATS,
    MAX_WORKERS,
    MIN_PART_SIZE_MB,
)
from .pipeline import (
    NOT_STARTED,
    NOT_TRIED,
    Leftovers,
    LoadPlan,
    PendingCopy,
    Source,
    end_quietly,
    in_turn,
    is_plain_csv,
    leftovers_among,
    list_stage,
    load_file,
    stage_key,
)
from .result import LoadResult, titled
from .schema import Refused, check_header, table_columns
from .sessions import SessionPool, exclusive_use
from .sources import InputProblem, SourceFile, check_inputs, expand
from .sql import FileFormat, QualifiedName
from .views import NullView, View, make_view
from .views.refresher import Refresher
from .watch import ServerWatch, server_address

if TYPE_CHECKING:
    from .dask_load import DaskRun

_WAKE_INTERVAL = 0.1  # s: how soon the calling thread notices an interrupt
# s a cancelled load, or one whose server is gone, still waits for running files to stop.
ABANDON_AFTER = 1.0
CREATE_TABLE = Fix("create_table", True, "to create it from the files")
_WORKDIR = re.compile(r"snowload-(\d+)-[A-Za-z0-9_]+")

Paths = Iterable[str | os.PathLike[str]] | str | os.PathLike[str]


class Loader:
    """Loads local CSV and Parquet files into one Snowflake table, `workers` files at a time.

    `conn` is any `snowflake.connector` connection (or one from `connect_local()`); `connect`,
    a zero-argument factory, gives every worker a session of its own instead of sharing `conn`.
    `mode` (Snowpark's `save_as_table` names): `append` adds rows; `truncate` replaces the rows
    and keeps the table; `overwrite` replaces the table with one made from the inputs' columns.
    A replacing load is all or nothing, loads every file again, and readers never see it half done.
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
        compression: str = "auto",
        compression_level: int | None = None,
        part_size_mb: float = DEFAULT_PART_SIZE_MB,
        force: bool = False,
        atomic: bool = False,
        mode: str = "append",
        retries: int = 2,
        retry_delay: float = 0.5,
        extra_columns: str = "fail",
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, not {workers!r}")
        if workers > MAX_WORKERS:
            warnings.warn(f"workers={workers} is more than snowload_nb runs at once; using {MAX_WORKERS}", stacklevel=2)
            workers = MAX_WORKERS
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {', '.join(COMPRESSIONS)}; got {compression!r}")
        codec = "zstd" if compression == "zstd" else "gzip"  # a level with auto forces gzip
        allowed = levels(codec)
        if compression_level is not None and compression_level not in allowed:
            span = f"{allowed.start}..{allowed.stop - 1}"
            raise ValueError(f"compression_level must be in {span} for {codec}, not {compression_level!r}")
        if not _finite(part_size_mb) or not part_size_mb >= MIN_PART_SIZE_MB:
            raise ValueError(
                f"part_size_mb must be a positive number of megabytes, at least {MIN_PART_SIZE_MB} "
                f"and finite, not {part_size_mb!r}"
            )
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an integer >= 0, not {retries!r}")
        if not _finite(retry_delay) or retry_delay < 0:
            raise ValueError(f"retry_delay must be a finite number of seconds >= 0, not {retry_delay!r}")
        if extra_columns not in EXTRA_COLUMNS:
            raise ValueError(f"extra_columns must be one of {', '.join(EXTRA_COLUMNS)}; got {extra_columns!r}")
        if connect is not None and not callable(connect):
            raise ValueError("connect must be a zero-argument callable that opens a connection")
        self.conn = conn
        self.table = QualifiedName.parse(table)
        self.workers = workers
        self.progress = validate_progress(progress)
        self.create_table = create_table
        self.connect = connect
        self.format = format
        # "auto" with a level given forces gzip at that level; gzip or zstd without one, its default.
        self.compression = "gzip" if compression == "auto" and compression_level is not None else compression
        default_level = ZSTD_DEFAULT_LEVEL if compression == "zstd" else DEFAULT_LEVEL
        self.compression_level = default_level if compression_level is None else compression_level
        self.part_size_mb = part_size_mb
        self.force = force
        self.atomic = atomic
        self.mode = mode
        self.retries = retries
        self.retry_delay = retry_delay
        self.extra_columns = extra_columns  # a file's columns the table lacks: "fail" the file, or "ignore" them
        self.last_result: LoadResult | None = None

    @property
    def part_bytes(self) -> int:
        """`part_size_mb` as the pipeline and the batching rule count it: bytes on disk."""
        return round(self.part_size_mb * 1_000_000)

    def __repr__(self) -> str:
        return f"Loader(table={str(self.table)!r}, workers={self.workers}, progress={self.progress!r})"

    def load(self, paths: Paths) -> LoadResult:
        """Load files, globs and folders; block until done.

        `paths` is a path, a str, or an iterable of them; anything else is a TypeError, raised
        before anything is created or staged. A bad input fails alone in the result.

        An interrupt (Ctrl-C, the notebook's Interrupt) cancels the load: running files stop,
        whole files only stay loaded, and once it has wound down KeyboardInterrupt is raised,
        so the rest of the script or cell does not run; `last_result` holds what loaded.
        """
        return self._blocking(self._begin(paths, background=False))

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
        names kept exactly. Labels that are not strings load as str(label), as pandas' to_sql
        names them; tuple (MultiIndex) labels, and anything else that could only fail once the
        table exists, raise FrameError first. An interrupt cancels it and is raised once it has
        wound down, as in `load`.

        A Dask DataFrame (`pip install snowload_nb[dask]`, and a `distributed.Client`) is staged
        by its workers, one partition at a time, each worker with a session from `connect=` (which
        must pickle; `connect_local()` connections bring their own); its rows never come here.
        """
        return self._blocking(self._begin_dataframe(data, chunk_rows, background=False))

    def _blocking(self, run: _Run | DaskRun) -> LoadResult:
        """Run on the calling thread; an interrupt, once the load has wound down, goes on to the caller."""
        result = run.execute()
        self.last_result = result
        if run.interrupted:
            raise KeyboardInterrupt(f"{result.summary()}; its result is the Loader's last_result")
        return result

    def start_dataframe(self, data: Any, *, chunk_rows: int | None = None) -> LoadJob:
        """`load_dataframe` in the background: returns a `LoadJob` at once, as `start` does.

        The frame is checked and the table prepared before it returns, so a FrameError or a
        LoadError is raised here, not later from the job.
        """
        return LoadJob(self._begin_dataframe(data, chunk_rows, background=True), on_result=self._remember)

    def _begin_dataframe(self, data: Any, chunk_rows: int | None, background: bool) -> _Run | DaskRun:
        if chunk_rows is not None and (
            isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1
        ):
            raise ValueError(f"chunk_rows must be an integer >= 1, not {chunk_rows!r}")
        if is_dask(data):  # staged by its workers; Dask is imported only now
            from .dask_load import begin as begin_dask

            return begin_dask(self, data, chunk_rows, background)
        frame = prepare_frame(data)
        with self._holding_connection() as hold:
            model = ProgressModel(self._title(), self.workers, unit="chunk")
            sources: list[tuple[int, Source]] = [
                (model.add_file(c.name, c.given, c.size), c) for c in frame.chunks(chunk_rows)
            ]
            prepared = Prepared()
            if sources or self.create_table or self.mode != "append":
                prepared = self._prepare_target(lambda: _shown(model, frame.columns()))
            replacement = prepared.replacement
            # By name, as files are: a column mismatch fails every chunk, with its reason.
            refused: dict[int, str] = {}
            named = [(i, list(frame.schema.names)) for i, _ in sources]
            target = _target(self.table, replacement)
            plans = self._match_columns(named, refused, target, prepared.columns) if sources else {}
            for i, plan in plans.items():
                model.columns(i, plan.null_columns, plan.ignored_columns)
            to_load = [(i, c) for i, c in sources if i not in refused]
            run = self._start_run(
                model,
                to_load,
                atomic=True,
                background=background,
                hold=hold.pop_all(),
                replacement=replacement,
                staged=prepared.staged,
                binary_columns=any(plan.binary for plan in plans.values()),
            )
        with run.discarded_on_interrupt():
            for i, reason in refused.items():
                model.finish(i, FileState.FAILED, error=reason)
        return run

    def _title(self) -> str:
        """The table as every view heads the load: with the mode when it replaces the contents."""
        return titled(str(self.table), self.mode)

    @contextlib.contextmanager
    def _holding_connection(self) -> Iterator[contextlib.ExitStack]:
        """This load's hold on the connection, released by the run, or here if it never starts."""
        with contextlib.ExitStack() as hold:
            hold.enter_context(exclusive_use(self.conn))
            yield hold

    def _begin(self, paths: Paths, background: bool) -> _Run:
        """Everything that must happen on the calling thread: inputs, target, and the view.

        A bad input fails alone, with its reason, at each step here: a path that names no file,
        a header that cannot name columns, with create_table a file whose types cannot be
        inferred, and a file whose columns do not match the table's by name (`matching`). The
        table's columns are merged from every file that gives them. Files the table has loaded
        (by its ledger) end at once as already loaded, before any work, unless the load
        replaces the table's contents (`mode`), whose record goes with them.
        """
        given = check_inputs(paths, "start()" if background else "load()")
        entries = expand(given, None if self.format == "auto" else FileFormat(self.format))
        with self._holding_connection() as hold:
            model = ProgressModel(self._title(), self.workers)
            indexed = [(model.add_file(_display_name(e), e.given, _size(e)), e) for e in entries]
            refused = {i: e.reason for i, e in indexed if isinstance(e, InputProblem)}
            files = [(i, e) for i, e in indexed if isinstance(e, SourceFile)]
            # Every file, every load: its names choose each value's column (and, with create_table,
            # which files fail never depends on their order).
            names: dict[int, list[str]] = {}
            for i, source in files:
                try:
                    names[i] = check_header(source)
                except Refused as exc:
                    refused[i] = str(exc)
            files = [(i, e) for i, e in files if i not in refused]
            prepared = Prepared()
            if files:
                inference = _Inference(files, refused, model)
                try:
                    prepared = self._prepare_target(inference.columns)
                except _NoColumns:
                    pass  # every file was refused, each with its reason: there is nothing to create
                except LoadError as exc:
                    if not inference.used:
                        raise
                    raise LoadError(f"{exc} ({inference.described()})") from None
            replacement = prepared.replacement
            # Step: each file's columns matched to the table's by name, before anything is sent.
            named = [(i, names[i]) for i, _ in files if i not in refused]
            target = _target(self.table, replacement)
            plans = self._match_columns(named, refused, target, prepared.columns) if named else {}
            sources: list[tuple[int, Source]] = [(i, e) for i, e in files if i not in refused]
            # A replacing load loads every file again: the ledger's record goes with the old rows.
            check = sources and not self.force and self.mode == "append"
            loaded, emptied = self._already_loaded([s for _, s in sources]) if check else (set(), set())
            to_load = [(i, s) for i, s in sources if s.key not in loaded]
            for i, _ in to_load:
                model.columns(i, plans[i].null_columns, plans[i].ignored_columns)
            fields = {
                s.key: by_name
                for i, s in to_load
                if s.format is FileFormat.CSV and (by_name := plans[i].fields) is not None
            }
            run = self._start_run(
                model,
                to_load,
                atomic=self.atomic or replacement is not None,
                background=background,
                hold=hold.pop_all(),
                replacement=replacement,
                fields=fields,
                staged=prepared.staged,
                emptied=frozenset(emptied),
                binary_columns=any(plans[i].binary for i, _ in to_load),
            )
        with run.discarded_on_interrupt():
            for i, reason in refused.items():
                model.finish(i, FileState.FAILED, error=reason)
            for i, source in sources:
                if source.key in loaded:  # nothing to send: the ledger says so before any work
                    model.finish(i, FileState.SKIPPED)
        return run

    def _match_columns(
        self,
        named: list[tuple[int, list[str]]],
        refused: dict[int, str],
        target: QualifiedName,
        known: list[TableColumn] | None = None,
    ) -> dict[int, ColumnPlan]:
        """Each input's plan by name against the target table's columns (`known`, or read once);
        a mismatch refuses it."""
        table = known if known is not None else self._read_columns(target)
        plans = {}
        for i, names in named:
            try:
                plans[i] = plan_columns(names, table, self.extra_columns)
            except Refused as exc:
                refused[i] = str(exc)
        return plans

    def _read_columns(self, target: QualifiedName) -> list[TableColumn]:
        cursor = self.conn.cursor()
        try:
            return read_table_columns(cursor, target)
        except Exception as exc:
            raise LoadError(f"cannot read the columns of {self.table}: {describe(exc)}") from None
        finally:
            cursor.close()

    def _already_loaded(self, sources: list[Source]) -> tuple[set[str], set[str]]:
        """The sources the table has loaded, and those its ledger says it loaded into a table
        that has no row now (to load again, once their records are gone: `_Run`)."""
        cursor = self.conn.cursor()
        try:
            return Ledger(self.table).held(cursor, [s.key for s in sources])
        except Exception as exc:
            raise LoadError(f"cannot read which files {self.table} has loaded: {describe(exc)}") from None
        finally:
            cursor.close()

    def _start_run(
        self,
        model: ProgressModel,
        sources: list[tuple[int, Source]],
        atomic: bool,
        background: bool,
        hold: contextlib.ExitStack,
        replacement: Replacement | None = None,
        fields: Mapping[str, tuple[tuple[str, int], ...]] | None = None,
        staged: tuple[str, ...] = (),
        emptied: frozenset[str] = frozenset(),
        binary_columns: bool = False,
    ) -> _Run:
        run = _Run(self, model, sources, atomic, hold, replacement, fields or {}, staged, emptied, binary_columns)
        with run.discarded_on_interrupt():
            run.view = make_view(
                resolve_progress(self.progress), self.workers, on_cancel=run.cancel, background=background
            )
            model.start()
        return run

    def _sessions(self, workers: int) -> SessionPool:
        return SessionPool(self.conn, workers, factory=self.connect)

    def _prepare_target(self, columns: Callable[[], list[tuple[str, str]]]) -> Prepared:
        """Create the stage, and the table if asked and missing; fail early if the table is missing.

        The table is created only when the probe says it is not there: a CREATE on an existing
        table, even IF NOT EXISTS, makes the embedded server forget the table's load history.
        `overwrite` creates a missing table as `create_table` does, and for an existing one the
        new table the files load into (returned in the `Replacement`, which swaps it in). The
        probe is the DESCRIBE that matching by name needs anyway: one round trip less a load.
        """
        stage = self.table.sibling(sql.STAGE_NAME)
        cursor = self.conn.cursor()
        replacement = None if self.mode == "append" else Replacement(self.mode, self.table)
        known = None
        try:
            try:
                found = read_table_columns(cursor, self.table)
            except Exception as exc:
                if not self.create_table and self.mode != "overwrite":
                    raise LoadError(f"cannot load into {self.table} ({FIX}): {describe(exc)}", CREATE_TABLE) from None
                _execute_idempotent(
                    cursor, sql.create_table(self.table, columns()), f"cannot create table {self.table}"
                )
            else:
                if self.mode == "overwrite":
                    replacement = Replacement.overwriting(self.table)
                    new = replacement.target
                    _execute(cursor, sql.create_table(new, columns()), f"cannot create the new table {new}")
                else:
                    known = found  # the rows go into this table as it stands
            staged = _stage_files(cursor, stage)
            ledger = Ledger(self.table)
            try:
                ledger.prepare(cursor)
            except Exception as exc:
                raise LoadError(f"cannot create {ledger.name}, the record of loaded files: {describe(exc)}") from None
        finally:
            cursor.close()
        return Prepared(replacement, known, staged)


@dataclasses.dataclass(frozen=True)
class Prepared:
    """The target made ready: the `Replacement` an overwrite or truncate settles, the
    target's columns when the probe read them (None: read them again), and the files on its
    stage as listed then."""

    replacement: Replacement | None = None
    columns: list[TableColumn] | None = None
    staged: tuple[str, ...] = ()


def _target(table: QualifiedName, replacement: Replacement | None) -> QualifiedName:
    """Where the rows go: the table, or the new one an overwrite swaps in for it."""
    return table if replacement is None else replacement.target


class _NoColumns(Exception):
    """No file could give a new table its columns; each has its reason in `refused`."""


def _shown(model: ProgressModel, columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The columns of the table this load creates, set on the model for the views to show."""
    model.created = tuple(columns)
    return columns


class _Inference:
    """The new table's columns, merged from every file's; worked out only if the table is missing.

    Each file gives its own columns and types (a CSV from a bounded sample, Parquet from its
    schema), and they are merged by name, widening types (inference.merge). A file that cannot
    give types (an unreadable sample, a type with no Snowflake column) is refused with its reason
    and the others decide. The result is kept (asked twice, it reads no file again) and set on
    the model, so that every view shows the table before the load starts.
    """

    def __init__(self, files: list[tuple[int, SourceFile]], refused: dict[int, str], model: ProgressModel) -> None:
        self.files = files
        self.refused = refused
        self.model = model
        self.used: list[SourceFile] = []  # the files the types came from
        self._columns: list[tuple[str, str]] | None = None

    def columns(self) -> list[tuple[str, str]]:
        if self._columns is None:
            found = []
            for (i, source), columns in zip(self.files, self._each_file(), strict=True):
                if isinstance(columns, Refused):
                    self.refused[i] = str(columns)
                    continue
                found.append(columns)
                self.used.append(source)
            if not found:
                raise _NoColumns
            self._columns = _shown(self.model, sql_columns(merge(found)))
        return self._columns

    def _each_file(self) -> list[Columns | Refused]:
        """Each file's columns, or why it cannot give them, in order; read a few at once (pyarrow
        parses without the GIL), since a CSV's sample costs ~0.1 s and the load waits for all."""

        def read(source: SourceFile) -> Columns | Refused:
            try:
                return table_columns(source)
            except Refused as exc:
                return exc

        workers = min(len(self.files), os.cpu_count() or 1, 2)  # each holds a sample: ~40 MB of Arrow memory
        if workers <= 1:
            return [read(source) for _, source in self.files]
        with ThreadPoolExecutor(workers, thread_name_prefix="snowload-infer") as pool:
            return list(pool.map(read, [source for _, source in self.files]))

    def described(self) -> str:
        """Where the columns came from, for an error about the table made of them."""
        if len(self.used) == 1:
            return f"its columns were inferred from {self.used[0].given}"
        return f"its columns were inferred from {len(self.used)} files"


class _Run:
    """One load from its first file to its result; `execute` runs on the calling or a job thread."""

    def __init__(
        self,
        loader: Loader,
        model: ProgressModel,
        sources: list[tuple[int, Source]],
        atomic: bool,
        hold: contextlib.ExitStack,
        replacement: Replacement | None = None,
        fields: Mapping[str, tuple[tuple[str, int], ...]] | None = None,
        staged: tuple[str, ...] = (),
        emptied: frozenset[str] = frozenset(),
        binary_columns: bool = False,
    ) -> None:
        self.loader = loader
        self.binary_columns = binary_columns  # the files load into BINARY columns
        self.staged = staged  # the stage's files as listed when the load began
        self.emptied = emptied  # source keys the ledger records in a table that has no row now
        self.fields = fields or {}  # by source key: how a CSV not in the table's column order loads
        self.model = model
        self.sources = sources
        self.atomic = atomic
        self.replacement = replacement  # truncate or overwrite: done in the COPYs' transaction
        self._hold = hold  # the connection, for this run only
        self.view: View = NullView()
        self._cancel = threading.Event()  # the user's: the load ends as cancelled
        # What the workers obey: set by a cancel, and when the load gives up on them (the server
        # is gone), so that a worker the load no longer waits for does nothing more on the server.
        self._halt = threading.Event()
        self._gave_up = False  # on statements still running on the server
        self.codecs = _codec_picker(loader, model)
        # The codecs are timed on the largest plain CSV, the file the workers start with, unless
        # it shares a batch: batches stage at auto's default and never time the codecs.
        plain = [s for _, s in sources if isinstance(s, SourceFile) and is_plain_csv(s)]
        largest = max(plain, key=lambda s: s.size, default=None)
        if largest is not None and (atomic or largest.size > batch_limit(loader.part_bytes)):
            self.codecs.calibrate_soon(largest.path)
        # An interrupt (KeyboardInterrupt on the calling thread) cancelled it: a blocking load
        # raises it again once wound down. Only the calling thread of a blocking load gets one.
        self.interrupted = False

    @contextlib.contextmanager
    def discarded_on_interrupt(self) -> Iterator[None]:
        """Between holding the connection and executing, an interrupt (or any error) discards the
        run: the connection is free again and the view closed, not left in use by a load that
        never runs."""
        try:
            yield
        except BaseException:
            self._hold.close()
            self.codecs.settle()
            self.model.end(cancelled=True)
            self.view.close(self.model.snapshot())
            raise

    def cancel(self) -> None:
        """Nothing new starts; running files stop at their next chunk."""
        self._cancel.set()
        self._halt.set()

    def _interrupt(self) -> None:
        self.interrupted = True
        self.cancel()

    def execute(self) -> LoadResult:
        """Run the load to its end and return its result; an interrupt only cancels it here (see
        `interrupted`), so the views, the temporary files and the result are all settled first."""
        replaced = None
        try:
            with self._hold:
                self._pool()
        except KeyboardInterrupt:  # between the steps that catch it themselves: wound down by now
            self._interrupt()
        finally:
            self.codecs.settle()
            if self.replacement is not None and (replaced := self.replacement.rows_replaced) is not None:
                self.model.table = titled(str(self.loader.table), self.replacement.mode, replaced)
            self.model.end(cancelled=self._cancel.is_set())
            final = self.model.snapshot()
            self.view.close(final)
        files = self.model.files()
        result = LoadResult.build(str(self.loader.table), files, final.elapsed, final.state, final.unit, final.timeline)
        result = with_codecs(result, self.codecs)
        return dataclasses.replace(result, mode=self.loader.mode, rows_replaced=replaced)

    def _pool(self) -> None:
        """Run the files on the pool with the refresher drawing."""
        loader, model, cancel = self.loader, self.model, self._halt
        refresher = Refresher(model, self.view).start()
        try:
            if not self.sources and self.replacement is None:
                return
            # No more sessions and threads than files that can use them.
            workers = max(1, min(loader.workers, len(self.sources)))
            with _private_workdir() as workdir, contextlib.closing(loader._sessions(workers)) as sessions:
                stage = loader.table.sibling(sql.STAGE_NAME)
                leftovers = self._leftovers()
                plan = LoadPlan(
                    table=loader.table if self.replacement is None else self.replacement.target,
                    stage=stage,
                    workdir=workdir,
                    attempt=secrets.token_hex(8),
                    compression_level=_gzip_level(loader),
                    part_size=loader.part_bytes,
                    # COPY's own load metadata would skip files loaded into the old contents.
                    force=loader.force or self.replacement is not None,
                    retries=loader.retries,
                    retry_delay=loader.retry_delay,
                    defer_copy=self.atomic,
                    leftovers=leftovers.folders,
                    leftover_files=leftovers.files,
                    fields=self.fields,
                    codecs=self.codecs,
                    binary_columns=self.binary_columns,
                )
                uploads = ThreadPoolExecutor(workers, thread_name_prefix="snowload-upload")
                executor = ThreadPoolExecutor(workers, thread_name_prefix="snowload-worker")
                futures: list[Future[PendingCopy | None]] = []
                watch = self._watch(plan, sessions)
                try:
                    # Small files share batches (one PUT, one COPY each); an all-or-nothing
                    # load stages its files one by one for its one closing transaction.
                    sources = self.sources if self.atomic else self._without_emptied_records(plan, sessions)
                    batches, alone = ([], sources) if self.atomic else plan_batches(sources, plan, workers)
                    try:
                        # Largest first: a big file started last would finish long after the others.
                        for i, source in sorted(alone, key=lambda entry: entry[1].size, reverse=True):
                            futures.append(
                                executor.submit(load_file, i, source, plan, model, sessions, uploads, cancel)
                            )
                        for batch in batches:
                            futures.append(executor.submit(load_batch, batch, plan, model, sessions, cancel))
                    except KeyboardInterrupt:
                        self._interrupt()
                    self._wait_for(futures, plan, sessions)
                    if self.atomic:
                        pending = [p for f in futures if f.done() and not f.cancelled() and (p := f.result())]
                        failed = [f.name for f in model.files() if f.state is FileState.FAILED]
                        copy_all_or_nothing(pending, failed, plan, model, sessions, cancel, self.replacement)
                        # It takes an interrupt during its COPY as a cancel of its own: halted,
                        # with neither the user's cancel nor an outage behind it.
                        if cancel.is_set() and not self._cancel.is_set() and plan.outage.reason is None:
                            self._interrupt()
                finally:
                    if watch is not None:
                        watch.stop()
                    executor.shutdown(wait=False, cancel_futures=True)
                    uploads.shutdown(wait=False, cancel_futures=True)
                    # Not once the load gave up on statements: their sessions may never be free again.
                    if self.replacement is not None and not self._gave_up:
                        self.replacement.settle(sessions, plan)
                for i, _ in self.sources:
                    if model.state_of(i) is FileState.QUEUED:
                        model.finish(i, FileState.CANCELLED, error=NOT_STARTED)
        finally:
            refresher.stop()

    def _without_emptied_records(self, plan: LoadPlan, sessions: SessionPool) -> list[tuple[int, Source]]:
        """The sources to load, once the records of those the table no longer has a row of are
        gone (an all-or-nothing load does this in its own transaction). Without that, each would
        find its record when it writes its own, and roll back as loaded: rows lost, reported as
        there. If the records cannot be removed, those sources fail and say why."""
        if not self.emptied:
            return self.sources

        def forget() -> None:
            with sessions.transaction() as cursor:
                plan.ledger.claim_together(cursor, self.emptied, plan.attempt)
                plan.ledger.forget_if_emptied(cursor, self.emptied)

        try:
            in_turn(self._halt, forget)
        except Cancelled:
            return []  # every file still queued ends as cancelled
        except Exception as exc:
            reason = f"its record of loads says it is in {self.loader.table}, which has no row now, "
            reason += f"and that record could not be removed: {describe(exc)}"
            for i, source in self.sources:
                if source.key in self.emptied:
                    self.model.finish(i, FileState.FAILED, error=reason)
            return [(i, s) for i, s in self.sources if s.key not in self.emptied]
        return self.sources

    def _leftovers(self) -> Leftovers:
        """What unfinished attempts left on the stage of this load's files, by the listing made
        as the load began (nothing if the stage had to be made)."""
        return leftovers_among(self.staged, {stage_key(source) for _, source in self.sources})

    def _watch(self, plan: LoadPlan, sessions: SessionPool) -> ServerWatch | None:
        address = server_address(self.loader.conn)
        if address is None:
            return None

        def server_gone(reason: str) -> None:
            plan.outage.declare(reason)
            self._halt.set()  # should it answer again, nothing of this load goes on there
            sessions.abandon()  # nothing can commit on a server that refuses connections

        return ServerWatch(address, sessions.busy_for, server_gone).start()

    def _wait_for(self, futures: list[Future[PendingCopy | None]], plan: LoadPlan, sessions: SessionPool) -> None:
        """Until every file has ended; once cancelled, or the server is gone, for `ABANDON_AFTER` s more.

        Waits in short steps: an interrupt's signal may land on a worker thread, and the calling
        thread, where Python raises KeyboardInterrupt, only sees it once it wakes. Files still
        running at the deadline are waiting on the server; they are given up, unless a COMMIT
        is on its way, whose outcome only the server can tell.
        """
        deadline: list[float] = []  # set once cancelled or the server is gone
        while True:
            try:  # anywhere in the step: an interrupt lands wherever the calling thread is
                if self._waited(futures, plan, sessions, deadline):
                    return
            except KeyboardInterrupt:
                self._interrupt()

    def _waited(
        self, futures: list[Future[PendingCopy | None]], plan: LoadPlan, sessions: SessionPool, deadline: list[float]
    ) -> bool:
        """One step of `_wait_for`: True once there is nothing more to wait for."""
        if not wait(futures, timeout=_WAKE_INTERVAL).not_done:
            return True
        gone = plan.outage.reason
        if gone is None and not self._cancel.is_set():
            return False
        if not deadline:
            deadline.append(time.monotonic() + ABANDON_AFTER)
        if time.monotonic() >= deadline[0] and (gone is not None or not sessions.committing):
            self._halt.set()
            self._give_up_running(gone)  # first: a worker the abandon wakes finds its file ended
            self._gave_up = True
            plan.abandoned.set()
            sessions.abandon()
            return True
        return False

    def _give_up_running(self, gone: str | None) -> None:
        for i, _ in self.sources:
            state = self.model.state_of(i)
            if state.terminal:
                continue
            if gone is None:
                why = NOT_STARTED if state is FileState.QUEUED else "cancelled while it waited on the server"
                end_quietly(self.model, i, FileState.CANCELLED, error=why)
            elif state is FileState.QUEUED:
                end_quietly(self.model, i, FileState.FAILED, error=f"{NOT_TRIED} ({gone})")
            else:
                why = f"the server stopped answering ({gone}) before it finished: load it again"
                end_quietly(self.model, i, FileState.FAILED, error=why)


def _finite(value: object) -> bool:
    """A real number, not a bool (True is 1 to Python, never a size), nan or infinity."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _execute(cursor: Any, statement: str, context: str) -> None:
    try:
        cursor.execute(statement)
    except Exception as exc:
        raise LoadError(f"{context}: {describe(exc)}") from None


def _stage_files(cursor: Any, stage: sql.QualifiedName) -> tuple[str, ...]:
    """The files on the stage, whose listing the run needs anyway and which says the stage
    exists: a `CREATE STAGE` (a DDL round trip on Snowflake, which also commits the session's
    open transaction) is sent only when the listing fails."""
    try:
        return list_stage(cursor, stage)
    except Exception:
        _execute_idempotent(cursor, sql.create_stage(stage), f"cannot create the stage {stage}")
        return ()


def _execute_idempotent(cursor: Any, statement: str, context: str, tries: int = 3) -> None:
    """`_execute` a CREATE … IF NOT EXISTS. Two loads creating the same object at once may
    conflict (the embedded server fails the second commit on a duplicate key); the one that lost
    finds the object made when it tries again."""
    for attempt in range(tries):
        try:
            cursor.execute(statement)
            return
        except Exception as exc:
            if attempt == tries - 1:
                raise LoadError(f"{context}: {describe(exc)}") from None


@contextlib.contextmanager
def _private_workdir() -> Iterator[Path]:
    """A 0700 folder for compressed files, removed whatever happens; named by our pid, so that
    the next load removes what a process killed outright (SIGKILL) left."""
    _remove_orphaned_workdirs()
    path = Path(tempfile.mkdtemp(prefix=f"snowload-{os.getpid()}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _remove_orphaned_workdirs() -> None:
    root = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            match = _WORKDIR.fullmatch(entry.name)
            if match is None or not entry.is_dir() or _alive(int(match[1])):
                continue
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's: alive, and not ours to remove
        return True
    return True


def _display_name(entry: SourceFile | InputProblem) -> str:
    return entry.name if isinstance(entry, SourceFile) else (Path(entry.given).name or entry.given)


def _size(entry: SourceFile | InputProblem) -> int:
    return entry.size if isinstance(entry, SourceFile) else 0


def _gzip_level(loader: Loader) -> int | None:
    """The plan's gzip level, for what no picker stages: none when forced plain, else gzip's."""
    if loader.compression == "none":
        return None
    return loader.compression_level if loader.compression == "gzip" else DEFAULT_LEVEL


def _codec_picker(loader: Loader, model: ProgressModel) -> CodecPicker:
    """How this load stages CSV parts; the choice, and why, shows in the views as it changes."""
    level = loader.compression_level
    forced = {"auto": None, "none": NONE, "zstd": zstd(level)}.get(loader.compression, gzip(level))
    address = server_address(loader.conn)

    def show(note: str | None) -> None:
        model.compression = note

    local = address is not None and is_loopback(address[0])
    size = model.snapshot().bytes_total
    picker = CodecPicker(forced, workers=loader.workers, server=address, local=local, size=size, on_change=show)
    show(picker.note)
    return picker
