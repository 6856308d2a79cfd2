"""The progress of a load: a thread-safe state machine per file and running totals per phase.

Worker threads only call the mutators here (each O(1) under one lock); views only ever see the
immutable `Snapshot` that `snapshot()` returns. Nothing in this module knows about a UI.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload


class Phase(enum.Enum):
    """The three steps every file goes through, in order."""

    COMPRESS = "compress"
    UPLOAD = "upload"
    COPY = "copy"

    @property
    def label(self) -> str:
        return self.value.capitalize()


PHASES: tuple[Phase, ...] = tuple(Phase)


class FileState(enum.Enum):
    """Where a file is. The last four are terminal and double as `FileResult.status`."""

    QUEUED = "queued"
    COMPRESSING = "compressing"
    UPLOADING = "uploading"
    COPYING = "copying"
    LOADED = "loaded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({FileState.LOADED, FileState.FAILED, FileState.SKIPPED, FileState.CANCELLED})

_PHASE_STATE = {
    Phase.COMPRESS: FileState.COMPRESSING,
    Phase.UPLOAD: FileState.UPLOADING,
    Phase.COPY: FileState.COPYING,
}
_STATE_PHASE = {state: phase for phase, state in _PHASE_STATE.items()}

# A phase may start again while a later one runs (with parts, part k+1 compresses while part k
# uploads), so a file's state is the furthest phase it has started.
_ORDER = {
    FileState.QUEUED: 0,
    FileState.COMPRESSING: 1,
    FileState.UPLOADING: 2,
    FileState.COPYING: 3,
}


class LoadState(enum.Enum):
    """The state of the whole load, as the header of every view shows it."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class IllegalTransition(RuntimeError):
    """A mutator was called out of order: a bug in the caller, never bad user input."""


@dataclass(frozen=True)
class PhaseSnapshot:
    """Totals for one phase. Bytes are always bytes of the source files, so phases compare."""

    phase: Phase
    unit: str
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    bytes_dropped: int  # bytes of files that ended (failed, cancelled) before this phase finished
    files_dropped: int
    rows: int
    rate: float  # bytes per second, over the last few seconds
    eta: float | None  # seconds, None while the rate is unknown

    @property
    def fraction(self) -> float:
        """How much went through: a failed or cancelled file leaves its part of the bar empty."""
        if self.bytes_total == 0:
            return 1.0 if self.files_total == 0 else self.files_done / self.files_total
        return min(1.0, self.bytes_done / self.bytes_total)

    @property
    def settled(self) -> bool:
        """Every file either went through this phase or ended before it."""
        return self.files_done + self.files_dropped >= self.files_total


@dataclass(frozen=True)
class FileSnapshot:
    """One file as views draw it."""

    index: int
    name: str
    path: str
    size: int
    state: FileState
    phase: Phase | None  # the phase the state names, None when queued or ended
    phase_bytes_done: int
    staged_bytes: int
    rows: int
    elapsed: float
    rate: float  # source bytes per second in the current phase
    phase_elapsed: float  # seconds since the current phase began
    error: str | None

    @property
    def phase_fraction(self) -> float:
        return 1.0 if self.size == 0 else min(1.0, self.phase_bytes_done / self.size)


class FinishedFiles(Sequence[FileSnapshot]):
    """A read-only view of the first `count` finished files.

    The model only ever appends to the list behind it, so this prefix never changes and a
    snapshot need not copy every finished file on each tick.
    """

    __slots__ = ("_count", "_items")

    def __init__(self, items: list[FileSnapshot], count: int) -> None:
        self._items = items
        self._count = count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> FileSnapshot: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[FileSnapshot]: ...
    def __getitem__(self, index: int | slice) -> FileSnapshot | Sequence[FileSnapshot]:
        if isinstance(index, slice):
            return [self._items[i] for i in range(self._count)[index]]
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(index)
        return self._items[index]

    def __iter__(self) -> Iterator[FileSnapshot]:
        for i in range(self._count):
            yield self._items[i]


