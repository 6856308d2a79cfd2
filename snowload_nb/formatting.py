"""Every figure and sentence a user reads about a load, worded one way: sizes, durations, the
summary line, the header, each status's word and the results table, as text and as HTML.

Results, the views and the CLI all format through here, so "already loaded" (never "skipped")
and "2.5 s" read the same in a terminal, a widget, a `LoadResult` and `snowload load`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from textwrap import fill

from .model import FileState, LoadState, Snapshot

MB = 1_000_000
MAX_ROWS = 1000  # rows of a live results table shown in HTML; earlier ones are counted in a note
# A record (the saved output, a LoadResult shown, results_table()) lists every failure and this
# many other files; the rest are counted in a note. About 0.6 kB of HTML a row: with the
# record's timeline, a notebook of a 3,000-file load then stays well under 100 kB.
RECORD_ROWS = 40
OUTCOMES = {
    LoadState.PENDING: "Starting",
    LoadState.RUNNING: "Running",
    LoadState.DONE: "Done",
    LoadState.FAILED: "Done with failures",
    LoadState.CANCELLED: "Cancelled",
}
# The words of a file's ended states; a file loaded before says so instead of "skipped".
_STATUS_WORDS = {FileState.SKIPPED: "already loaded"}


def size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    if n < MB:
        return f"{n / 1000:.1f} kB"
    if n < 1000 * MB:
        return f"{n / MB:.1f} MB"
    return f"{n / (1000 * MB):.2f} GB"


def size_pair(done: int, total: int) -> str:
    """ "3.1/7.3 MB": one unit when both sizes share it."""
    a, b = size(done), size(total)
    unit_a, unit_b = a.rsplit(" ", 1)[1], b.rsplit(" ", 1)[1]
    return f"{a.rsplit(' ', 1)[0]}/{b}" if unit_a == unit_b else f"{a}/{b}"


SIZE_UNITS = (" B", " kB", " MB", " GB")  # how every size field ends


def rate(bytes_per_second: float) -> str:
    """ "85.3 MB/s"; under 1 MB/s in kB, as sizes are, so a slow stream never reads 0.0."""
    if bytes_per_second < MB:
        return f"{bytes_per_second / 1000:,.1f} kB/s"
    return f"{bytes_per_second / MB:,.1f} MB/s"


def item_rate(per_second: float, unit: str = "file") -> str:
    """ "8.1 files/s": the rate of a load of small items."""
    return f"{per_second:,.1f} {unit}s/s"


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


def status_word(state: FileState) -> str:
    """The word for a file's state; a skipped file says why it was skipped."""
    return _STATUS_WORDS.get(state, state.value)


def summary(state: LoadState, rows: int, table: str, files: str, counts: Mapping[str, int], seconds: float) -> str:
    """ "Done: 1,234 rows into EVENTS from 12 files (11 loaded, 1 already loaded) in 2.5 s"."""
    parts = [f"{counts.get('loaded', 0):,} loaded"]
    parts += [f"{n:,} {word}" for word, n in counts.items() if n and word != "loaded"]
    return (
        f"{OUTCOMES[state]}: {plural(rows, 'row')} into {table} from {files} "
        f"({', '.join(parts)}) in {seconds_taken(seconds)}"
    )


def header_fields(s: Snapshot) -> list[str]:
    """What the header of every view says: table, files (and how many the table had loaded
    already, from the moment the re-run check ends them), size, workers, time, state."""
    return [
        s.table,
        plural(s.files_total, s.unit),
        *already_loaded(s),
        size(s.bytes_total),
        workers_field(s),
        duration(s.elapsed),
        s.state.value,
    ]


def workers_field(s: Snapshot) -> str:
    """ "4 workers"; for a cluster's workers, how many are at work now ("2 workers busy"), from
    their reports."""
    if s.busy_workers is not None:
        return f"{plural(s.busy_workers, 'worker')} busy"
    return plural(s.workers, "worker")


def already_loaded(s: Snapshot) -> list[str]:
    """ "12 already loaded", as a field, once any file is; no field before."""
    count = s.counts.get(FileState.SKIPPED, 0)
    return [f"{count:,} {status_word(FileState.SKIPPED)}"] if count else []


def header_line(s: Snapshot) -> str:
    return " · ".join(header_fields(s))


