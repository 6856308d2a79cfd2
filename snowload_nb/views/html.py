"""HTML for results: the widget's tables, `LoadResult._repr_html_`, and the saved-notebook fallback.

Everything a user or a file system named (paths, errors) is escaped: a file called
`<script>.csv` is text here, never markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

MAX_ROWS = 1000

_STATUS_COLOURS = {
    "loaded": "#2e7d32",
    "already loaded": "#546e7a",
    "skipped": "#546e7a",
    "failed": "#c62828",
    "cancelled": "#ef6c00",
}

_COLUMNS = (("file", "left"), ("status", "left"), ("rows", "right"), ("seconds", "right"), ("error", "left"))
_TABLE_STYLE = "border-collapse:collapse;font-size:12px;width:100%"
_CELL = "padding:2px 8px;text-align:{align};border-bottom:1px solid #ddd;vertical-align:top"


@dataclass(frozen=True)
class Row:
    """One file's line in a results table."""

    file: str
    status: str
    rows: int
    seconds: float
    error: str | None


def table(rows: Sequence[Row], total: int | None = None, title: str | None = None) -> str:
    """A compact table; only the last `MAX_ROWS` rows, with a note saying how many came before."""
    total = len(rows) if total is None else total
    shown = rows[-MAX_ROWS:]
    head = "".join(f'<th style="{_CELL.format(align=align)}">{name}</th>' for name, align in _COLUMNS)
    body = "".join(_row(r) for r in shown)
    note = ""
    if total > len(shown):
        note = f"<div style='font-size:11px;color:#666'>{total - len(shown):,} earlier files not shown</div>"
    caption = f"<div style='font-weight:600;margin:4px 0'>{escape(title)}</div>" if title else ""
    return f"{caption}{note}<table style='{_TABLE_STYLE}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def summary(text: str, state: str) -> str:
    colour = {"done": "#2e7d32", "failed": "#c62828", "cancelled": "#ef6c00"}.get(state, "#1565c0")
    return f"<div style='font-weight:600;color:{colour};margin:4px 0'>{escape(text)}</div>"


def scrollable(inner: str, max_height_px: int = 220) -> str:
    return f"<div style='max-height:{max_height_px}px;overflow-y:auto'>{inner}</div>"


def plain_table(rows: Iterable[Row]) -> str:
    """The same table as text, for `text/plain` outputs."""
    lines = [f"{'file':<32} {'status':<15} {'rows':>12} {'seconds':>8}  error"]
    for r in rows:
        lines.append(f"{r.file[:32]:<32} {r.status:<15} {r.rows:>12,} {r.seconds:>8.2f}  {r.error or ''}".rstrip())
    return "\n".join(lines)


def _row(r: Row) -> str:
    colour = _STATUS_COLOURS.get(r.status, "#000")
    cells = (
        (escape(r.file), "left", ""),
        (escape(r.status), "left", f";color:{colour}"),
        (f"{r.rows:,}", "right", ""),
        (f"{r.seconds:.2f}", "right", ""),
        (escape(r.error or ""), "left", ";color:#c62828;white-space:pre-wrap"),
    )
    return "<tr>" + "".join(f'<td style="{_CELL.format(align=a)}{extra}">{v}</td>' for v, a, extra in cells) + "</tr>"
