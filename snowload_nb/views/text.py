"""The words and numbers every view shows, formatted one way."""

from __future__ import annotations

from ..model import FileSnapshot, FileState, Phase, PhaseSnapshot, Snapshot

MB = 1_000_000


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
        f"{p.files_done}/{p.files_total} files",
        f"{p.bytes_done / MB:,.1f}/{p.bytes_total / MB:,.1f} MB",
    ]
    if running:
        parts += [rate(p.rate), f"ETA {duration(p.eta)}"]
    if p.phase is Phase.COPY:
        parts.append(f"{p.rows:,} rows")
    return " · ".join(parts)


def header_line(s: Snapshot) -> str:
    return (
        f"{s.table} · {s.files_total} files · {size(s.bytes_total)} · {s.workers} workers · "
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
    counts = s.counts
    parts = [f"{counts[FileState.LOADED]} loaded"]
    parts += [
        f"{counts[state]} {status_word(state)}"
        for state in (FileState.SKIPPED, FileState.FAILED, FileState.CANCELLED)
        if counts[state]
    ]
    queued = counts[FileState.QUEUED]
    if queued and s.ended:
        parts.append(f"{queued} not started")
    return (
        f"{s.state.value.capitalize()}: {s.rows_loaded:,} rows into {s.table} from {s.files_total} files "
        f"({', '.join(parts)}) in {duration(s.elapsed)}"
    )
