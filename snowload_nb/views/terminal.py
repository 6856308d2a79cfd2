"""The terminal view: three aggregate tqdm bars on fixed lines, and a pool of per-file lines.

The original defect was several threads closing and recreating one shared bar. Here only the
refresher thread (and the final draw, after it stopped) touches a bar, every file bar sits on a
line taken from a fixed pool, and the line goes back to the pool when the file ends.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

import tqdm.auto
import tqdm.autonotebook
import tqdm.std

from ..model import PHASES, FileSnapshot, FileState, Snapshot
from . import text

MAX_FILE_LINES = 8
_RESOLUTION = 1000  # bars count thousandths: our own fractions, not tqdm's byte arithmetic
_AGGREGATE_FORMAT = "{desc:<8} {percentage:3.0f}%|{bar:30}| {detail}"
_FILE_FORMAT = "  {desc} {percentage:3.0f}%|{bar:20}| {detail}"


class _Bar(tqdm.auto.tqdm):  # type: ignore[misc,valid-type]
    """A bar whose right-hand text is ours ({detail}), not tqdm's own counts and rates."""

    # tqdm's monitor thread would redraw bars from a thread of its own; only we draw.
    monitor_interval = 0
    detail = ""

    @property
    def format_dict(self) -> dict[str, Any]:
        return {**super().format_dict, "detail": self.detail}


class TerminalView:
    """tqdm bars on stderr, redrawn from snapshots."""

    refresh_interval = 0.1

    def __init__(self, workers: int, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        # In a notebook tqdm.auto draws widgets, which must be created on the calling thread;
        # there only the aggregate bars (made here) are shown.
        in_notebook = tqdm.autonotebook.tqdm is not tqdm.std.tqdm
        self._slots = 0 if in_notebook else min(workers, MAX_FILE_LINES)
        self._free_lines = list(range(len(PHASES), len(PHASES) + self._slots))
        self._file_bars: dict[int, tuple[Any, int]] = {}  # file index -> (bar, line)
        self._aggregates = [self._bar(phase.label, position, leave=True) for position, phase in enumerate(PHASES)]

    def _bar(self, desc: str, position: int, leave: bool, file_line: bool = False) -> Any:
        return _Bar(
            total=_RESOLUTION,
            desc=desc,
            position=position,
            leave=leave,
            file=self._stream,
            bar_format=_FILE_FORMAT if file_line else _AGGREGATE_FORMAT,
            dynamic_ncols=True,
            mininterval=0,
            smoothing=0,
        )

    def draw(self, snapshot: Snapshot) -> None:
        self._draw_aggregates(snapshot, running=True)
        self._draw_files(snapshot.active[: self._slots])

    def close(self, snapshot: Snapshot) -> None:
        self._draw_files(())
        self._draw_aggregates(snapshot, running=False)
        for bar in self._aggregates:
            bar.close()
        self._stream.write(self.summary(snapshot))
        self._stream.flush()

    @staticmethod
    def summary(snapshot: Snapshot) -> str:
        failures = [f"  {text.finished_line(f)}" for f in snapshot.finished if f.state is FileState.FAILED]
        return "\n".join([text.summary_line(snapshot), *failures]) + "\n"

    def _draw_aggregates(self, snapshot: Snapshot, running: bool) -> None:
        for bar, phase in zip(self._aggregates, snapshot.phases, strict=True):
            bar.n = round(phase.fraction * _RESOLUTION)
            bar.detail = text.phase_line(phase, running=running)
            bar.refresh()

    def _draw_files(self, active: tuple[FileSnapshot, ...]) -> None:
        shown = {f.index: f for f in active}
        for index in [i for i in self._file_bars if i not in shown]:
            bar, line = self._file_bars.pop(index)
            bar.close()
            self._free_lines.append(line)
        for f in active:
            if f.index not in self._file_bars:
                self._free_lines.sort()
                line = self._free_lines.pop(0)
                self._file_bars[f.index] = (self._bar("", line, leave=False, file_line=True), line)
            bar, _ = self._file_bars[f.index]
            phase = f.phase.value if f.phase else f.state.value
            bar.set_description_str(f"{_fit(f.name, 28)} {phase:<8}", refresh=False)
            bar.n = round(f.phase_fraction * _RESOLUTION)
            bar.detail = text.file_progress(f)
            bar.refresh()


def _fit(name: str, width: int) -> str:
    return name.ljust(width) if len(name) <= width else name[: width - 1] + "…"
