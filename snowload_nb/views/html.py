"""HTML for notebooks: the results table, the live page of `progress="html"`, and the static record.

The record is what a finished load leaves in its cell: plain HTML with inline styles and no
script, so it reads the same wherever the notebook is opened (JupyterLab, nbconvert, GitHub).

Everything a user or a file system named (paths, errors) is escaped: a file called
`<script>.csv` is text here, never markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ..formatting import Row, header_html, record_html, record_text
from ..formatting import results_html as table  # noqa: F401  (the widget's live table)
from ..formatting import summary_html as summary
from ..model import FileSnapshot, FileState, LoadState, PhaseSnapshot, Snapshot
from . import text


def scrollable(inner: str, max_height_px: int = 220) -> str:
    return f"<div style='max-height:{max_height_px}px;overflow-y:auto'>{inner}</div>"


STATE_COLOURS = {
    LoadState.PENDING: "#1565c0",
    LoadState.RUNNING: "#1565c0",
    LoadState.DONE: "#2e7d32",
    LoadState.FAILED: "#c62828",
    LoadState.CANCELLED: "#ef6c00",
}
_BAR_BACK = "display:inline-block;vertical-align:middle;width:40%;max-width:360px;height:12px;background:#e0e0e0"
_LINE = "display:flex;align-items:center;gap:8px;font-size:12px;margin:2px 0;white-space:nowrap"


def row_of(f: FileSnapshot) -> Row:
    """A finished file's line in the results table, worded as everywhere else."""
    error = None if f.state is FileState.SKIPPED else f.error
    return Row(f.name, text.status_word(f.state), f.rows, f.elapsed, error, text.notes_of(f))


def header(s: Snapshot) -> str:
    return header_html(s, STATE_COLOURS[s.state])


def phase_bar(p: PhaseSnapshot, state: LoadState, running: bool) -> str:
    """One aggregate bar: label, percentage as text (for where styles are stripped), bar, figures."""
    if running:
        style = "running"
    elif p.files_dropped:
        style = "warning" if state is LoadState.CANCELLED else "danger"
    else:
        style = "success"
    width = f"{p.fraction * 100:.1f}%"
    return (
        f"<div class='snowload-phase' style='{_LINE}'>"
        f"<span class='snowload-label' style='display:inline-block;width:64px'>{p.phase.label}</span>"
        f"<span style='display:inline-block;width:36px;text-align:right'>{p.fraction * 100:.0f}%</span>"
        f"<span style='{_BAR_BACK}'><span class='snowload-fill snowload-{style}' "
        f"style='display:block;height:100%;width:{width};background:{_BAR_COLOURS[style]}'></span></span>"
        f"<span class='snowload-detail'>{escape(text.phase_line(p, running=running))}</span></div>"
    )


_BAR_COLOURS = {"running": "#1565c0", "success": "#2e7d32", "danger": "#c62828", "warning": "#ef6c00"}


def file_line(f: FileSnapshot) -> str:
    phase = f.phase.value if f.phase else f.state.value
    if text.has_byte_progress(f):
        mark = f"{f.phase_fraction * 100:.0f}%"
        bar = (
            f"<span style='{_BAR_BACK};width:20%;height:8px'><span style='display:block;height:100%;"
            f"width:{f.phase_fraction * 100:.1f}%;background:#64b5f6'></span></span>"
        )
    else:
        mark, bar = text.spinner(f.phase_elapsed), ""
    return (
        f"<div style='{_LINE}'><span style='display:inline-block;width:220px;overflow:hidden;"
        f"text-overflow:ellipsis' title='{escape(f.path)}'>{escape(f.name)}</span>"
        f"<span style='display:inline-block;width:64px'>{phase}</span>"
        f"<span style='display:inline-block;width:36px;text-align:right'>{mark}</span>{bar}"
        f"<span>{escape(text.file_progress(f))}</span></div>"
    )


def live(s: Snapshot, max_rows: int) -> str:
    """The running load as HTML: header, what the workers do, bars, the files at work, what waits."""
    parts = [f"<div class='snowload-header' style='font-size:13px;margin:2px 0'>{header(s)}</div>"]
    parts.append(f"<div style='font-size:12px;color:#555;margin:2px 0'>{escape(text.activity_line(s))}</div>")
    parts += [phase_bar(p, s.state, running=True) for p in s.phases]
    active = s.active
    shown = active if len(active) <= max_rows else active[: max_rows - 1]
    parts += [file_line(f) for f in shown]
    if len(shown) < len(active):
        parts.append(f"<div style='{_LINE}'>{escape(text.more_line(len(active) - len(shown)))}</div>")
    waiting = text.waiting_line(s)
    if waiting:
        parts.append(f"<div style='{_LINE};color:#666'>{escape(waiting)}</div>")
    return "<div class='snowload-live'>" + "".join(parts) + "</div>"


def record(s: Snapshot, rows: Sequence[Row], timeline_svg: str | None = None) -> str:
    """What a finished load leaves in its cell: summary, header, bars, results table (every
    failure, a capped number of other files), timeline."""
    parts = [summary(text.summary_line(s), s.state.value)]
    parts.append(f"<div class='snowload-header' style='font-size:12px;color:#555;margin:2px 0'>{header(s)}</div>")
    parts += [phase_bar(p, s.state, running=False) for p in s.phases]
    parts.append(scrollable(record_html(rows, title="Results"), max_height_px=320))
    if timeline_svg:
        many = len(rows) > TIMELINE_OPEN_MAX
        parts.append(
            f"<details{'' if many else ' open'}><summary style='font-size:12px;cursor:pointer'>Timeline</summary>"
            f"{timeline_svg}</details>"
        )
    return "<div class='snowload-record'>" + "".join(parts) + "</div>"


def record_parts(s: Snapshot) -> tuple[str, str]:
    """The record's HTML and text for a finished load: files in the order given, and its timeline."""
    rows = [row_of(f) for f in sorted(s.finished, key=lambda f: f.index)]
    svg = None
    if s.timeline is not None:
        from ..timeline import Timeline

        svg = Timeline(s.timeline).to_svg(max_rows=RECORD_TIMELINE_ROWS)
    return record(s, rows, svg), plain_record(s, rows)


def plain_record(s: Snapshot, rows: Sequence[Row]) -> str:
    lines = [text.summary_line(s)]
    lines += [f"{p.phase.label:<8} {p.fraction * 100:3.0f}%  {text.phase_line(p, running=False)}" for p in s.phases]
    return "\n".join(lines) + "\n" + record_text(rows)


TIMELINE_OPEN_MAX = 20  # more files than this: the record's timeline starts folded
# Files the record's timeline draws (about 0.5 kB each); `result.timeline()` draws up to 200.
RECORD_TIMELINE_ROWS = 30
