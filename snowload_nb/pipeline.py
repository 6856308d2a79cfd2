"""One file's journey: compress → PUT → COPY INTO, reported step by step to the model.

Runs on a worker thread. A large CSV is split into row-aligned parts; each part's upload starts
(on the upload pool) as soon as the part is written, so compressing part k+1 overlaps uploading
part k. All parts sit in this attempt's own stage folder and one COPY loads them together, in the
transaction that records the file in the ledger, so a file loads all or nothing, and once. It
knows the model and a cursor, nothing of views, and never raises: every outcome ends as the
file's terminal state in the model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import CancelledError, Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from snowflake.connector.errors import OperationalError, ProgrammingError

from . import sql
from .codec_choice import NONE, Codec, gzip_or_none
from .codec_plan import CodecPicker
from .compress import decompressing
from .copy_errors import explain
from .errors import Cancelled, GaveUp, Rejected, ServerGone, SourceChanged, describe
from .frames import FrameChunk
from .ledger import Ledger, LockBusy
from .model import FileState, IllegalTransition, Phase, ProgressModel, Wait
from .parquet_parts import cut_parquet
from .parts import Part, check_csv_text, part_name, split_csv
from .schema import check_row_widths
from .sessions import SessionPool
from .sources import SourceFile
from .sql import Compression, FileFormat, QualifiedName, StagedFile, StagePath

T = TypeVar("T")
Source = SourceFile | FrameChunk
NOT_STARTED = "not started: the load was cancelled"
NOT_TRIED = "not tried: the server stopped answering"
ALREADY_LOADED_ELSEWHERE = "already loaded by another load"
_LOCK_WAIT_MAX = 0.5  # s between tries of a COPY whose source another load holds
logger = logging.getLogger(__name__)


class Outage:
    """Declared once steps of two files failed on the network after all their retries, with no
    step succeeding in between: the server is gone, not one file's statement.

    Files not yet tried then fail at once with that reason instead of each waiting out the
    connector's own retries, so a load against a dead server ends in bounded time.
    """

    FILES_TO_DECLARE = 2

    def __init__(self) -> None:
        self._reason: str | None = None
        self._failed_files: set[int] = set()
        self._lock = threading.Lock()

    def failed(self, index: int, reason: str) -> None:
        with self._lock:
            self._failed_files.add(index)
            if self._reason is None and len(self._failed_files) >= self.FILES_TO_DECLARE:
                self._reason = reason

    def declare(self, reason: str) -> None:
        """The server is known to be gone (it refuses connections): no need to wait for two files."""
        with self._lock:
            if self._reason is None:
                self._reason = reason

    def succeeded(self) -> None:
        if self._failed_files:
            with self._lock:
                self._failed_files.clear()

    @property
    def reason(self) -> str | None:
        return self._reason


@dataclass(frozen=True)
class LoadPlan:
    """What every file of one load shares."""

    table: QualifiedName
    stage: QualifiedName
    workdir: Path
    attempt: str  # this load's own folder name on the stage, under each source's folder
    compression_level: int | None  # None: stage CSV uncompressed
    part_size: int  # staged bytes per part
    force: bool = False
    retries: int = 2  # further attempts of a PUT or COPY that failed on the network
    retry_delay: float = 0.5  # seconds before the first retry; doubles each time
    defer_copy: bool = False  # atomic loads: stage here, COPY all files together afterwards
    leftovers: frozenset[str] = frozenset()  # source folders holding files of earlier attempts
    # By source folder key: that source's files an earlier attempt left in a batch folder.
    leftover_files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    outage: Outage = field(default_factory=Outage)
    # By source key: the (table column, CSV column number) pairs of a CSV whose header is not the
    # table's columns in order (`matching.plan_columns`); any other source is copied as it is.
    fields: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    # How each CSV part is staged (forced, or auto from measured rates); None: `compression_level`.
    codecs: CodecPicker | None = None
    binary_columns: bool = False  # the files load into BINARY columns: Parquet bytes go as bytes
    # Set once the load no longer waits for its workers: a worker still running sends nothing more.
    abandoned: threading.Event = field(default_factory=threading.Event)

    @property
    def batch_codec(self) -> Codec:
        """How a batch of small files is staged: as forced, or under auto as it stages before
        the link is measured (batches are formed before the load has measured anything)."""
        if self.codecs is not None:
            return self.codecs.forced or self.codecs.cold
        return gzip_or_none(self.compression_level)

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.table)


@dataclass(frozen=True)
class CopyOutcome:
    state: FileState
    rows: int = 0
    error: str | None = None
    files: int = 0  # staged files the COPY loaded


@dataclass(frozen=True)
class _Job:
    """The worker's context for one file, so the steps below take one argument, not seven."""

    index: int
    source: Source
    plan: LoadPlan
    model: ProgressModel
    sessions: SessionPool
    uploads: Executor
    cancel: threading.Event

    @property
    def target(self) -> StagePath:
        """This attempt's own folder: no other attempt's parts are ever in it."""
        return source_folder(self.plan, self.source).child(self.plan.attempt)

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled

    def queued(self) -> contextlib.AbstractContextManager[object]:
        """While the file waits for a free session: shown as waiting, not as work."""
        return self.model.waiting(self.index, Wait.SESSION)


