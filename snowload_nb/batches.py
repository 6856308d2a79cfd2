"""Many small files in few statements: a batch is staged with one PUT and loaded with one COPY.

Every statement costs a round trip (and on Snowflake cloud-services time) whatever its size, and
so does every staged file (the connector's upload, the server's bookkeeping), so a thousand small
files loaded one by one spend their time on overheads, not on data. Files of at most 1 MB are
grouped (by format, staged compression and column mapping: one COPY reads all its files one way).

Plain CSV files are packed: one header, then each file's rows in turn, as one staged file, with
each file's records counted here. The packed COPY runs in one transaction that claims every
member's lock slot, checks that no other load recorded a member meanwhile, checks that the COPY
loaded exactly the rows counted, and records each member in the ledger. Anything else (a failed
COPY, a count that differs, a member loaded elsewhere) rolls back and the batch loads file by file.

File by file (and for compressed CSV and Parquet, which are not packed): every member is written
under a name carrying its source's stage key, one wildcard PUT stages them all, and one COPY loads
them; COPY answers a row per staged file, so every file keeps its own status, rows and error. A
COPY that fails on one file loads none (ABORT_STATEMENT): the member its error names fails alone
and the batch is copied again without it; an error naming no member (the embedded server's
column-count error) has each remaining member copied on its own. These COPYs run without PURGE, so
files stay put for such a second COPY, and with FORCE: the ledger, not COPY's load metadata, keeps
a file from loading twice. The batch's folders are removed once it is done.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from snowflake.connector.errors import ProgrammingError

from . import sql
from .copy_errors import explain
from .errors import Cancelled, GaveUp, LockBusy, SourceChanged, describe
from .ledger import slot_of
from .model import FileState, Phase, ProgressModel, Wait
from .parts import check_text, split_csv
from .pipeline import (
    BATCH_PREFIX,
    NOT_STARTED,
    NOT_TRIED,
    CopyOutcome,
    LoadPlan,
    PendingCopy,
    Rejected,
    Source,
    Staged,
    check_unchanged,
    clean_stage,
    commit_copies,
    csv_is_header_only,
    end_quietly,
    finish_empty,
    in_turn,
    link_or_copy,
    link_part_size,
    result_rows,
    retrying,
    stage_key,
    staged_as,
    tidy_stage,
)
from .schema import check_row_widths
from .sessions import SessionPool
from .sources import SourceFile
from .sql import Compression, FileFormat, StagedFile, StagePath

FILE_MAX = 1_000_000  # bytes on disk: a file this size or less may share a batch (a bigger one
# is worth its own statements, and its own worker: a batch loads on one)...
PART_SHARE = 4  # ...and at most this fraction of the part size
FILES_MAX = 250  # files per batch
BYTES_MAX = 100_000_000  # bytes on disk per batch
FILES_MIN = 8  # a batch smaller than this is only made of what is left over
PACK_SUFFIX = (
    "_pack"  # the packed file's folder: beside the batch's, never inside it (a COPY of a folder reads all below)
)
NOT_THERE = "its staged file was not there to load: load it again"


@dataclass(frozen=True)
class Batch:
    """Files loaded together: one local folder, one PUT, one COPY."""

    number: int
    members: tuple[tuple[int, SourceFile], ...]
    file_format: FileFormat
    compression: Compression  # as staged
    fields: tuple[tuple[str, int], ...] | None  # the column mapping every member shares

    @property
    def packed(self) -> bool:
        """Plain CSV files share one staged file: one upload, one file for the COPY to read."""
        return self.file_format is FileFormat.CSV and all(_plain_csv(source) for _, source in self.members)

    def folder(self, plan: LoadPlan) -> StagePath:
        """The batch's own folder on the stage, unique to this load."""
        return StagePath(plan.stage, f"{BATCH_PREFIX}{plan.attempt}_{self.number}")


@dataclass(frozen=True)
class _Member:
    """A member written to the batch's local folder, under the name it is staged as."""

    index: int
    source: SourceFile
    name: str


class _BatchRejected(Exception):
    """The batch's COPY failed; `culprit` is the member its error names, if any."""

    def __init__(self, error: str, culprit: _Member | None) -> None:
        super().__init__(error)
        self.error = error
        self.culprit = culprit