def header_html(s: Snapshot, colour: str) -> str:
    """The header as HTML: the table and the state in bold, the state in `colour`; the table
    this load creates is the table name's tooltip, how its bytes are compressed (and why) the size's."""
    table, *middle, state = (escape(f) for f in header_fields(s))
    created = created_line(s)
    if created is not None:
        table = f"<span title='{escape(created)}' style='text-decoration:underline dotted'>{table}</span>"
    if s.compression:  # the size: the fourth field from the end, before workers, time and state
        middle[-3] = f"<span title='{escape('compression: ' + s.compression)}'>{middle[-3]}</span>"
    return f"<b>{table}</b> · {' · '.join(middle)} · <b style='color:{colour}'>{state}</b>"


def created_line(s: Snapshot) -> str | None:
    """ "creating EVENTS (ID NUMBER(38,0), TS TIMESTAMP_NTZ)": the table this load creates, or None."""
    if not s.created:
        return None
    return f"creating {s.table} ({', '.join(f'{name} {kind}' for name, kind in s.created)})"


@dataclass(frozen=True)
class Row:
    """One file's line in a results table; `status` is already its word."""

    file: str
    status: str
    rows: int
    seconds: float
    error: str | None
    notes: str | None = None  # columns the file did not fill or did not load
    also: tuple[str, ...] = ()  # more files that failed the same way, in this one row (a record of many failures)

    @property
    def files(self) -> tuple[str, ...]:
        return (self.file, *self.also)

    @property
    def remarks(self) -> str:
        """The last column: the error, then the notes."""
        return " · ".join(t for t in (self.error, self.notes) if t)


def column_notes(null_columns: Sequence[str], ignored_columns: Sequence[str]) -> str | None:
    """What a file's result says of the table columns it left NULL and its columns left out, or None."""
    parts = []
    if null_columns:
        parts.append(f"{_columns(null_columns)} not in the file: loaded as NULL")
    if ignored_columns:
        parts.append(f"{_columns(ignored_columns, 'file column')} not in the table: not loaded")
    return "; ".join(parts) or None


def _columns(names: Sequence[str], word: str = "column") -> str:
    return f"{word}{'' if len(names) == 1 else 's'} " + ", ".join(repr(n) for n in names)


def record_rows(rows: Sequence[Row], limit: int | None = RECORD_ROWS) -> tuple[list[Row], str | None]:
    """The rows a record lists, in the order given: every failure, and the first `limit` others;
    with the note that counts the others ("… and 2,740 more loaded: `result.to_pandas()`"),
    or None when every row is listed. A record thus stays small whatever the file count."""
    if limit is None or len(rows) <= limit:
        return list(rows), None
    shown: list[Row] = []
    left: Counter[str] = Counter()
    with_notes = 0
    others = 0
    for r in rows:
        if r.status == FileState.FAILED.value:
            shown.append(r)
        elif others < limit:
            shown.append(r)
            others += 1
        else:
            left[r.status] += 1
            with_notes += bool(r.notes)
    if sum(r.status == FileState.FAILED.value for r in shown) > limit:
        shown = _same_failures_together(shown)
    if not left:
        return shown, None
    counted = ", ".join(f"{n:,} more {word}" for word, n in left.items())
    if with_notes:
        counted += f" ({with_notes:,} of them with column notes)"
    return shown, f"… and {counted}: `result.to_pandas()` lists every file"


def _same_failures_together(rows: list[Row]) -> list[Row]:
    """Failures that share their error (and notes) in one row, where the first of them stood, naming
    every file: a dead server's "not tried" on 3,000 files costs their names, not 3,000 rows."""
    groups: dict[tuple[str | None, str | None], list[Row]] = {}
    order: list[Row | tuple[str | None, str | None]] = []
    for r in rows:
        if r.status != FileState.FAILED.value:
            order.append(r)
            continue
        key = (r.error, r.notes)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    out = []
    for item in order:
        if isinstance(item, Row):
            out.append(item)
            continue
        first, *rest = groups[item]
        if rest:
            also = tuple(n for r in rest for n in r.files)
            rows_ = first.rows + sum(r.rows for r in rest)
            seconds = max(r.seconds for r in groups[item])
            first = Row(first.file, first.status, rows_, seconds, first.error, first.notes, also)
        out.append(first)
    return out


