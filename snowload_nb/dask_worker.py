"""What runs on a Dask worker for one partition: Parquet chunks, a hash, and their PUT to the stage.

The partition's rows stay on the worker that holds them: only a `Staged` summary (key, sizes,
column types) goes back to the notebook, which COPYs every partition in one transaction. Steps are
reported as Dask events (`Worker.log_event`), which the notebook turns into progress.

The task never raises for a partition it cannot stage: it returns the reason. A raising task makes
Dask log the task with its arguments, and those hold the connection factory and its credentials.
The chunk names and the partition's key are hashes of the bytes, so a task Dask runs again (its
worker was lost) stages the same files under the same names: a retried upload is harmless.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import sql
from .errors import describe
from .frames import prepare as prepare_frame
from .inference import ColumnType, from_arrow
from .ledger import Ledger
from .parquet_parts import cut_parquet
from .parts import Part
from .sql import Compression, QualifiedName, StagePath

# What each event says, in the order a partition goes through them; "part" carries a number.
CONVERT, CONVERTED, UPLOAD, PART, STAGED = "convert", "converted", "upload", "part", "staged"


@dataclass(frozen=True)
class StageSpec:
    """What every partition's task needs; it pickles, and its repr shows no credentials."""

    connect: Callable[[], Any] = field(repr=False)
    table: QualifiedName  # the user's table: its ledger says which partitions it has loaded
    stage: QualifiedName
    attempt: str  # this load's folder under each partition's folder on the stage
    topic: str  # the Dask event topic the notebook listens on
    check_ledger: bool  # an append to a table that exists: a partition it has loaded is not uploaded again
    chunk_rows: int | None = None
    # What one PUT can carry over the link within the connector's send timeout, as the notebook
    # sees the link; None: the server is on the notebook's machine, and nothing is cut.
    part_bytes: int | None = None


@dataclass(frozen=True)
class Staged:
    """What became of one partition on its worker; small, so it is all that travels back."""

    index: int
    key: str = ""
    parts: int = 0  # Parquet files on the stage under key/attempt
    rows: int = 0
    nbytes: int = 0  # Parquet bytes written
    columns: tuple[tuple[str, ColumnType], ...] = ()
    already_loaded: bool = False  # the ledger has it: nothing was uploaded
    error: str | None = None


