"""What a load returns: one `FileResult` per input, and their sum."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import formatting
from .errors import LoadFailed
from .model import FileSnapshot, FileState, LoadState, TimelineData

if TYPE_CHECKING:
    import pandas as pd

    from .timeline import Timeline


class FileStatus(str, enum.Enum):
    """How a file ended. A `str`, so `f.status == "loaded"` and JSON keep working; `word` is how
    every view and message says it ("already loaded" for a file the table had loaded before)."""

    LOADED = "loaded"
    ALREADY_LOADED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        """As the string it equals: a list of statuses in a notebook reads ['loaded', 'skipped']."""
        return repr(self.value)

    @property
    def word(self) -> str:
        return formatting.status_word(FileState(self.value))

    @property
    def ok(self) -> bool:
        """Whether the file is in the table: loaded now or before."""
        return self in (FileStatus.LOADED, FileStatus.ALREADY_LOADED)


STATUSES = tuple(s.value for s in FileStatus)


def titled(table: str, mode: str, rows_replaced: int | None = None) -> str:
    """The table as views and summaries name it: "T (truncate, 1,200 rows replaced)" for a replacing load."""
    if mode == "append":
        return table
    if rows_replaced is None:
        return f"{table} ({mode})"
    return f"{table} ({mode}, {formatting.plural(rows_replaced, 'row')} replaced)"


@dataclass(frozen=True)
class FileResult:
    """How one file fared.

    `source_bytes` is the file's size on disk; for a DataFrame chunk, the Parquet bytes staged
    (the views count the same), or its in-memory estimate if it was never written.
    `staged_bytes` is what went to the stage. Columns are matched by name: `null_columns` are
    the table's columns the file lacks (its rows hold NULL there), `ignored_columns` the file's
    columns the table lacks, left out (with `extra_columns="ignore"`); `notes` says both in words.
    `codec` ("gzip" or "none") and `compression_level` say how its CSV parts were staged (the
    last part's level: auto may raise it mid-file); None for a file staged as it is or not staged.
    """

    path: str
    status: FileStatus
    rows_loaded: int
    source_bytes: int
    seconds: float
    error: str | None = None
    staged_bytes: int = 0
    null_columns: tuple[str, ...] = ()
    ignored_columns: tuple[str, ...] = ()
    codec: str | None = None
    compression_level: int | None = None

    @classmethod
    def from_snapshot(cls, f: FileSnapshot) -> FileResult:
        # A file that never ended was never started: the load was cancelled before it.
        status = FileStatus(f.state.value) if f.state.terminal else FileStatus.CANCELLED
        return cls(
            f.path,
            status,
            f.rows,
            f.size,
            round(f.elapsed, 3),
            f.error,
            f.staged_bytes,
            f.null_columns if status is not FileStatus.ALREADY_LOADED else (),
            f.ignored_columns if status is not FileStatus.ALREADY_LOADED else (),
        )

    @property
    def notes(self) -> str | None:
        """The columns this file left NULL or left out, in words; None when it filled every one."""
        return formatting.column_notes(self.null_columns, self.ignored_columns)

    @property
    def bytes(self) -> int:
        """The old name of `source_bytes`."""
        return self.source_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status.value,
            "rows_loaded": self.rows_loaded,
            "source_bytes": self.source_bytes,
            "seconds": self.seconds,
            "error": self.error,
            "staged_bytes": self.staged_bytes,
            "null_columns": list(self.null_columns),
            "ignored_columns": list(self.ignored_columns),
            "notes": self.notes,
            "codec": self.codec,
            "compression_level": self.compression_level,
        }

    def row(self) -> formatting.Row:
        """This file's line in a results table; a file loaded before shows no error."""
        error = None if self.status is FileStatus.ALREADY_LOADED else self.error
        return formatting.Row(self.path, self.status.word, self.rows_loaded, self.seconds, error, self.notes)


@dataclass(frozen=True)
class LoadResult:
    """The outcome of `Loader.load`: `ok` only if every file loaded or was already loaded."""

    table: str
    files: list[FileResult]
    seconds: float
    state: str  # done, failed or cancelled
    unit: str = "file"  # or "chunk", for a DataFrame
    _timeline: TimelineData | None = field(default=None, repr=False, compare=False)
    mode: str = "append"  # or "truncate", "overwrite": the load replaced the table's contents
    rows_replaced: int | None = None  # rows the table held before a committed replacing load
    compression: str | None = None  # how CSV parts were staged, and why (auto's last choice)

    @classmethod
    def build(
        cls,
        table: str,
        files: Sequence[FileSnapshot],
        seconds: float,
        state: LoadState,
        unit: str = "file",
        timeline: TimelineData | None = None,
    ) -> LoadResult:
        files_ = [FileResult.from_snapshot(f) for f in files]
        return cls(table, files_, round(seconds, 3), state.value, unit, timeline)

    @property
    def ok(self) -> bool:
        return self.state == LoadState.DONE.value and all(f.status.ok for f in self.files)

    @property
    def cancelled(self) -> bool:
        return self.state == LoadState.CANCELLED.value

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status is FileStatus.FAILED]

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    def raise_for_status(self) -> LoadResult:
        """This result if `ok` (every file loaded, now or before); else raise `LoadFailed`, which
        lists the files that failed or were cancelled. So a script can end a chain with it:
        `loader.load(paths).raise_for_status()`."""
        if not self.ok:
            raise LoadFailed(self)
        return self

    def summary(self) -> str:
        """One line: what happened, worded as the views word it."""
        counts = {s.word: self.count(s) for s in FileStatus}
        files = formatting.plural(len(self.files), self.unit)
        table = titled(self.table, self.mode, self.rows_replaced)
        return formatting.summary(LoadState(self.state), self.rows_loaded, table, files, counts, self.seconds)

    def results_table(self, width: int | None = None, limit: int | None = formatting.RECORD_ROWS) -> str:
        """The results table as text: every failure and up to `limit` other files (every file
        with `limit=None`), the rest counted on a last line; names cut at `width` (whole by default)."""
        rows, more = formatting.record_rows([f.row() for f in self.files], limit)
        if width is None:
            width = max([len(r.file) for r in rows] + [4])
        return formatting.results_text(rows, width, more)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `json.dumps`: what `snowload load --json` prints."""
        return {
            "table": self.table,
            "ok": self.ok,
            "state": self.state,
            "unit": self.unit,
            "rows_loaded": self.rows_loaded,
            "mode": self.mode,
            "rows_replaced": self.rows_replaced,
            "compression": self.compression,
            "seconds": self.seconds,
            "files": [f.to_dict() for f in self.files],
        }

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        columns = ["path", "status", "rows_loaded", "source_bytes", "seconds", "error", "staged_bytes", "notes"]
        columns += ["codec", "compression_level"]
        return pd.DataFrame([f.to_dict() for f in self.files], columns=columns)

    def timeline(self) -> Timeline:
        """A picture of the load: each file's compress, upload, copy, retry and waiting spans, and
        throughput per phase; shows in a notebook, `.to_svg()` and `.save(path)` otherwise."""
        from .timeline import Timeline

        return Timeline(self._timeline)

    def __repr__(self) -> str:
        return f"<LoadResult {self.summary()}>"

    def _repr_html_(self) -> str:
        """The summary and the results table (every failure, a capped number of other files: a
        saved notebook stays small); only the summary when this cell's load record already shows
        the table (as `%snowload` and a load as a cell's last line do)."""
        from .views.cell import record_shown_in_this_cell

        summary = formatting.summary_html(self.summary(), self.state)
        if record_shown_in_this_cell():
            return summary
        return summary + formatting.record_html([f.row() for f in self.files])
