"""The words and numbers every view shows, formatted one way."""

from __future__ import annotations

from collections.abc import Mapping

from ..model import FileSnapshot, FileState, LoadState, Phase, PhaseSnapshot, Snapshot

MB = 1_000_000
OUTCOMES = {
    LoadState.PENDING: "Starting",
    LoadState.RUNNING: "Running",
    LoadState.DONE: "Done",
    LoadState.FAILED: "Done with failures",
    LoadState.CANCELLED: "Cancelled",
}


def size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    if n < MB:
        return f"{n / 1000:.1f} kB"
    if n < 1000 * MB:
        return f"{n / MB:.1f} MB"
    return f"{n / (1000 * MB):.2f} GB"


def rate(bytes_per_second: float) -> str:
    return f"{bytes_per_second / MB:,.1f} MB/s"


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def seconds_taken(seconds: float) -> str:
    """How long something took: tenths under a minute, then minutes and seconds."""
    return f"{seconds:.1f} s" if seconds < 60 else duration(seconds)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def phase_line(p: PhaseSnapshot, running: bool = True) -> str:
    """ "3/12 files · 40.1/120.0 MB · 85.3 MB/s · ETA 0:01", and rows for Copy."""
    parts = [
        f"{p.files_done}/{p.files_total} {p.unit}s",
        f"{p.bytes_done / MB:,.1f}/{p.bytes_total / MB:,.1f} MB",
    ]
    if running and not p.settled:
        parts += [rate(p.rate), f"ETA {duration(p.eta)}"]
    if p.phase is Phase.COPY:
        parts.append(f"{p.rows:,} rows")
    return " · ".join(parts)


def header_line(s: Snapshot) -> str:
    return (
        f"{s.table} · {plural(s.files_total, s.unit)} · {size(s.bytes_total)} · {plural(s.workers, 'worker')} · "
        f"{duration(s.elapsed)} · {s.state.value}"
    )


def status_word(state: FileState) -> str:
    """The word for a file's state; a skipped file says why it was skipped."""
    return "already loaded" if state is FileState.SKIPPED else state.value


def file_progress(f: FileSnapshot) -> str:
    if f.phase_bytes_done == 0 and f.phase is not Phase.COMPRESS:
        # an upload or a COPY of one piece reports nothing until it ends: say how long it has run
        return f"{size(f.size)} · {f.phase_elapsed:.1f} s"
    return f"{size(f.phase_bytes_done)}/{size(f.size)} · {rate(f.rate)}"


def finished_line(f: FileSnapshot) -> str:
    """One line per ended file, as the log view and the summaries print it."""
    text = f"{f.name}: {status_word(f.state)}"
    if f.state is FileState.LOADED:
        text += f" · {f.rows:,} rows · {size(f.size)} · {f.elapsed:.1f} s"
    if f.error and f.state is not FileState.SKIPPED:
        text += f" · {f.error}"
    return text


def summary_line(s: Snapshot) -> str:
    counts = {status_word(state): n for state, n in s.counts.items() if state.terminal}
    if s.ended and s.counts[FileState.QUEUED]:
        counts["not started"] = s.counts[FileState.QUEUED]
    return summary(s.state, s.rows_loaded, s.table, plural(s.files_total, s.unit), counts, s.elapsed)


def summary(state: LoadState, rows: int, table: str, files: str, counts: Mapping[str, int], seconds: float) -> str:
    """ "Done: 1,234 rows into EVENTS from 12 files (11 loaded, 1 already loaded) in 2.5 s"."""
    parts = [f"{counts.get('loaded', 0)} loaded"]
    parts += [f"{n} {word}" for word, n in counts.items() if n and word != "loaded"]
    return (
        f"{OUTCOMES[state]}: {plural(rows, 'row')} into {table} from {files} "
        f"({', '.join(parts)}) in {seconds_taken(seconds)}"
    )