@dataclass(frozen=True)
class Snapshot:
    """An immutable picture of the load at one instant."""

    table: str
    workers: int
    unit: str
    state: LoadState
    elapsed: float
    files_total: int
    bytes_total: int
    phases: tuple[PhaseSnapshot, ...]
    active: tuple[FileSnapshot, ...]  # started and not ended, in start order
    finished: FinishedFiles  # in the order they ended
    counts: dict[FileState, int]  # files per state

    def phase(self, phase: Phase) -> PhaseSnapshot:
        return self.phases[PHASES.index(phase)]

    @property
    def rows_loaded(self) -> int:
        return self.phase(Phase.COPY).rows

    @property
    def ended(self) -> bool:
        return self.state in (LoadState.DONE, LoadState.FAILED, LoadState.CANCELLED)


@dataclass(slots=True)
class _File:
    index: int
    name: str
    path: str
    size: int
    state: FileState = FileState.QUEUED
    done: list[int] = field(default_factory=lambda: [0, 0, 0])
    completed: list[bool] = field(default_factory=lambda: [False, False, False])
    staged_bytes: int = 0
    rows: int = 0
    started: float | None = None
    ended: float | None = None
    phase_started: float = 0.0
    error: str | None = None


@dataclass(slots=True)
class _PhaseTotals:
    files_done: int = 0
    bytes_done: int = 0
    bytes_dropped: int = 0
    files_dropped: int = 0
    rows: int = 0
    samples: deque[tuple[float, int]] = field(default_factory=deque)


RATE_WINDOW_SECONDS = 5.0


