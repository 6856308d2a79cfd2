"""The log view, for CI and cron: plain lines, never a carriage-return redraw.

One line per file as it ends, and a progress line at most every `interval` seconds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from ..model import Phase, Snapshot
from . import text

PROGRESS_INTERVAL = 5.0


class LogView:
    refresh_interval = 0.5

    def __init__(
        self,
        stream: TextIO | None = None,
        interval: float = PROGRESS_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream or sys.stderr
        self._interval = interval
        self._clock = clock
        self._reported = 0
        self._announced = False
        self._last_progress = 0.0
        self._compression: str | None = None  # auto's codec as last written

    def draw(self, snapshot: Snapshot) -> None:
        self._announce(snapshot)
        self._report_compression(snapshot)
        self._report_finished(snapshot)
        now = self._clock()
        if now - self._last_progress >= self._interval:
            self._last_progress = now
            self._write(self._progress_line(snapshot))

    def close(self, snapshot: Snapshot) -> None:
        self._announce(snapshot)
        self._report_compression(snapshot)
        self._report_finished(snapshot)
        self._write(text.summary_line(snapshot))

    def _announce(self, snapshot: Snapshot) -> None:
        if self._announced:
            return
        self._announced = True
        self._last_progress = self._clock()
        fields = [text.plural(snapshot.files_total, snapshot.unit), text.size(snapshot.bytes_total)]
        fields += text.already_loaded(snapshot)  # ended by the re-run check before any work
        self._write(f"loading into {snapshot.table}: {', '.join(fields)}")
        created = text.created_line(snapshot)
        if created is not None:
            self._write(created)

    def _report_compression(self, snapshot: Snapshot) -> None:
        """A line each time auto compression changes its codec, with the rates behind the choice."""
        note = snapshot.compression
        if not note or not note.startswith("auto:"):  # nothing picked yet, or a forced codec: no news
            return
        codec = note.split(" (")[0]
        if codec != self._compression:
            self._compression = codec
            self._write(f"compression {note}")

    def _report_finished(self, snapshot: Snapshot) -> None:
        for f in snapshot.finished[self._reported :]:
            self._write(text.finished_line(f))
        self._reported = len(snapshot.finished)

    @staticmethod
    def _progress_line(snapshot: Snapshot) -> str:
        parts = [f"{phase.phase.label}: {text.phase_line(phase)}" for phase in snapshot.phases]
        parts.append(text.activity_line(snapshot))  # what the workers do, and the load's ETA
        copy = snapshot.phase(Phase.COPY)
        return f"{copy.fraction:4.0%} {text.duration(snapshot.elapsed)} | " + " | ".join(p for p in parts if p)

    def _write(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self._stream.write(f"{stamp} snowload {line}\n")
        self._stream.flush()