def stage_partition(part: Any, index: int, spec: StageSpec) -> Staged:
    """Write the partition as Parquet chunks and PUT them; the outcome is returned, never raised."""
    report = _Reporter(spec.topic, index)
    report(CONVERT)
    folder = Path(tempfile.mkdtemp(prefix=f"snowload-dask-{os.getpid()}-"))
    try:
        try:
            frame = prepare_frame(part)
            columns = tuple((f.name, from_arrow(f, f"partition {index}")) for f in frame.schema)
            paths = [chunk.write(folder) for chunk in frame.chunks(spec.chunk_rows)]
        except Exception as exc:
            return Staged(index, error=f"partition {index} could not be converted: {describe(exc)}")
        key = _partition_key(index, paths)
        nbytes = sum(p.stat().st_size for p in paths)
        report(CONVERTED, bytes=nbytes)
        staged = Staged(index, key, len(paths), frame.rows, nbytes, columns)
        if not paths:
            return staged
        with _cursor(spec) as cursor:
            # Not if the table has no row now (made again, or emptied): then it loads again.
            if spec.check_ledger and key in Ledger(spec.table).held(cursor, [key])[0]:
                return Staged(index, key, 0, frame.rows, nbytes, columns, already_loaded=True)
            report(UPLOAD, key=key)
            target = StagePath(spec.stage, key).child(spec.attempt)
            put = 0
            for number, piece in enumerate(_staged_files(paths, folder, spec.part_bytes), 1):
                if _stopped(spec):
                    break
                _put(cursor, piece.path, target, number)
                report(PART, number=number, bytes=piece.source_bytes, staged=piece.staged_bytes)
                put = number
            if _stopped(spec):  # the notebook may have tidied the stage before this PUT ended
                cursor.execute(sql.remove(target))
                return Staged(index, error=f"partition {index}: not staged, the load stopped")
        report(STAGED)
        return dataclasses.replace(staged, parts=put)
    except Exception as exc:
        return Staged(index, error=f"partition {index} could not be staged: {describe(exc)}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _staged_files(paths: list[Path], folder: Path, part_bytes: int | None) -> Iterator[Part]:
    """Each chunk's Parquet as it goes up: whole, or in slices of rows where one PUT over the link
    could not carry it (its key is already made, from the whole chunks' bytes)."""
    for path in paths:
        size = path.stat().st_size
        if part_bytes is None or size <= part_bytes:
            yield Part(path, 1, size, size)
        else:
            yield from cut_parquet(path, folder, path.stem, lambda: part_bytes)


def stop_event_name(attempt: str) -> str:
    """The Dask event the notebook sets when a load stops (cancel, interrupt, a failed partition)."""
    return f"snowload-stop-{attempt}"


def _stopped(spec: StageSpec) -> bool:
    """Whether the notebook stopped the load: a task Dask cannot take back checks before and after
    its uploads, and removes what it staged, so a stopped load leaves nothing on the stage."""
    try:
        from distributed import Event

        return bool(Event(stop_event_name(spec.attempt)).is_set())
    except (ImportError, ValueError):  # not on a worker (a local scheduler): nothing to ask
        return False


def _partition_key(index: int, paths: list[Path]) -> str:
    """The partition's name on the stage and in the ledger: its position and its chunks' bytes.

    The position is in it as a chunk's number is in a DataFrame chunk's: two partitions holding
    the same rows are both loaded.
    """
    digest = hashlib.blake2b(digest_size=10)
    digest.update(f"partition {index}\0".encode())
    for path in paths:
        with open(path, "rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def _put(cursor: Any, path: Path, target: StagePath, number: int) -> None:
    cursor.execute(sql.put(path, target, Compression.NONE))
    names = [d[0].lower() for d in cursor.description or ()]
    statuses = {str(dict(zip(names, row, strict=True)).get("status", "")).upper() for row in cursor.fetchall()}
    if not statuses or not statuses <= {"UPLOADED", "SKIPPED"}:
        raise RuntimeError(f"the upload of chunk {number} failed ({', '.join(sorted(statuses)) or 'no answer'})")


class _Reporter:
    """Sends the partition's steps as Dask events; outside a worker (a local scheduler) it is quiet."""

    def __init__(self, topic: str, index: int) -> None:
        self._topic = topic
        self._index = index
        try:
            from distributed import get_worker

            self._worker: Any = get_worker()
        except (ImportError, ValueError):
            self._worker = None

    def __call__(self, step: str, **values: int | str) -> None:
        if self._worker is not None:
            message = {"partition": self._index, "step": step, "worker": self._worker.address, **values}
            self._worker.log_event(self._topic, message)


# Sessions on this worker, by (load attempt, thread): one per task thread, reused by its next
# partitions, closed by `close_sessions` when the load ends.
_sessions: dict[tuple[str, int], Any] = {}
_sessions_lock = threading.Lock()


@contextlib.contextmanager
def _cursor(spec: StageSpec) -> Iterator[Any]:
    slot = (spec.attempt, threading.get_ident())
    with _sessions_lock:
        session = _sessions.get(slot)
    if session is None:
        session = spec.connect()
        with _sessions_lock:
            _sessions[slot] = session
    cursor = session.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


def close_sessions(attempt: str) -> int:
    """Close this worker's sessions of one load (run on every worker by `Client.run`)."""
    with _sessions_lock:
        slots = [slot for slot in _sessions if slot[0] == attempt]
        sessions = [_sessions.pop(slot) for slot in slots]
    for session in sessions:
        with contextlib.suppress(Exception):
            session.close()
    return len(sessions)
