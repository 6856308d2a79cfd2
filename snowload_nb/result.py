"""What a load returns: one `FileResult` per input, and their sum."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .model import FileSnapshot, FileState, LoadState, TimelineData

if TYPE_CHECKING:
    import pandas as pd

    from .timeline import Timeline

STATUSES = ("loaded", "skipped", "failed", "cancelled")


@dataclass(frozen=True)
class FileResult:
    """How one file fared. `status` is loaded, skipped (already loaded), failed or cancelled."""

    path: str
    status: str
    rows_loaded: int
    bytes: int
    seconds: float
    error: str | None = None
    staged_bytes: int = 0  # what went to the stage, compressed

    @classmethod
    def from_snapshot(cls, f: FileSnapshot) -> FileResult:
        # A file that never ended was never started: the load was cancelled before it.
        status = f.state.value if f.state.terminal else FileState.CANCELLED.value
        return cls(f.path, status, f.rows, f.size, round(f.elapsed, 3), f.error, f.staged_bytes)


@dataclass(frozen=True)
class LoadResult:
    """The outcome of `Loader.load`: `ok` only if every file loaded or was already loaded."""

    table: str
    files: list[FileResult]
    seconds: float
    state: str  # done, failed or cancelled
    unit: str = "file"  # or "chunk", for a DataFrame
    _timeline: TimelineData | None = field(default=None, repr=False, compare=False)

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
        return self.state == LoadState.DONE.value and all(f.status in ("loaded", "skipped") for f in self.files)

    @property
    def cancelled(self) -> bool:
        return self.state == LoadState.CANCELLED.value

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    def summary(self) -> str:
        """One line: what happened, worded as the views word it."""
        from .views import text

        counts = {text.status_word(FileState(s)): self.count(s) for s in STATUSES}
        files = text.plural(len(self.files), self.unit)
        return text.summary(LoadState(self.state), self.rows_loaded, self.table, files, counts, self.seconds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "ok": self.ok,
            "state": self.state,
            "rows_loaded": self.rows_loaded,
            "seconds": self.seconds,
            "files": [asdict(f) for f in self.files],
        }

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        columns = ["path", "status", "rows_loaded", "bytes", "seconds", "error", "staged_bytes"]
        return pd.DataFrame([asdict(f) for f in self.files], columns=columns)

    def timeline(self) -> Timeline:
        """A picture of the load: each file's compress, upload, copy, retry and waiting spans, and
        throughput per phase; shows in a notebook, `.to_svg()` and `.save(path)` otherwise."""
        from .timeline import Timeline

        return Timeline(self._timeline)

    def __repr__(self) -> str:
        return f"<LoadResult {self.summary()}>"

    def _repr_html_(self) -> str:
        """The summary and the results table; only the summary when this cell's load record
        already shows the table (as `%snowload` and a load as a cell's last line do)."""
        from .views import html
        from .views.cell import record_shown_in_this_cell

        if record_shown_in_this_cell():
            return html.summary(self.summary(), self.state)
        rows = [html.Row(f.path, _word(f.status), f.rows_loaded, f.seconds, f.error) for f in self.files]
        return html.summary(self.summary(), self.state) + html.table(rows)


def _word(status: str) -> str:
    return "already loaded" if status == FileState.SKIPPED.value else status
