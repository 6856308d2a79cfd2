"""The terminal view: one block of lines, redrawn in place, that fits the terminal at every redraw.

Only the refresher thread (and the final draw, after it stopped) writes. Each redraw moves the
cursor back to the block's first line, erases to the end of the screen and writes the block
again, every line cut to the terminal's width by dropping whole fields, never mid-figure. The
width is read at each redraw, so a resize takes effect within one refresh; when the terminal
got narrower, the old block's lines may have been re-wrapped by the terminal, so the cursor goes
up by as many rows as they take at the new width.
"""

from __future__ import annotations

import math
import os
import sys
from typing import TextIO

from ..model import FileSnapshot, FileState, Snapshot
from . import text

MAX_FILE_LINES = 8
_LABEL = 8  # "Compress"
_BAR_MAX, _BAR_MIN = 30, 10
_FILE_BAR_MAX, _FILE_BAR_MIN = 20, 8
_NAME_MAX, _NAME_FAIR, _NAME_MIN = 28, 18, 10
_PULSE = "▒▒▒▒"
_EIGHTHS = " ▏▎▍▌▋▊▉█"


class TerminalView:
    """Aggregate bars, one line per file being worked on, and what the workers are doing."""

    refresh_interval = 0.1

    def __init__(self, workers: int, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._slots = min(workers, MAX_FILE_LINES)
        self._drawn: list[str] = []  # the lines on screen now
        self._drawn_width = 0

    def draw(self, snapshot: Snapshot) -> None:
        self._paint(self.lines(snapshot, *self._size()))

    def close(self, snapshot: Snapshot) -> None:
        self._paint(self.final_lines(snapshot, self._size()[0]))
        self._drawn = []

    @staticmethod
    def summary(snapshot: Snapshot) -> str:
        # Failed files, and files loaded without some columns: nothing left NULL or out unsaid.
        told = [f for f in snapshot.finished if f.state is FileState.FAILED or text.notes_of(f)]
        lines = [f"  {text.finished_line(f)}" for f in told]
        return "\n".join([text.summary_line(snapshot), *lines]) + "\n"

    def lines(self, s: Snapshot, columns: int, rows: int = 24) -> list[str]:
        """The running block for a terminal of `columns` x `rows`."""
        width = max(20, columns - 1)  # the last column would wrap on some terminals
        created = _created(s, width)
        out = [*created, text.activity_line(s, width) or "starting…"]
        out += _aggregates(s, width, running=True)
        slots = max(1, min(self._slots, rows - 7 - len(created)))
        active = s.active
        shown = active if len(active) <= slots else active[: slots - 1]
        out += _file_lines(shown, width)
        if len(shown) < len(active):
            out.append("  " + text.more_line(len(active) - len(shown)))
        waiting = text.waiting_line(s, width - 2)
        if waiting:
            out.append("  " + waiting)
        return out

    def final_lines(self, s: Snapshot, columns: int) -> list[str]:
        width = max(20, columns - 1)
        return _created(s, width) + _aggregates(s, width, running=False) + self.summary(s).rstrip("\n").split("\n")

    def _size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self._stream.fileno())
            return size.columns, size.lines
        except (AttributeError, OSError, ValueError):
            try:
                return int(os.environ.get("COLUMNS", "")), int(os.environ.get("LINES", "24") or 24)
            except ValueError:
                return 80, 24

    def _paint(self, lines: list[str]) -> None:
        width = self._size()[0]
        up = len(self._drawn)
        if self._drawn and width < self._drawn_width:
            up = sum(max(1, math.ceil(len(line) / width)) for line in self._drawn)
        cursor = f"\r\x1b[{up}A" if up else "\r"
        # "\r" before each line: a stream that is no tty (an emulator fed directly) gets no CR for LF
        self._stream.write(cursor + "\x1b[J" + "".join("\r" + line + "\n" for line in lines))
        self._stream.flush()
        self._drawn = lines
        self._drawn_width = width


def _created(s: Snapshot, width: int) -> list[str]:
    """The table this load creates, as one line cut to the terminal's width; none if it exists."""
    line = text.created_line(s)
    if line is None:
        return []
    return [line if len(line) <= width else line[: width - 1] + "…"]


def _bar(fraction: float, width: int) -> str:
    filled = max(0.0, min(1.0, fraction)) * width
    full = int(filled)
    bar = "█" * full
    if full < width:
        bar += _EIGHTHS[int((filled - full) * 8)]
    return bar.ljust(width)


def _pulse(seconds: float, width: int) -> str:
    """An indeterminate bar: a block that travels with the seconds spent."""
    n = len(_PULSE)
    at = int(seconds * 8) % (width + n) - n  # where the block's left end is; off the bar at first
    return "".join(_PULSE[0] if at <= i < at + n else " " for i in range(width))


def _aggregates(s: Snapshot, width: int, running: bool) -> list[str]:
    """The three phase lines, their bars one width so they read as a column."""
    heads = [f"{p.phase.label:<{_LABEL}} {p.fraction * 100:3.0f}%" for p in s.phases]
    room = width - len(heads[0]) - 3  # "|" bar "| "
    if room < _BAR_MIN:
        return [head[:width] for head in heads]
    details = [text.phase_line(p, running=running, width=room - _BAR_MIN) for p in s.phases]
    bar_width = max(_BAR_MIN, min(_BAR_MAX, room - max(map(len, details))))
    details = [text.phase_line(p, running=running, width=room - bar_width) for p in s.phases]
    return [
        f"{head}|{_bar(p.fraction, bar_width)}| {detail}".rstrip()
        for head, p, detail in zip(heads, s.phases, details, strict=True)
    ]


def _file_lines(files: tuple[FileSnapshot, ...], width: int) -> list[str]:
    """One line per file, names and bars one width: narrower bars first, then shorter names,
    then fewer figures."""
    if not files:
        return []
    room = width - (2 + 1 + 8 + 1 + 4 + 3)  # indent, gaps, phase, percent, bar edges
    names = min(_NAME_MAX, max(len(f.name) for f in files))
    # figures give way (the rate first) before a name is cut below _NAME_FAIR
    budget = room - _FILE_BAR_MIN - min(names, _NAME_FAIR)
    details = [_fit_detail(text.file_progress(f), budget) for f in files]
    longest = max(map(len, details))
    name_width = max(_NAME_MIN, min(names, room - _FILE_BAR_MIN - longest))
    bar_width = max(_FILE_BAR_MIN, min(_FILE_BAR_MAX, room - name_width - longest))
    lines = []
    for f, detail in zip(files, details, strict=True):
        phase = f.phase.value if f.phase else f.state.value
        if text.has_byte_progress(f):
            mark, bar = f"{f.phase_fraction * 100:3.0f}%", _bar(f.phase_fraction, bar_width)
        else:
            mark, bar = f"   {text.spinner(f.phase_elapsed)}", _pulse(f.phase_elapsed, bar_width)
        head = f"  {text.shorten(f.name, name_width):<{name_width}} {phase:<8} {mark}"
        left = room - name_width - bar_width
        if left < 4:  # too narrow for a bar: name, phase and figures only
            lines.append(f"{head} {_fit_detail(detail, width - len(head) - 1)}".rstrip())
        else:
            lines.append(f"{head}|{bar}| {_fit_detail(detail, left)}".rstrip())
    return lines


def _fit_detail(detail: str, width: int) -> str:
    return text.fit(detail.split(" · "), width, drop=("/s", " s"))