def end_quietly(model: ProgressModel, index: int, state: FileState, rows: int = 0, error: str | None = None) -> None:
    """End a file unless it has ended: the load may have given up on it while it waited on the server."""
    with contextlib.suppress(IllegalTransition):
        model.finish(index, state, rows=rows, error=error)


def load_file(
    index: int,
    source: Source,
    plan: LoadPlan,
    model: ProgressModel,
    sessions: SessionPool,
    uploads: Executor,
    cancel: threading.Event,
) -> PendingCopy | None:
    """Load one file; its outcome lands in the model, never as an exception.

    With `plan.defer_copy` a staged file is returned for the caller to COPY, still unfinished.
    """
    job = _Job(index, source, plan, model, sessions, uploads, cancel)
    folder = plan.workdir / f"{index:06d}"
    in_flight: list[Future[None]] = []
    sent: list[int] = []  # parts whose PUT began
    if cancel.is_set():
        if plan.outage.reason is not None:  # halted because the server is gone, not by the user
            end_quietly(model, index, FileState.FAILED, error=f"{NOT_TRIED} ({plan.outage.reason})")
        else:
            end_quietly(model, index, FileState.CANCELLED, error=NOT_STARTED)
        return None
    staged: Staged | None = None
    pending: PendingCopy | None = None  # handed to the caller, whose COPY takes its parts
    outcome: CopyOutcome | None = None
    try:
        if isinstance(source, SourceFile) and is_plain_csv(source) and csv_is_header_only(source.path):
            _finish_empty(job)
            return None
        model.begin(index, Phase.COMPRESS)
        if isinstance(source, SourceFile) and source.key in plan.fields:
            check_row_widths(source, job.check)  # a COPY by name would load a short row's gap as NULL
        folder.mkdir(mode=0o700)
        staged = _stage_all(job, folder, in_flight, sent)
        if staged is None:  # nothing after the header: no part was written
            _finish_empty(job)
            return None
        job.check()
        if plan.defer_copy:
            model.wait(index, Wait.STAGED)
            pending = PendingCopy(index, source, job.target, staged)
            return pending
        outcome = _copy(job, staged)
        end_quietly(model, index, outcome.state, rows=outcome.rows, error=outcome.error)
    except (Cancelled, GaveUp):  # GaveUp: the load stopped waiting for this file's statement
        _settle(in_flight)
        if plan.outage.reason is not None:  # halted because the server is gone, not by the user
            why = f"the server stopped answering ({plan.outage.reason}) before it finished: load it again"
            end_quietly(model, index, FileState.FAILED, error=why)
        else:
            end_quietly(model, index, FileState.CANCELLED, error="cancelled before it finished")
    except Exception as exc:
        _settle(in_flight)
        end_quietly(model, index, FileState.FAILED, error=describe(exc))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if staged is not None and not plan.defer_copy:
            tidy_stage(source, outcome is not None and outcome.state is FileState.LOADED, sessions, plan)
        elif sent and pending is None:  # parts no COPY will ever take: not left on the stage
            clean_stage(job.target, sessions, plan)
    return None