def batch_limit(part_size: int) -> int:
    """Bytes on disk at or under which a file may share a batch, with parts of `part_size`."""
    return min(FILE_MAX, part_size // PART_SHARE)


def plan_batches(
    sources: list[tuple[int, Source]], plan: LoadPlan, workers: int
) -> tuple[list[Batch], list[tuple[int, Source]]]:
    """The batches, and the sources that load on their own (big files, DataFrame chunks).

    Batches are sized so that every worker gets one when there are few (up to `FILES_MAX`
    files or `BYTES_MAX` bytes each), since each batch runs on one worker.
    """
    limit = batch_limit(plan.part_size)
    # A packed batch is one staged file: at most a part, and at most what one PUT can carry over
    # the link within the send timeout (counted in source bytes: staged, they are no more).
    link = link_part_size(plan)
    bytes_max = min(BYTES_MAX, plan.part_size, link if link is not None else BYTES_MAX)
    groups: dict[tuple[FileFormat, Compression, tuple[tuple[str, int], ...] | None], list[tuple[int, SourceFile]]] = {}
    alone: list[tuple[int, Source]] = []
    for index, source in sources:
        if isinstance(source, SourceFile) and source.size <= limit:
            fields = plan.fields.get(source.key)
            groups.setdefault((source.format, _staged_compression(source, plan), fields), []).append((index, source))
        else:
            alone.append((index, source))
    batches: list[Batch] = []
    for (file_format, compression, fields), members in groups.items():
        if len(members) < 2:
            alone.extend(members)
            continue
        for share in _by_lock_slot(members, min(FILES_MAX, max(FILES_MIN, math.ceil(len(members) / workers)))):
            current: list[tuple[int, SourceFile]] = []
            size = 0
            for member in share:
                if current and (len(current) >= FILES_MAX or size + member[1].size > bytes_max):
                    batches.append(Batch(len(batches), tuple(current), file_format, compression, fields))
                    current, size = [], 0
                current.append(member)
                size += member[1].size
            batches.append(Batch(len(batches), tuple(current), file_format, compression, fields))
    return batches, alone


def _by_lock_slot(members: list[tuple[int, SourceFile]], per_batch: int) -> list[list[tuple[int, SourceFile]]]:
    """About `per_batch` members each, files sharing a ledger lock slot always together.

    Each batch's transaction claims its members' slots first; two batches of one load sharing
    a slot would wait on each other (with a few hundred files, any two batches almost surely
    would), so a slot belongs to one batch only.
    """
    count = max(1, math.ceil(len(members) / per_batch))
    shares: list[list[tuple[int, SourceFile]]] = [[] for _ in range(count)]
    for member in members:
        shares[slot_of(member[1].key) % count].append(member)
    return [share for share in shares if share]


def _staged_compression(source: SourceFile, plan: LoadPlan) -> Compression:
    if source.format is FileFormat.CSV and source.compression is Compression.NONE:
        return staged_as(plan.batch_codec)
    return source.compression


def load_batch(
    batch: Batch, plan: LoadPlan, model: ProgressModel, sessions: SessionPool, cancel: threading.Event
) -> None:
    """Load a batch's files; each file's outcome lands in the model, never as an exception.

    Plain CSV files are packed into one staged file first; whenever the packed COPY cannot be
    trusted (it failed, or its row count differs from the files'), the batch loads file by
    file, each its own staged file, so a bad file fails alone and names its own line.
    """
    indexes = [index for index, _ in batch.members]
    model.batch(batch.number, indexes)
    if plan.codecs is not None:
        plan.codecs.record([index for index, source in batch.members if _plain_csv(source)], plan.batch_codec)
    if cancel.is_set():
        _end_all(plan, model, indexes, started=False)
        return
    local = plan.workdir / f"batch-{batch.number:05d}"
    target = batch.folder(plan)
    sent: list[StagePath] = []
    loaded: list[SourceFile] = []
    try:
        local.mkdir(mode=0o700)
        todo: list[tuple[int, SourceFile]] = list(batch.members)
        again: frozenset[int] = frozenset()  # members already compressed and staged once, packed
        if batch.packed:
            rows, todo = _pack(batch, local / "pack", plan, model, cancel)
            if rows is not None:
                sent.append(rows.folder)
                doubtful = _load_packed(batch, rows, rows.members, plan, model, sessions, cancel)
                loaded.extend(m.source for m in rows.members if model.state_of(m.index) is FileState.LOADED)
                todo = [(m.index, m.source) for m in doubtful] + todo
                again = frozenset(m.index for m in doubtful)
        if todo:
            files = replace(batch, members=tuple(todo))
            (local / "files").mkdir(mode=0o700)
            members = _write_all(files, local / "files", plan, model, cancel, again)
            if members:
                sent.append(target)
                members = _put(files, members, local / "files", target, plan, model, sessions, cancel, again)
                loaded.extend(m.source for m in _copy(files, members, target, plan, model, sessions, cancel))
    except (Cancelled, GaveUp):
        _end_all(plan, model, indexes, started=True)
    except Exception as exc:
        for index in indexes:
            end_quietly(model, index, FileState.FAILED, error=describe(exc))
    finally:
        shutil.rmtree(local, ignore_errors=True)
        for folder in sent:
            clean_stage(folder, sessions, plan)  # no PURGE: loaded files go too
        for source in loaded:  # what earlier attempts left of it
            tidy_stage(source, True, sessions, plan)


@dataclass(frozen=True)
class _PackMember:
    """A member whose rows are in the batch's rows file, from `start` to `end`."""

    index: int
    source: SourceFile
    rows: int  # records counted here
    start: int
    end: int
    header: bytes  # its own header line: a pack led by this file is this file's bytes


@dataclass(frozen=True)
class _Rows:
    """The packed members' rows in one local file after one header, and their stage folder."""

    path: Path  # the first member's header, then every member's rows
    members: tuple[_PackMember, ...]
    folder: StagePath


def _pack(
    batch: Batch, local: Path, plan: LoadPlan, model: ProgressModel, cancel: threading.Event
) -> tuple[_Rows | None, list[tuple[int, SourceFile]]]:
    """Read every member and write their rows into one file after one header. A member that
    cannot be read, or is not UTF-8 text, fails alone; one whose header spans lines, or whose
    quotes do not pair up, is left to load on its own file (returned)."""

    def check() -> None:
        if cancel.is_set():
            raise Cancelled

    local.mkdir(mode=0o700)
    raw = local / "rows.csv"  # on disk, not in memory: a batch may hold a part's worth
    members: list[_PackMember] = []
    apart: list[tuple[int, SourceFile]] = []
    with open(raw, "wb") as out:
        for index, source in batch.members:
            check()
            try:
                model.begin(index, Phase.COMPRESS)
                data = _read_whole(source)
                check_text(data)  # as split_csv checks a file it stages: the file's own line
                head, rows_text = _split_header(data)
                if head is None or rows_text.count(b'"') % 2:  # a quote left open would take in the next file
                    apart.append((index, source))
                    continue
                if source.key in plan.fields:
                    check_row_widths(source, check)  # a COPY by name would load a short row's gap as NULL
                rows = count_rows(rows_text)
            except Cancelled:
                raise
            except Exception as exc:
                end_quietly(model, index, FileState.FAILED, error=describe(exc))
                continue
            if rows == 0:
                finish_empty(model, index)
                continue
            if not members:
                out.write(head)
            start = out.tell()
            out.write(rows_text)
            if not rows_text.endswith(b"\n"):
                out.write(b"\n")
            model.advance(index, Phase.COMPRESS, source.size)
            members.append(_PackMember(index, source, rows, start, out.tell(), head))
    if not members:
        return None, apart
    for member in members:
        model.complete(member.index, Phase.COMPRESS)
        model.wait(member.index, Wait.BATCH)
    folder = StagePath(plan.stage, f"{batch.folder(plan).key}{PACK_SUFFIX}")
    return _Rows(raw, tuple(members), folder), apart


def _load_packed(
    batch: Batch,
    rows: _Rows,
    members: tuple[_PackMember, ...],
    plan: LoadPlan,
    model: ProgressModel,
    sessions: SessionPool,
    cancel: threading.Event,
) -> list[_PackMember]:
    """Load `members` as one packed file. When its COPY is rejected, each half is loaded the same
    way, down to the one file the error is about, which fails alone with its own error and line
    (packed alone, its lines are the file's own): one bad file among 250 costs 16 small COPYs, not
    250, since the embedded server's error names no file. The members whose packed COPY could not
    be trusted otherwise (a count that differs, a file loaded elsewhere) are returned, to load file
    by file."""
    try:
        _load_pack(batch, rows, members, plan, model, sessions, cancel)
    except _Unpack:
        return list(members)
    except _PackRejected as rejected:
        if len(members) == 1:
            (member,) = members
            end_quietly(model, member.index, FileState.FAILED, error=explain(rejected.error, member.source))
            return []
        half = len(members) // 2
        return [
            *_load_packed(batch, rows, members[:half], plan, model, sessions, cancel),
            *_load_packed(batch, rows, members[half:], plan, model, sessions, cancel),
        ]
    return []


def _write_pack(rows: _Rows, members: tuple[_PackMember, ...], plan: LoadPlan, cancel: threading.Event) -> Path:
    """The members' rows after the first one's header, compressed as staged: the whole rows file,
    or a file of just these members' rows when a rejected COPY split the batch (for one member,
    its own bytes)."""
    local = rows.path.parent
    first = members[0]
    stem = f"{stage_key(first.source)}.pack{first.index}_{len(members)}"  # a leftover goes when that file loads
    source = rows.path
    if members != rows.members:
        source = local / f"{stem}.csv.part"
        with open(rows.path, "rb") as whole, open(source, "wb") as out:
            out.write(first.header)
            for member in members:
                whole.seek(member.start)
                out.write(whole.read(member.end - member.start))
    size = source.stat().st_size
    try:
        with open(source, "rb") as stream:
            (part,) = split_csv(
                stream,
                local,
                stem,
                part_size=max(plan.part_size, size),
                level=None,
                part_codec=lambda number: plan.batch_codec,
                cancelled=cancel.is_set,
                size=size,
            )
    finally:
        if source != rows.path:
            source.unlink()
    return part.path


def _copy_statement(batch: Batch, target: StagePath | StagedFile, plan: LoadPlan) -> str:
    """A batch's COPY: without PURGE, so a rejected batch's files stay for a COPY without the bad
    one, and with FORCE, since the ledger, not COPY's load metadata, keeps a file from loading twice."""
    return sql.copy_into(
        plan.table,
        target,
        batch.file_format,
        batch.compression,
        force=True,
        fields=batch.fields,
        purge=False,
        bytes_as_text=not plan.binary_columns,
    )


def _read_whole(source: SourceFile) -> bytes:
    """The file's bytes, as the version the load began with."""
    data = source.path.read_bytes()
    if len(data) != source.size:
        raise SourceChanged
    check_unchanged(source)
    return data


def _split_header(data: bytes) -> tuple[bytes | None, bytes]:
    """The header line (with its line end) and the rest; no header when it spans lines."""
    end = data.find(b"\n")
    head, rest = (data, b"") if end < 0 else (data[: end + 1], data[end + 1 :])
    if head.count(b'"') % 2:
        return None, data
    return (head if head.endswith(b"\n") else head + b"\n"), rest


def count_rows(text: bytes) -> int:
    """The CSV records in `text` (blank lines are none), as a COPY would count them."""
    if b'"' not in text and b"\r" not in text:
        if b"\n\n" not in text:
            return text.count(b"\n") + (1 if text and not text.endswith(b"\n") else 0)
        return sum(1 for line in text.split(b"\n") if line)
    return sum(1 for record in csv.reader(io.StringIO(text.decode("latin-1"), newline="")) if record)


class _Unpack(Exception):
    """The packed COPY cannot be trusted for every member: load them file by file."""


class _PackRejected(Exception):
    """The server rejected the packed COPY (a bad value in one of its files, most likely)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _load_pack(
    batch: Batch,
    rows: _Rows,
    members: tuple[_PackMember, ...],
    plan: LoadPlan,
    model: ProgressModel,
    sessions: SessionPool,
    cancel: threading.Event,
) -> None:
    """PUT the members' packed file and COPY it in one transaction. Raises `_PackRejected` or
    `_Unpack` with nothing of it committed."""
    indexes = [m.index for m in members]
    first = members == rows.members  # later tries of a split batch are not counted again
    local = _write_pack(rows, members, plan, cancel)
    if first:
        for index in indexes:
            model.begin(index, Phase.UPLOAD)

    def put() -> list[dict[str, object]]:
        with sessions.cursor() as cursor:
            cursor.execute(sql.put(PurePosixPath(local), rows.folder, batch.compression))
            return result_rows(cursor)

    (row,) = retrying(plan, model, indexes, cancel, put)
    local.unlink()
    if str(row.get("status", "")).upper() not in ("UPLOADED", "SKIPPED"):
        raise RuntimeError(f"upload failed: {row.get('message') or row.get('status') or 'the file was not sent'}")
    if first:
        staged = int(str(row.get("target_size") or 0))
        total = sum(m.source.size for m in members) or 1
        for member in members:
            model.staged(member.index, staged * member.source.size // total)
            model.complete(member.index, Phase.UPLOAD)
    name = local.name

    def copy_once() -> None:
        with sessions.transaction() as cursor:
            _copy_pack_in(cursor, batch, rows.folder.file(name), members, plan, model, cancel)

    retrying(plan, model, indexes, cancel, lambda: in_turn(cancel, copy_once))
    for member in members:
        model.complete(member.index, Phase.COPY)
        end_quietly(model, member.index, FileState.LOADED, rows=member.rows)


def _copy_pack_in(
    cursor: Any,
    batch: Batch,
    staged: StagedFile,
    members: tuple[_PackMember, ...],
    plan: LoadPlan,
    model: ProgressModel,
    cancel: threading.Event,
) -> None:
    """Inside the batch's transaction: claim, COPY, check the rows against each member's count,
    record every member. Raises `_PackRejected` or `_Unpack` (rolling back) when anything is not
    as counted."""
    keys = [m.source.key for m in members]
    plan.ledger.claim_together(cursor, keys, plan.attempt)
    if not plan.force and plan.ledger.loaded(cursor, keys):
        raise _Unpack("another load recorded one of its files meanwhile")
    for member in members:
        model.begin(member.index, Phase.COPY)
    if cancel.is_set():
        raise Cancelled
    statement = _copy_statement(batch, staged, plan)
    try:
        cursor.execute(statement)
    except ProgrammingError as exc:
        raise _PackRejected(describe(exc)) from None
    results = result_rows(cursor)
    counted = sum(m.rows for m in members)
    if len(results) != 1 or str(results[0].get("status", "")).upper() != "LOADED":
        raise _Unpack(f"the packed COPY answered {results!r}")
    if int(str(results[0].get("rows_loaded") or 0)) != counted:
        raise _Unpack("the packed COPY loaded another number of rows than the files hold")
    loads = [(m.source.key, m.rows) for m in members]
    if plan.ledger.record_many(cursor, loads, plan.attempt) != len(loads) and not plan.force:
        raise LockBusy("another load recorded a file of the batch first")
    if cancel.is_set():  # the last moment nothing is committed yet
        raise Cancelled


def _end_all(plan: LoadPlan, model: ProgressModel, indexes: list[int], started: bool) -> None:
    """End every member not ended yet: cancelled, or failed when the server is gone; a member
    the batch had not reached yet is said to be not started."""
    gone = plan.outage.reason
    for index in indexes:
        begun = started and model.state_of(index) is not FileState.QUEUED
        if gone is not None:
            why = f"the server stopped answering ({gone}) before it finished: load it again"
            end_quietly(model, index, FileState.FAILED, error=why if begun else f"{NOT_TRIED} ({gone})")
        else:
            why = "cancelled before it finished" if begun else NOT_STARTED
            end_quietly(model, index, FileState.CANCELLED, error=why)


def _write_all(
    batch: Batch,
    local: Path,
    plan: LoadPlan,
    model: ProgressModel,
    cancel: threading.Event,
    again: frozenset[int] = frozenset(),
) -> list[_Member]:
    """Compress (or link) every member into the local folder; a member that cannot fails alone.
    Members in `again` went through this phase once already, packed: they are not counted twice."""

    def check() -> None:
        if cancel.is_set():
            raise Cancelled

    members = []
    for index, source in batch.members:
        check()
        try:
            if _plain_csv(source) and csv_is_header_only(source.path):
                finish_empty(model, index)
                continue
            if index not in again:
                model.begin(index, Phase.COMPRESS)
            if source.key in plan.fields:
                check_row_widths(source, check)  # a COPY by name would load a short row's gap as NULL
            name = _write(index, source, local, plan, model, cancel)
        except Cancelled:
            raise
        except Exception as exc:
            end_quietly(model, index, FileState.FAILED, error=describe(exc))
            continue
        if name is None:
            finish_empty(model, index)
            continue
        if index not in again:
            model.complete(index, Phase.COMPRESS)
            model.wait(index, Wait.BATCH)  # idle until the batch's PUT: not shown as work
        members.append(_Member(index, source, name))
    return members


def _write(
    index: int, source: SourceFile, local: Path, plan: LoadPlan, model: ProgressModel, cancel: threading.Event
) -> str | None:
    """The member's staged file, named `<stage key>.<suffix>`; None when it holds no rows."""
    key = stage_key(source)
    if not _plain_csv(source):  # already compressed, or Parquet: staged as it is
        name = key + source.staged_name[len(source.stem) :]
        link_or_copy(source.path, local / name)
        model.advance(index, Phase.COMPRESS, source.size)
        return name
    read = 0

    def on_chunk(n: int) -> None:
        nonlocal read
        read += n
        model.advance(index, Phase.COMPRESS, n)

    with open(source.path, "rb") as stream:
        # No larger than a part: one part, never split.
        parts = list(
            split_csv(
                stream,
                local,
                key,
                part_size=plan.part_size,
                level=None,
                part_codec=lambda number: plan.batch_codec,
                on_chunk=on_chunk,
                cancelled=cancel.is_set,
                size=source.size,
            )
        )
    if read != source.size:  # appended or truncated while it was read
        raise SourceChanged
    if not parts:
        return None
    (part,) = parts
    return part.path.name


def _put(
    batch: Batch,
    members: list[_Member],
    local: Path,
    target: StagePath,
    plan: LoadPlan,
    model: ProgressModel,
    sessions: SessionPool,
    cancel: threading.Event,
    again: frozenset[int] = frozenset(),
) -> list[_Member]:
    """One PUT of the whole folder; the members it staged whole and unchanged."""
    indexes = [m.index for m in members]
    for index in indexes:
        if index not in again:
            model.begin(index, Phase.UPLOAD)

    def put() -> list[dict[str, object]]:
        with sessions.cursor() as cursor:
            cursor.execute(sql.put_folder(local, target, batch.compression))
            return result_rows(cursor)

    rows = {str(row.get("source")): row for row in retrying(plan, model, indexes, cancel, put)}
    staged, dropped = [], []
    for member in members:
        row = rows.get(member.name, {})
        status = str(row.get("status", "")).upper()
        try:
            if status not in ("UPLOADED", "SKIPPED"):
                raise RuntimeError(f"upload failed: {row.get('message') or status or 'the file was not sent'}")
            check_unchanged(member.source)  # after the upload: a linked file is read by the PUT
        except Exception as exc:
            end_quietly(model, member.index, FileState.FAILED, error=describe(exc))
            dropped.append(member)
            continue
        if member.index not in again:
            model.staged(member.index, int(str(row.get("target_size") or 0)))
            model.advance(member.index, Phase.UPLOAD, member.source.size)
            model.complete(member.index, Phase.UPLOAD)
        staged.append(member)
    for member in dropped:  # never to be copied with the others
        clean_stage(target.file(member.name), sessions, plan)
    return staged


def _copy(
    batch: Batch,
    members: list[_Member],
    target: StagePath,
    plan: LoadPlan,
    model: ProgressModel,
    sessions: SessionPool,
    cancel: threading.Event,
) -> list[_Member]:
    """COPY the batch; a member the error names fails alone and the rest are copied again. The
    members loaded."""
    remaining = list(members)
    while remaining:
        copying = remaining

        def copy_once(copying: list[_Member] = copying) -> dict[int, CopyOutcome]:
            with sessions.transaction() as cursor:
                return _copy_in(cursor, batch, copying, target, plan, model, cancel)

        def in_its_turn(copy_once: Callable[[], dict[int, CopyOutcome]] = copy_once) -> dict[int, CopyOutcome]:
            return in_turn(cancel, copy_once)

        try:
            outcomes = retrying(plan, model, [m.index for m in copying], cancel, in_its_turn)
        except _BatchRejected as rejected:
            culprit = rejected.culprit
            if culprit is None:  # no member named: each is copied on its own
                return _copy_each(batch, remaining, target, plan, model, sessions, cancel)
            end_quietly(model, culprit.index, FileState.FAILED, error=explain(rejected.error, culprit.source))
            clean_stage(target.file(culprit.name), sessions, plan)
            remaining = [m for m in remaining if m is not culprit]
            continue
        for member in copying:
            _finish(model, member.index, outcomes[member.index])
        return [m for m in copying if outcomes[m.index].state is FileState.LOADED]
    return []


def _copy_in(
    cursor: object,
    batch: Batch,
    members: list[_Member],
    target: StagePath,
    plan: LoadPlan,
    model: ProgressModel,
    cancel: threading.Event,
) -> dict[int, CopyOutcome]:
    """Inside the batch's transaction: claim, COPY, check each member's file, record the loaded."""
    run: Callable[[str], None] = cursor.execute  # type: ignore[attr-defined]
    keys = [m.source.key for m in members]
    plan.ledger.claim_together(cursor, keys, plan.attempt)
    elsewhere = plan.ledger.loaded(cursor, keys) if not plan.force else set()
    outcomes: dict[int, CopyOutcome] = {}
    copying = []
    for member in members:
        if member.source.key in elsewhere:  # another load recorded it first: out of this COPY
            run(sql.remove(target.file(member.name)))
            outcomes[member.index] = CopyOutcome(FileState.SKIPPED, error="already loaded by another load")
        else:
            copying.append(member)
    if not copying:
        return outcomes
    for member in copying:
        model.begin(member.index, Phase.COPY)
    if cancel.is_set():
        raise Cancelled
    statement = _copy_statement(batch, target, plan)
    try:
        run(statement)
    except ProgrammingError as exc:
        error = describe(exc)
        raise _BatchRejected(error, _named(error, copying)) from None
    by_key = {str(row.get("file", "")).rsplit("/", 1)[-1].split(".")[0]: row for row in result_rows(cursor)}
    loads = []
    for member in copying:
        row = by_key.get(stage_key(member.source))
        if row is None:
            outcomes[member.index] = CopyOutcome(FileState.FAILED, error=NOT_THERE)
            continue
        if str(row.get("status", "")).upper() != "LOADED":
            line = row.get("first_error_line")
            error = f"{row.get('first_error') or row.get('status')}" + (f" (line {line})" if line else "")
            raise _BatchRejected(error, member)
        rows = int(str(row.get("rows_loaded") or 0))
        outcomes[member.index] = CopyOutcome(FileState.LOADED, rows=rows, files=1)
        loads.append((member.source.key, rows))
    if loads and plan.ledger.record_many(cursor, loads, plan.attempt) != len(loads) and not plan.force:
        raise LockBusy("another load recorded a file of the batch first")  # its turn again finds which
    if cancel.is_set():  # the last moment nothing is committed yet
        raise Cancelled
    return outcomes


def _named(error: str, members: list[_Member]) -> _Member | None:
    """The member whose staged file the error names (both servers name the file being read)."""
    named = [m for m in members if stage_key(m.source) in error]
    return named[0] if len(named) == 1 else None


def _copy_each(
    batch: Batch,
    members: list[_Member],
    target: StagePath,
    plan: LoadPlan,
    model: ProgressModel,
    sessions: SessionPool,
    cancel: threading.Event,
) -> list[_Member]:
    """Each member its own COPY and transaction, as a file loaded alone: one bad file fails alone."""
    loaded = []
    for member in members:
        if cancel.is_set():
            raise Cancelled
        item = PendingCopy(member.index, member.source, target.file(member.name), Staged(batch.compression, 1))

        def copy(item: PendingCopy = item) -> CopyOutcome:
            with sessions.transaction() as cursor:
                (outcome,) = commit_copies(cursor, [item], plan, model, cancel)
                return outcome

        def in_its_turn(copy: Callable[[], CopyOutcome] = copy) -> CopyOutcome:
            return in_turn(cancel, copy)

        try:
            outcome = retrying(plan, model, [member.index], cancel, in_its_turn)
        except Rejected as rejected:
            outcome = rejected.outcome
        _finish(model, member.index, outcome)
        if outcome.state is FileState.LOADED:
            loaded.append(member)
    return loaded


def _finish(model: ProgressModel, index: int, outcome: CopyOutcome) -> None:
    if outcome.state is FileState.LOADED:
        model.complete(index, Phase.COPY)
    end_quietly(model, index, outcome.state, rows=outcome.rows, error=outcome.error)


def _plain_csv(source: SourceFile) -> bool:
    return source.format is FileFormat.CSV and source.compression is Compression.NONE
