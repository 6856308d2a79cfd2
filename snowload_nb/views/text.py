"""The words and numbers every view shows, formatted one way."""

from __future__ import annotations

from collections.abc import Sequence

from ..formatting import (  # noqa: F401  (the views' names for them)
    MB,
    OUTCOMES,
    SIZE_UNITS,
    already_loaded,
    column_notes,
    created_line,
    duration,
    header_line,
    item_rate,
    plural,
    rate,
    seconds_taken,
    size,
    size_pair,
    status_word,
    summary,
)
from ..model import PHASES, FileSnapshot, FileState, Phase, PhaseSnapshot, Snapshot, Wait


def phase_fields(p: PhaseSnapshot, running: bool = True) -> list[str]:
    """The figures of an aggregate line, in the order shown: files, sizes, rate, ETA, and rows
    for Copy. When most items are small the rate counts items (and rows) per second: bytes
    there would read "0.0 MB/s" the whole load."""
    fields = [f"{p.files_done:,}/{p.files_total:,} {p.unit}s", size_pair(p.bytes_done, p.bytes_total)]
    moving = running and not p.settled
    if moving:
        fields.append(item_rate(p.file_rate, p.unit) if p.by_files else rate(p.rate))
        if p.eta is not None:
            fields.append(f"ETA {duration(p.eta)}")
    if p.phase is Phase.COPY:
        fields.append(f"{p.rows:,} rows")
        if moving and p.by_files:
            fields.append(f"{p.row_rate:,.0f} rows/s")
    return fields


# Dropped first when a line is too narrow: the ETA, then the rates (rows/s first), then the sizes.
_DROP_ORDER = ("ETA ", "rows/s", "/s", SIZE_UNITS)


def phase_line(p: PhaseSnapshot, running: bool = True, width: int | None = None) -> str:
    """ "3/12 files · 40.1/120.0 MB · 85.3 MB/s · ETA 0:01", and rows for Copy ("120/3,000 files ·
    12.0/300.0 kB · 8.1 files/s" when most items are small); within `width`
    by dropping whole fields, never by cutting a figure."""
    return fit(phase_fields(p, running), width)


def fit(fields: Sequence[str], width: int | None, drop: Sequence[str | tuple[str, ...]] = _DROP_ORDER) -> str:
    """Fields joined by " · ", dropping whole ones (those that start or end with the first of
    `drop`, a marker or a tuple of them, in turn, then from the end) until the line fits `width`."""
    kept = list(fields)
    line = " · ".join(kept)
    if width is None:
        return line
    for marker in drop:
        if len(line) <= width:
            return line
        kept = [f for f in kept if not f.startswith(marker) and not f.endswith(marker)]  # type: ignore[arg-type]
        line = " · ".join(kept)
    while len(line) > width and len(kept) > 1:
        kept.pop()
        line = " · ".join(kept)
    return line if len(line) <= width else ""


def activity(s: Snapshot) -> list[str]:
    """What the workers are doing: "3 compressing", "4 uploading", "2 retrying", "12 queued", …"""
    working = s.working()
    fields = [f"{working[p]} {_ING[p]}" for p in PHASES if working[p]]
    fields += [f"{n} {_WAIT_SHORT[reason]}" for reason, n in s.waiting.items() if n]
    if s.counts.get(FileState.QUEUED):
        fields.append(f"{s.counts[FileState.QUEUED]:,} queued")
    for state in (FileState.LOADED, FileState.SKIPPED, FileState.FAILED, FileState.CANCELLED):
        if s.counts.get(state):
            fields.append(f"{s.counts[state]:,} {status_word(state)}")
    return fields


def activity_line(s: Snapshot, width: int | None = None) -> str:
    """The activity, then the load's ETA (its bottleneck phase's) once it means something."""
    fields = activity(s)
    if s.eta is not None:
        fields.append(f"ETA {duration(s.eta)}")
    return fit(fields, width, drop=("ETA ",))


_ING = {Phase.COMPRESS: "compressing", Phase.UPLOAD: "uploading", Phase.COPY: "copying"}
_WAIT_SHORT = {
    Wait.SESSION: "waiting for a session",
    Wait.RETRY: "retrying",
    Wait.STAGED: "staged",
    Wait.COMMIT: "awaiting commit",
    Wait.BATCH: "waiting for their batch",
}


def waiting_line(s: Snapshot, width: int | None = None) -> str:
    """ "+ 6 staged, waiting for the final COPY · 2 retrying", or "" when nothing waits."""
    parts = [f"{n:,} {reason.words}" for reason, n in s.waiting.items() if n]
    line = fit(parts, None if width is None else width - 2, drop=())
    return f"+ {line}" if line else ""


def more_line(hidden: int) -> str:
    return f"… and {hidden:,} more"


SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def spinner(seconds: float) -> str:
    """An activity mark that turns with the seconds spent, so a row that moves no bytes still moves."""
    return SPINNER[int(seconds * 10) % len(SPINNER)]


def shorten(name: str, width: int) -> str:
    """`name` in at most `width` characters, cut in the middle so its end and extension stay."""
    if len(name) <= width:
        return name
    if width <= 1:
        return name[:width]
    tail = max(1, (width - 1) // 2)
    dot = name.rfind(".")
    if dot > 0 and len(name) - dot < width - 2:
        tail = max(tail, len(name) - dot + 2)
    head = width - 1 - tail
    return name[:head] + "…" + name[len(name) - tail :]


def has_byte_progress(f: FileSnapshot) -> bool:
    """Whether the row can show a fraction: compress always; upload and copy once bytes are reported."""
    return f.phase is Phase.COMPRESS or f.phase_bytes_done > 0


def file_progress(f: FileSnapshot) -> str:
    """The figures of a file row. An upload or COPY of one piece reports no bytes until it ends:
    the row then says how long it has run, with a turning mark, instead of sitting at 0%. A batch's
    row counts its files through the phase: a byte rate of a few kB would read as noise."""
    if f.members:
        files = f"{f.members_done:,}/{f.members:,} files"
        return f"{files} · {size_pair(f.phase_bytes_done, f.size)} · {f.phase_elapsed:.1f} s"
    if f.phase is Phase.COMPRESS:
        return f"{size_pair(f.phase_bytes_done, f.size)} · {rate(f.rate)}"
    if f.phase_bytes_done > 0:
        return f"{size_pair(f.phase_bytes_done, f.size)} · {f.phase_elapsed:.1f} s"
    return f"{size(f.size)} · {f.phase_elapsed:.1f} s"


def finished_line(f: FileSnapshot) -> str:
    """One line per ended file, as the log view and the summaries print it."""
    text = f"{f.name}: {status_word(f.state)}"
    if f.state is FileState.LOADED:
        text += f" · {f.rows:,} rows · {size(f.size)} · {f.elapsed:.1f} s"
    if f.error and f.state is not FileState.SKIPPED:
        text += f" · {f.error}"
    notes = notes_of(f)
    if notes:
        text += f" · {notes}"
    return text


def notes_of(f: FileSnapshot) -> str | None:
    """The columns a file that was loaded (or tried) left NULL or left out; None for one loaded before."""
    if f.state is FileState.SKIPPED:
        return None
    return column_notes(f.null_columns, f.ignored_columns)


def summary_line(s: Snapshot) -> str:
    counts = {status_word(state): n for state, n in s.counts.items() if state.terminal}
    if s.ended and s.counts[FileState.QUEUED]:
        counts["not started"] = s.counts[FileState.QUEUED]
    return summary(s.state, s.rows_loaded, s.table, plural(s.files_total, s.unit), counts, s.elapsed)