@dataclass(frozen=True)
class Staged:
    """What is on the stage for the file once every part is up."""

    compression: Compression
    parts: int


@dataclass(frozen=True)
class PendingCopy:
    """A file whose parts are all on the stage, waiting for its COPY."""

    index: int
    source: Source
    target: StagePath | StagedFile
    staged: Staged

    def statement(self, plan: LoadPlan) -> str:
        fields = plan.fields.get(self.source.key)
        return sql.copy_into(
            plan.table,
            self.target,
            self.source.format,
            self.staged.compression,
            force=plan.force,
            fields=fields,
            bytes_as_text=not plan.binary_columns,
        )


def source_folder(plan: LoadPlan, source: Source) -> StagePath:
    """The source's folder on the stage, the same in every load: each attempt stages inside it,
    and a load that succeeds removes the whole folder, so an unfinished earlier attempt's parts
    go with it."""
    return StagePath(plan.stage, stage_key(source))


def stage_key(source: Source) -> str:
    """A file's folder is named by its path, so every version and attempt of it shares one."""
    if isinstance(source, SourceFile):
        return hashlib.blake2b(str(source.path).encode(), digest_size=10).hexdigest()
    return source.key


def commit_copies(
    cursor: Any,
    items: list[PendingCopy],
    plan: LoadPlan,
    model: ProgressModel,
    cancel: threading.Event,
    forget_emptied: bool = False,
) -> list[CopyOutcome]:
    """Inside an open transaction: claim the sources, COPY them, and record them in the ledger.

    Raises `Rejected` when a COPY fails, or loads fewer files than were staged, and the caller's
    transaction rolls back: a source is in the ledger exactly when its rows are in the table.
    `LockBusy`: another load holds a source's lock slot; roll back and try again. The claim
    comes first, so such a retry finds its files still staged (a COPY's PURGE would have taken
    them). A source another load recorded first is rolled back and reported as loaded by that
    load; with several sources, those are skipped and the others load.
    """
    keys = [item.source.key for item in items]
    plan.ledger.claim(cursor, keys, plan.attempt)
    if forget_emptied:  # a table dropped and made again, or emptied, has loaded none of them
        plan.ledger.forget_if_emptied(cursor, keys)
    # One source: the record's own check below says the same for a statement less.
    elsewhere = plan.ledger.loaded(cursor, keys) if len(items) > 1 and not plan.force else set()
    outcomes = []
    for item in items:
        if cancel.is_set():
            raise Cancelled
        if item.source.key in elsewhere:
            outcomes.append(CopyOutcome(FileState.SKIPPED, error=ALREADY_LOADED_ELSEWHERE))
            continue
        model.begin(item.index, Phase.COPY)
        outcome = run_copy(cursor, item.statement(plan), item.source)
        if outcome.state is FileState.LOADED and outcome.files != item.staged.parts:
            outcome = CopyOutcome(
                FileState.FAILED,
                error=f"only {outcome.files} of its {item.staged.parts} staged parts were there to load: load it again",
            )
        if outcome.state is FileState.FAILED:
            # A load that finished this source first removes what other attempts staged of it.
            if not plan.force and _recorded(cursor, plan, item.source.key):
                outcome = CopyOutcome(FileState.SKIPPED, error=ALREADY_LOADED_ELSEWHERE)
            raise Rejected(outcome, item)
        if not plan.ledger.record(cursor, item.source.key, plan.attempt, outcome.rows) and not plan.force:
            raise Rejected(CopyOutcome(FileState.SKIPPED, error=ALREADY_LOADED_ELSEWHERE), item)
        if len(items) > 1:
            model.wait(item.index, Wait.COMMIT)  # its rows are in, with the others' still to come
        outcomes.append(outcome)
    if cancel.is_set():  # the last moment nothing is committed yet
        raise Cancelled
    return outcomes