class ProgressModel:
    """Per-file state machines and per-phase totals, safe to advance from any number of threads."""

    def __init__(
        self, table: str, workers: int, clock: Callable[[], float] = time.monotonic, unit: str = "file"
    ) -> None:
        self.table = table
        self.workers = workers
        self.unit = unit  # what the views call one item: a file, or a chunk of a DataFrame
        self._clock = clock
        self._lock = threading.Lock()
        self._files: list[_File] = []
        self._active: dict[int, _File] = {}
        self._finished: list[FileSnapshot] = []
        self._totals = [_PhaseTotals() for _ in PHASES]
        self._counts = dict.fromkeys(FileState, 0)
        self._bytes_total = 0
        self._state = LoadState.PENDING
        self._started: float | None = None
        self._ended: float | None = None

    # -- set-up, on the calling thread -------------------------------------------------------

    def add_file(self, name: str, path: str, size: int) -> int:
        with self._lock:
            index = len(self._files)
            self._files.append(_File(index, name, path, size))
            self._bytes_total += size
            self._counts[FileState.QUEUED] += 1
            return index

    def start(self) -> None:
        with self._lock:
            self._state = LoadState.RUNNING
            self._started = self._clock()

    def end(self, cancelled: bool = False) -> None:
        with self._lock:
            self._ended = self._clock()
            if cancelled:
                self._state = LoadState.CANCELLED
            elif self._counts[FileState.FAILED] or self._counts[FileState.CANCELLED]:
                self._state = LoadState.FAILED
            else:
                self._state = LoadState.DONE

    # -- mutators, from worker threads ---------------------------------------------------------

    def begin(self, index: int, phase: Phase) -> None:
        """The file starts (or resumes, for a later part) work in `phase`."""
        with self._lock:
            f = self._files[index]
            self._check_live(f, phase)
            now = self._clock()
            if f.started is None:
                f.started = now
                self._active[index] = f
            target = _PHASE_STATE[phase]
            if _ORDER[target] > _ORDER[f.state]:
                self._move(f, target)
                f.phase_started = now

    def advance(self, index: int, phase: Phase, nbytes: int) -> None:
        """`nbytes` more source bytes of the file went through `phase`."""
        with self._lock:
            f = self._files[index]
            self._check_live(f, phase)
            p = PHASES.index(phase)
            step = min(nbytes, f.size - f.done[p])
            f.done[p] += step
            self._totals[p].bytes_done += step

    def complete(self, index: int, phase: Phase) -> None:
        """All of the file went through `phase`."""
        with self._lock:
            f = self._files[index]
            self._check_live(f, phase)
            if not f.completed[PHASES.index(phase)]:
                self._complete_unlocked(f, phase)

    def staged(self, index: int, nbytes: int) -> None:
        """`nbytes` of compressed data of the file were written to the stage."""
        with self._lock:
            self._files[index].staged_bytes += nbytes

    def finish(self, index: int, state: FileState, rows: int = 0, error: str | None = None) -> None:
        """The file ends in a terminal state; phases it did not complete count as dropped."""
        if not state.terminal:
            raise IllegalTransition(f"{state.value} is not a terminal state")
        with self._lock:
            f = self._files[index]
            if f.state.terminal:
                raise IllegalTransition(f"{f.name} already ended as {f.state.value}")
            now = self._clock()
            if state is FileState.SKIPPED and not f.completed[PHASES.index(Phase.COPY)]:
                # Already in the table: the copy of this file is done, with nothing to add.
                self._complete_unlocked(f, Phase.COPY)
            for p, totals in enumerate(self._totals):
                if not f.completed[p]:
                    totals.bytes_dropped += f.size - f.done[p]
                    totals.files_dropped += 1
            f.rows = rows
            self._totals[PHASES.index(Phase.COPY)].rows += rows
            f.error = error
            f.ended = now
            if f.started is None:
                f.started = now
            self._move(f, state)
            self._active.pop(index, None)
            self._finished.append(self._file_snapshot(f, now))

    def state_of(self, index: int) -> FileState:
        with self._lock:
            return self._files[index].state

    # -- reading, from the refresher and the calling thread ------------------------------------

    def snapshot(self) -> Snapshot:
        with self._lock:
            now = self._clock()
            phases = tuple(self._phase_snapshot(p, now) for p in range(len(PHASES)))
            return Snapshot(
                table=self.table,
                workers=self.workers,
                unit=self.unit,
                state=self._state,
                elapsed=self._elapsed(now),
                files_total=len(self._files),
                bytes_total=self._bytes_total,
                phases=phases,
                active=tuple(self._file_snapshot(f, now) for f in self._active.values()),
                finished=FinishedFiles(self._finished, len(self._finished)),
                counts=dict(self._counts),
            )

    def files(self) -> list[FileSnapshot]:
        """Every file, in the order added: O(files), for results rather than for drawing."""
        with self._lock:
            now = self._clock()
            return [self._file_snapshot(f, now) for f in self._files]

    # -- internals, lock held ------------------------------------------------------------------

    def _check_live(self, f: _File, phase: Phase) -> None:
        if f.state.terminal:
            raise IllegalTransition(f"{f.name} already ended as {f.state.value}; cannot {phase.value}")

    def _move(self, f: _File, state: FileState) -> None:
        self._counts[f.state] -= 1
        self._counts[state] += 1
        f.state = state

    def _complete_unlocked(self, f: _File, phase: Phase) -> None:
        p = PHASES.index(phase)
        totals = self._totals[p]
        totals.bytes_done += f.size - f.done[p]
        f.done[p] = f.size
        f.completed[p] = True
        totals.files_done += 1

    def _elapsed(self, now: float) -> float:
        if self._started is None:
            return 0.0
        return (self._ended if self._ended is not None else now) - self._started

    def _phase_snapshot(self, p: int, now: float) -> PhaseSnapshot:
        totals = self._totals[p]
        samples = totals.samples
        if self._state is LoadState.RUNNING:
            samples.append((now, totals.bytes_done))
            while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW_SECONDS:
                samples.popleft()
        rate = 0.0
        if len(samples) >= 2 and samples[-1][0] > samples[0][0]:
            rate = (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])
        remaining = self._bytes_total - totals.bytes_done - totals.bytes_dropped
        eta = remaining / rate if rate > 0 else (0.0 if remaining <= 0 else None)
        return PhaseSnapshot(
            phase=PHASES[p],
            unit=self.unit,
            files_done=totals.files_done,
            files_total=len(self._files),
            bytes_done=totals.bytes_done,
            bytes_total=self._bytes_total,
            bytes_dropped=totals.bytes_dropped,
            files_dropped=totals.files_dropped,
            rows=totals.rows,
            rate=rate,
            eta=eta,
        )

    def _file_snapshot(self, f: _File, now: float) -> FileSnapshot:
        phase = _STATE_PHASE.get(f.state)
        phase_done = f.done[PHASES.index(phase)] if phase else 0
        end = f.ended if f.ended is not None else now
        in_phase = end - f.phase_started if phase else 0.0
        return FileSnapshot(
            index=f.index,
            name=f.name,
            path=f.path,
            size=f.size,
            state=f.state,
            phase=phase,
            phase_bytes_done=phase_done,
            staged_bytes=f.staged_bytes,
            rows=f.rows,
            elapsed=0.0 if f.started is None else end - f.started,
            rate=phase_done / in_phase if in_phase > 0 else 0.0,
            phase_elapsed=in_phase,
            error=f.error,
        )
