"""One file's journey: compress → PUT → COPY INTO, reported step by step to the model.

Runs on a worker thread. It knows the model and a cursor, nothing of views; it never raises,
every outcome ends as the file's terminal state in the model.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import sql
from .compress import Cancelled, gzip_file
from .errors import describe
from .model import FileState, Phase, ProgressModel
from .sessions import SessionPool
from .sources import SourceFile
from .sql import Compression, FileFormat, QualifiedName, StagePath


@dataclass(frozen=True)
class LoadPlan:
    """What every file of one load shares."""

    table: QualifiedName
    stage: QualifiedName
    workdir: Path
    compression_level: int
    force: bool = False


@dataclass(frozen=True)
class CopyOutcome:
    state: FileState
    rows: int = 0
    error: str | None = None


@dataclass(frozen=True)
class _Staged:
    local: Path
    compression: Compression


def load_file(
    index: int,
    source: SourceFile,
    plan: LoadPlan,
    model: ProgressModel,
    sessions: SessionPool,
    cancel: threading.Event,
) -> None:
    """Load one file; its outcome lands in the model, never as an exception."""
    folder = plan.workdir / source.key
    try:
        _check(cancel)
        if source.format is FileFormat.CSV and csv_is_header_only(source.path):
            # Nothing to load; the embedded server also misreads such a file, so don't send it.
            for phase in (Phase.COMPRESS, Phase.UPLOAD, Phase.COPY):
                model.begin(index, phase)
                model.complete(index, phase)
            model.finish(index, FileState.LOADED, rows=0)
            return
        staged = _prepare(index, source, folder, plan, model, cancel)
        _check(cancel)
        target = StagePath(plan.stage, source.key)
        _upload(index, source, staged, target, model, sessions)
        _check(cancel)
        outcome = _copy(index, source, staged, target, plan, model, sessions)
        model.finish(index, outcome.state, rows=outcome.rows, error=outcome.error)
    except Cancelled:
        model.finish(index, FileState.CANCELLED, error="cancelled before it finished")
    except Exception as exc:
        model.finish(index, FileState.FAILED, error=describe(exc))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise Cancelled


def _prepare(
    index: int,
    source: SourceFile,
    folder: Path,
    plan: LoadPlan,
    model: ProgressModel,
    cancel: threading.Event,
) -> _Staged:
    """Put the file, under its staged name, in our private folder: gzipped, or linked as it is."""
    model.begin(index, Phase.COMPRESS)
    folder.mkdir(mode=0o700)
    if source.format is FileFormat.PARQUET:
        # Parquet compresses its own columns; gzip around it would only cost time.
        local = folder / source.staged_name
        _link_or_copy(source.path, local)
        model.complete(index, Phase.COMPRESS)
        return _Staged(local, Compression.NONE)
    local = folder / f"{source.staged_name}.gz"
    with open(source.path, "rb") as stream:
        gzip_file(
            stream,
            local,
            level=plan.compression_level,
            on_chunk=lambda n: model.advance(index, Phase.COMPRESS, n),
            cancelled=cancel.is_set,
        )
    model.complete(index, Phase.COMPRESS)
    return _Staged(local, Compression.GZIP)


def _upload(
    index: int,
    source: SourceFile,
    staged: _Staged,
    target: StagePath,
    model: ProgressModel,
    sessions: SessionPool,
) -> None:
    model.begin(index, Phase.UPLOAD)
    with sessions.cursor() as cursor:
        cursor.execute(sql.put(staged.local, target, staged.compression))
        rows = _rows(cursor)
    statuses = {str(r.get("status", "")).upper() for r in rows}
    if not statuses or not statuses <= {"UPLOADED", "SKIPPED"}:
        messages = "; ".join(str(r.get("message") or r.get("status")) for r in rows) or "no file was sent"
        raise RuntimeError(f"upload failed: {messages}")
    model.staged(index, staged.local.stat().st_size)
    model.complete(index, Phase.UPLOAD)


def _copy(
    index: int,
    source: SourceFile,
    staged: _Staged,
    target: StagePath,
    plan: LoadPlan,
    model: ProgressModel,
    sessions: SessionPool,
) -> CopyOutcome:
    model.begin(index, Phase.COPY)
    statement = sql.copy_into(plan.table, target, source.format, staged.compression, force=plan.force)
    with sessions.cursor() as cursor:
        cursor.execute(statement)
        rows = _rows(cursor)
    outcome = read_copy_result(rows)
    if outcome.state is FileState.LOADED:
        model.complete(index, Phase.COPY)
    return outcome


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
    return CopyOutcome(FileState.LOADED, rows=sum(int(r.get("rows_loaded") or 0) for r in files))


def csv_is_header_only(path: Path, probe: int = 1 << 16) -> bool:
    """True when the file holds a header line and nothing after it (but blank space)."""
    with open(path, "rb") as stream:
        head = stream.read(probe + 1)
    if len(head) > probe:
        return False
    _, _, rest = head.partition(b"\n")
    return not rest.strip()


def _rows(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0].lower() for d in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _link_or_copy(source: Path, destination: Path) -> None:
    try:
        os.symlink(source, destination)
    except OSError:
        shutil.copyfile(source, destination)