def _recorded(cursor: Any, plan: LoadPlan, key: str) -> bool:
    """Whether the ledger has the source, when a failed statement has not spoilt the transaction."""
    try:
        return key in plan.ledger.loaded(cursor, [key])
    except Exception:
        return False


def in_turn(cancel: threading.Event, step: Callable[[], T]) -> T:
    """Run `step` again while another load holds one of its sources, until it is its turn."""
    delay = 0.02
    while True:
        try:
            return step()
        except LockBusy:
            if cancel.wait(delay):
                raise Cancelled from None
            delay = min(delay * 2, _LOCK_WAIT_MAX)


def tidy_stage(source: Source, loaded: bool, sessions: SessionPool, plan: LoadPlan) -> None:
    """After a source's COPY: PURGE took what it loaded; remove what an earlier unfinished
    attempt left of it, or this attempt's parts if they were not loaded."""
    folder = source_folder(plan, source)
    if not loaded:
        clean_stage(folder.child(plan.attempt), sessions, plan)
        return
    if folder.key in plan.leftovers:
        clean_stage(folder, sessions, plan)
    for path in plan.leftover_files.get(folder.key, ()):
        batch, _, name = path.partition("/")
        clean_stage(StagePath(plan.stage, batch).file(name), sessions, plan)


BATCH_PREFIX = "batch_"  # a batch's folder on the stage: batch_<attempt>_<n>/<source folder key>.<suffix>


@dataclass(frozen=True)
class Leftovers:
    """What unfinished attempts left on the stage of a load's sources."""

    folders: frozenset[str] = frozenset()  # source folders holding files
    files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # by source folder: "batch_…/name"


def list_stage(cursor: Any, stage: QualifiedName) -> tuple[str, ...]:
    """The names of the files on the stage."""
    cursor.execute(sql.list_stage(stage))
    return tuple(str(name) for name, *_ in cursor.fetchall())


def leftovers_among(staged: Iterable[str], keys: set[str]) -> Leftovers:
    """Which of these source folders hold files on the stage, and which batch folders hold files
    of these sources (a batch names each file by its source's folder key)."""
    folders = set()
    files: dict[str, list[str]] = {}
    for name in staged:
        parts = name.split("/")
        if len(parts) > 1 and parts[1] in keys:
            folders.add(parts[1])
        elif len(parts) == 3 and parts[1].startswith(BATCH_PREFIX) and (key := parts[2].split(".")[0]) in keys:
            files.setdefault(key, []).append(f"{parts[1]}/{parts[2]}")
    return Leftovers(frozenset(folders), {key: tuple(paths) for key, paths in files.items()})


def clean_stage(folder: StagePath | StagedFile, sessions: SessionPool, plan: LoadPlan) -> None:
    """Remove staged files we no longer need; a failure here costs only stage space."""
    if plan.outage.reason is not None or plan.abandoned.is_set():
        return
    try:
        with sessions.cursor() as cursor:
            cursor.execute(sql.remove(folder))
    except Exception as exc:
        logger.debug("could not remove %s from the stage: %s", folder.sql, describe(exc))


def _stage_all(job: _Job, folder: Path, in_flight: list[Future[None]], sent: list[int]) -> Staged | None:
    """Write and upload every part, one upload in flight while the next part is written."""
    staged = None
    for part, compression in _parts(job, folder):
        mixed = staged is not None and staged.compression is not compression
        staged = Staged(Compression.AUTO if mixed else compression, part.number)
        if in_flight:
            in_flight.pop().result()  # bounded: at most one part waits on disk per file
        job.model.begin(job.index, Phase.UPLOAD)
        in_flight.append(job.uploads.submit(_upload, job, part, compression))
        sent.append(part.number)
    if staged is None:
        return None
    job.model.complete(job.index, Phase.COMPRESS)
    while in_flight:
        in_flight.pop().result()
    check_unchanged(job.source)  # after the uploads: a linked file is read by its PUT
    job.model.complete(job.index, Phase.UPLOAD)
    return staged