def results_text(rows: Iterable[Row], width: int = 32, note: str | None = None) -> str:
    """The results table as text, for `text/plain` outputs and `snowload load`; names cut at
    `width`; `note` (what `record_rows` left out) under it."""
    lines = [f"{'file':<{width}} {'status':<15} {'rows':>12} {'seconds':>8}  error / notes"]
    for r in rows:
        name = r.file if not r.also else f"{len(r.files):,} files:"
        name = name if len(name) <= width else name[:width]
        lines.append(f"{name:<{width}} {r.status:<15} {r.rows:>12,} {r.seconds:>8.2f}  {r.remarks}".rstrip())
        if r.also:  # every one of them, named
            lines.append(
                fill(
                    ", ".join(r.files),
                    width + 60,
                    initial_indent="  ",
                    subsequent_indent="  ",
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
    if note:
        lines.append(note)
    return "\n".join(lines)


_STATUS_COLOURS = {
    "loaded": "#2e7d32",
    "already loaded": "#546e7a",
    "failed": "#c62828",
    "cancelled": "#ef6c00",
}
_COLUMNS = (
    ("file", "left"),
    ("status", "left"),
    ("rows", "right"),
    ("seconds", "right"),
    ("error / notes", "left"),
)
_TABLE_STYLE = "border-collapse:collapse;font-size:12px;width:100%"
_CELL = "padding:2px 8px;text-align:{align};vertical-align:top"
_ROW = "<tr style='border-bottom:1px solid #ddd'>"  # the rule under each row, once per row (a record stays small)


def results_html(
    rows: Sequence[Row],
    total: int | None = None,
    title: str | None = None,
    more: str | None = None,
    last: int | None = MAX_ROWS,
) -> str:
    """The results table as HTML; only the `last` rows, with a note saying how many came before;
    `more` (what `record_rows` left out) under it."""
    total = len(rows) if total is None else total
    shown = rows if last is None else rows[-last:]
    head = "".join(f'<th style="{_CELL.format(align=align)}">{name}</th>' for name, align in _COLUMNS)
    body = "".join(_row_html(r) for r in shown)
    note = ""
    if total > len(shown):
        note = f"<div style='font-size:11px;color:#666'>{total - len(shown):,} earlier files not shown</div>"
    caption = f"<div style='font-weight:600;margin:4px 0'>{escape(title)}</div>" if title else ""
    after = (
        f"<div class='snowload-more' style='font-size:12px;color:#555;margin:4px 0'>{escape(more)}</div>"
        if more
        else ""
    )
    return (
        f"{caption}{note}<table style='{_TABLE_STYLE}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"{after}"
    )


def record_html(rows: Sequence[Row], title: str | None = None, limit: int | None = RECORD_ROWS) -> str:
    """A record's results table: every failure and up to `limit` other files, the rest counted."""
    shown, more = record_rows(rows, limit)
    return results_html(shown, title=title, more=more, last=None)


def record_text(rows: Sequence[Row], width: int = 32, limit: int | None = RECORD_ROWS) -> str:
    """A record's results table as text: every failure and up to `limit` other files, the rest counted."""
    shown, more = record_rows(rows, limit)
    return results_text(shown, width, more)


def _row_html(r: Row) -> str:
    colour = _STATUS_COLOURS.get(r.status, "#000")
    name = escape(r.file) if not r.also else f"<b>{len(r.files):,} files:</b> " + escape(", ".join(r.files))
    cells = (
        (name, "left", ""),
        (escape(r.status), "left", f";color:{colour}"),
        (f"{r.rows:,}", "right", ""),
        (f"{r.seconds:.2f}", "right", ""),
        (_remarks_html(r), "left", ";white-space:pre-wrap"),
    )
    return _ROW + "".join(f'<td style="{_CELL.format(align=a)}{extra}">{v}</td>' for v, a, extra in cells) + "</tr>"


def _remarks_html(r: Row) -> str:
    """The error in red, the notes in the amber of a warning."""
    parts = [f"<span style='color:#c62828'>{escape(r.error)}</span>"] if r.error else []
    if r.notes:
        parts.append(f"<span class='snowload-notes' style='color:#8d6e00'>{escape(r.notes)}</span>")
    return " · ".join(parts)


def summary_html(text: str, state: str) -> str:
    """The summary line as HTML, coloured by the load's state."""
    colour = {"done": "#2e7d32", "failed": "#c62828", "cancelled": "#ef6c00"}.get(state, "#1565c0")
    return f"<div class='snowload-summary' style='font-weight:600;color:{colour};margin:4px 0'>{escape(text)}</div>"