def check_unchanged(source: Source) -> None:
    """The file must still be the version the load began with, or what was staged may be torn."""
    if not isinstance(source, SourceFile):
        return
    try:
        now = source.path.stat()
    except OSError:
        raise SourceChanged from None
    if (now.st_size, now.st_mtime_ns) != (source.size, source.mtime_ns):
        raise SourceChanged


def _parts(job: _Job, folder: Path) -> Iterator[tuple[Part, Compression]]:
    """The staged pieces of the file: split and compressed CSV parts, or the file as it is."""
    source, plan, model = job.source, job.plan, job.model
    if isinstance(source, FrameChunk):
        # Parquet: serialising is this phase's work. Cut as CSV parts are, to what the link can
        # take within the send timeout.
        files = [(path, path.stat().st_size) for path in source.write_parts(folder, link_part_size(plan))]
        # From here the chunk counts as the Parquet bytes it stages, not its in-memory estimate.
        written = sum(size for _, size in files)
        model.resize(job.index, written)
        model.advance(job.index, Phase.COMPRESS, written)
        for number, (path, size) in enumerate(files, 1):
            yield Part(path, number, size, size), Compression.NONE
        return
    limit = link_part_size(plan)
    over = limit is not None and source.size > limit  # staged whole, its PUT could not go out in time
    if source.format is FileFormat.PARQUET and over:
        # Cut by rows, each slice sized as it starts (the link is measured as PUTs end).
        slice_bytes = _link_part_size_now(plan)
        for part in cut_parquet(source.path, folder, source.stem, slice_bytes, job.cancel.is_set):
            model.advance(job.index, Phase.COMPRESS, part.source_bytes)
            yield part, Compression.NONE
        return
    if source.format is FileFormat.PARQUET or (source.compression is not Compression.NONE and not over):
        # Already compressed (Parquet compresses its own columns): staging it again costs only time.
        local = folder / source.staged_name
        link_or_copy(source.path, local)
        model.advance(job.index, Phase.COMPRESS, source.size)
        yield Part(local, 1, source.size, source.size), source.compression
        return
    yield from _csv_parts(job, folder, source)


def _csv_parts(job: _Job, folder: Path, source: SourceFile) -> Iterator[tuple[Part, Compression]]:
    """A CSV file split at row ends and compressed as the plan says. A compressed file is here
    only when whole it could not go out within the send timeout: it is read as written, and its
    parts count their share of its bytes on disk (progress is in those)."""
    plan, model = job.plan, job.model
    plain = source.compression is Compression.NONE
    part_codec: Callable[[int], Codec] | None = None
    part_sizes: Callable[[], int] | None = None
    picker = plan.codecs
    first = gzip_or_none(plan.compression_level)
    if picker is not None:
        picker.calibrate(source.path, source.compression)
        first = picker.pick(job.index)

        def part_codec(number: int) -> Codec:
            return first if number == 1 else picker.pick(job.index)

        part_sizes = _link_part_size_now(plan)
    if plain and not first.compressed and source.size <= (part_sizes() if part_sizes else plan.part_size):
        yield _staged_as_it_is(job, folder, source), Compression.NONE
        return

    with open(source.path, "rb") as raw, decompressing(raw, source.compression) as stream:
        read = 0  # bytes of the file on disk

        def on_chunk(n: int) -> None:
            nonlocal read
            now = read + n if plain else raw.tell()
            model.advance(job.index, Phase.COMPRESS, now - read)
            read = now

        sent = 0
        for part in split_csv(
            stream,
            folder,
            source.stem,
            part_size=plan.part_size,
            level=plan.compression_level,
            on_chunk=on_chunk,
            cancelled=job.cancel.is_set,
            size=source.size if plain else None,
            part_codec=part_codec,
            part_sizes=part_sizes,
        ):
            if not plain:
                part, sent = dataclasses.replace(part, source_bytes=read - sent), read
            yield part, staged_as(part.codec)
    if read != source.size:  # appended or truncated while it was read
        raise SourceChanged


def _staged_as_it_is(job: _Job, folder: Path, source: SourceFile) -> Part:
    """A plain CSV that goes as one uncompressed part is that part: its text is checked, then the
    file is linked, not copied, and its PUT reads it (`check_unchanged` after the upload then
    says whether those bytes were the ones checked)."""
    with open(source.path, "rb") as stream:
        read = check_csv_text(
            stream,
            on_chunk=lambda n: job.model.advance(job.index, Phase.COMPRESS, n),
            cancelled=job.cancel.is_set,
        )
    if read != source.size:  # appended or truncated while it was read
        raise SourceChanged
    local = folder / part_name(source.stem, 1, NONE)
    link_or_copy(source.path, local)
    return Part(local, 1, source.size, source.size, NONE)


def link_part_size(plan: LoadPlan) -> int | None:
    """Staged bytes one PUT can carry over the link within the connector's send timeout; None
    for a server on these cores, which has no link to protect (re-cutting would only cost CPU)."""
    picker = plan.codecs
    if picker is None or picker.local:
        return None
    return picker.part_size(plan.part_size)


def _link_part_size_now(plan: LoadPlan) -> Callable[[], int]:
    """The link's part size as it is when asked (the picker measures the link as PUTs end);
    with no link, the plan's part size."""
    return lambda: link_part_size(plan) or plan.part_size


def staged_as(codec: Codec) -> Compression:
    """A part's compression in Snowflake's words."""
    return Compression[codec.name.upper()]


def _retrying(job: _Job, step: Callable[[], T]) -> T:
    return retrying(job.plan, job.model, [job.index], job.cancel, step)


def retrying(
    plan: LoadPlan, model: ProgressModel, indexes: list[int], cancel: threading.Event, step: Callable[[], T]
) -> T:
    """Run a server step again after a network failure, waiting longer each time.

    Only OperationalError (connection lost, timeouts) is retried: a rejected statement or bad
    data fails the same way every time. A cancel during the wait stops at once. `indexes` are
    the files the step works for (a batch's), shown as retrying meanwhile.
    """
    outage = plan.outage
    attempt = 0
    while True:
        if outage.reason is not None:
            raise ServerGone(f"{NOT_TRIED} ({outage.reason})")
        try:
            result = step()
        except OperationalError as exc:
            if attempt >= plan.retries:
                outage.failed(indexes[0], describe(exc))
                raise
            for index in indexes:
                model.wait(index, Wait.RETRY)
            if cancel.wait(plan.retry_delay * 2**attempt):
                raise Cancelled from None
            for index in indexes:
                model.resume(index)
            attempt += 1
        else:
            outage.succeeded()
            return result


def _upload(job: _Job, part: Part, compression: Compression) -> None:
    def put() -> list[dict[str, Any]]:
        with job.sessions.cursor(job.queued) as cursor:
            timing = job.plan.codecs.uploading(part.staged_bytes) if job.plan.codecs else contextlib.nullcontext()
            with timing:  # the link's rate, for auto compression
                cursor.execute(sql.put(part.path, job.target, compression))
            return result_rows(cursor)

    rows = _retrying(job, put)
    statuses = {str(r.get("status", "")).upper() for r in rows}
    if not statuses or not statuses <= {"UPLOADED", "SKIPPED"}:
        messages = "; ".join(str(r.get("message") or r.get("status")) for r in rows) or "no file was sent"
        raise RuntimeError(f"upload of part {part.number} failed: {messages}")
    job.model.staged(job.index, part.staged_bytes)
    job.model.advance(job.index, Phase.UPLOAD, part.source_bytes)


def _copy(job: _Job, staged: Staged) -> CopyOutcome:
    job.model.begin(job.index, Phase.COPY)
    item = PendingCopy(job.index, job.source, job.target, staged)

    def copy() -> CopyOutcome:
        with job.sessions.transaction(waiting=job.queued) as cursor:
            codecs = job.plan.codecs
            with codecs.copying(job.source.size) if codecs is not None else contextlib.nullcontext():
                (outcome,) = commit_copies(cursor, [item], job.plan, job.model, job.cancel)
            return outcome

    try:
        outcome = _retrying(job, lambda: in_turn(job.cancel, copy))
    except Rejected as rejected:
        outcome = rejected.outcome
    if outcome.state is FileState.LOADED:
        job.model.complete(job.index, Phase.COPY)
    return outcome


def run_copy(cursor: Any, statement: str, source: Source) -> CopyOutcome:
    """Run one COPY and say what became of the file; a rejected file is an outcome, not an error.

    Network failures (OperationalError) still raise, for the caller to retry.
    """
    try:
        cursor.execute(statement)
        outcome = read_copy_result(result_rows(cursor))
    except ProgrammingError as exc:
        outcome = CopyOutcome(FileState.FAILED, error=describe(exc))
    if outcome.state is FileState.FAILED and outcome.error:  # in the user's terms, the server's text after
        outcome = CopyOutcome(FileState.FAILED, error=explain(outcome.error, source))
    return outcome


def _finish_empty(job: _Job) -> None:
    finish_empty(job.model, job.index)


def finish_empty(model: ProgressModel, index: int) -> None:
    """A CSV with a header and no rows: nothing to stage; the embedded server misreads such files."""
    for phase in (Phase.COMPRESS, Phase.UPLOAD, Phase.COPY):
        model.begin(index, phase)
        model.complete(index, phase)
    model.finish(index, FileState.LOADED, rows=0)


def _settle(in_flight: list[Future[None]]) -> None:
    """Let a running upload end before its part file is removed; its outcome no longer matters."""
    for future in in_flight:
        future.cancel()
        with contextlib.suppress(CancelledError):  # cancelled before it ran
            future.exception()
    in_flight.clear()


def read_copy_result(rows: list[dict[str, Any]]) -> CopyOutcome:
    """Snowflake's per-file COPY rows, reduced to one outcome for the source file."""
    files = [r for r in rows if "file" in r]
    if not files:
        return CopyOutcome(FileState.FAILED, error="nothing was found on the stage to copy")
    statuses = [str(r.get("status", "")).upper() for r in files]
    for row, status in zip(files, statuses, strict=True):
        if status not in ("LOADED", "LOAD_SKIPPED"):
            line = row.get("first_error_line")
            where = f" (line {line})" if line else ""
            return CopyOutcome(FileState.FAILED, error=f"{row.get('first_error') or status}{where}")
    if all(status == "LOAD_SKIPPED" for status in statuses):
        return CopyOutcome(FileState.SKIPPED, error=None)
    rows = sum(int(r.get("rows_loaded") or 0) for r in files)
    return CopyOutcome(FileState.LOADED, rows=rows, files=statuses.count("LOADED"))


def is_plain_csv(source: SourceFile) -> bool:
    return source.format is FileFormat.CSV and source.compression is Compression.NONE


def csv_is_header_only(path: Path, probe: int = 1 << 16) -> bool:
    """True when the file holds a header line and nothing after it (but blank space)."""
    with open(path, "rb") as stream:
        head = stream.read(probe + 1)
    if len(head) > probe:
        return False
    _, _, rest = head.partition(b"\n")
    return not rest.strip()


def result_rows(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0].lower() for d in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def link_or_copy(source: Path, destination: Path) -> None:
    try:
        os.symlink(source, destination)
    except OSError:
        shutil.copyfile(source, destination)
