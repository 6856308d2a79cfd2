"""The progress of a load: a thread-safe state machine per file and running totals per phase.

Worker threads only call the mutators here (each O(1) under one lock); views only ever see the
immutable `Snapshot` that `snapshot()` returns. Rates are sampled when progress is written, never
when a snapshot is read, so what a view shows does not depend on who reads or how often. Nothing
in this module knows about a UI.
"""

from __future__ import annotations

import contextlib
import enum
import math
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import overload

from .errors import IllegalTransition


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


class Wait(enum.Enum):
    """Why a started file is idle: the views count such files as waiting, never as work."""

    SESSION = "session"  # queued for a database session
    RETRY = "retry"  # between attempts after a network failure
    STAGED = "staged"  # on the stage, waiting for the all-or-nothing COPY
    COMMIT = "commit"  # copied inside the transaction, waiting for its commit
    BATCH = "batch"  # compressed, waiting for the rest of its batch to go up together

    @property
    def words(self) -> str:
        """How the views say it after a count: "6 staged, waiting for the final COPY"."""
        return _WAIT_WORDS[self]


_WAIT_WORDS = {
    Wait.SESSION: "waiting for a session",
    Wait.RETRY: "retrying",
    Wait.STAGED: "staged, waiting for the final COPY",
    Wait.COMMIT: "copied, waiting for the commit",
    Wait.BATCH: "compressed, waiting for the rest of their batch",
}

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

# Rates: an exponentially weighted average with this time constant (s), so the last few seconds
# count most. No ETA is shown before a phase has run WARMUP_SECONDS and done WARMUP_FRACTION:
# earlier estimates swing by minutes on a load that takes seconds.
RATE_TAU = 3.0
WARMUP_SECONDS = 3.0
WARMUP_FRACTION = 0.05
# Items under SMALL_ITEM_BYTES are "small". When most items are small and they average under it,
# bytes say little of how a load moves (per-file statements cost more than their bytes): rates
# and ETAs then count items per second. 1,000 CSV files of 100 bytes moved at "0.0 MB/s".
SMALL_ITEM_BYTES = 1_000_000


class LoadState(enum.Enum):
    """The state of the whole load, as the header of every view shows it."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RateMeter:
    """Bytes per second of a growing count, exponentially weighted over the last `tau` seconds.

    Updated only by `add` (when progress is written); `rate(now)` only decays what was written,
    so reading at 1 Hz or 100 Hz gives the same figure. Until `tau` has passed since `start`, the
    weight of the missing past is divided out: early on the rate is the plain average so far.
    """

    __slots__ = ("_last", "_level", "_start", "_tau")

    def __init__(self, tau: float = RATE_TAU) -> None:
        self._tau = tau
        self._start: float | None = None
        self._last = 0.0
        self._level = 0.0  # decayed sum of bytes, as of `_last`

    @property
    def started(self) -> float | None:
        return self._start

    def start(self, now: float) -> None:
        if self._start is None:
            self._start = self._last = now

    def add(self, now: float, amount: int) -> None:
        """`amount` more went through since the last write: counted as spread evenly over that
        interval, so a steady stream written in large or small pieces gives the same rate."""
        if self._start is None:
            self.start(now)
        weight = 1.0
        if now > self._last:
            decay = math.exp((self._last - now) / self._tau)
            weight = (1.0 - decay) * self._tau / (now - self._last)
            self._level *= decay
            self._last = now
        self._level += amount * weight

    def rate(self, now: float) -> float:
        if self._start is None or now <= self._start:
            return 0.0
        level = self._level * math.exp(min(0.0, self._last - now) / self._tau)
        return level / (self._tau * -math.expm1((self._start - now) / self._tau))


class Throughput:
    """Bytes per time bucket since the load started: the timeline's lower chart.

    Buckets start at a twentieth of a second; past MAX_BUCKETS they merge in pairs, so an
    hour-long load keeps a few hundred numbers per phase.
    """

    MAX_BUCKETS = 400
    __slots__ = ("buckets", "width")

    def __init__(self, width: float = 0.05) -> None:
        self.width = width
        self.buckets: list[int] = []

    def add(self, at: float, amount: int) -> None:
        slot = int(max(0.0, at) / self.width)
        while slot >= self.MAX_BUCKETS:
            pairs = self.buckets + [0] * (len(self.buckets) % 2)
            self.buckets = [pairs[i] + pairs[i + 1] for i in range(0, len(pairs), 2)]
            self.width *= 2
            slot = int(max(0.0, at) / self.width)
        if slot >= len(self.buckets):
            self.buckets.extend([0] * (slot + 1 - len(self.buckets)))
        self.buckets[slot] += amount


# Span kinds in the timeline, after the three phases' own indices.
SPAN_KINDS: tuple[str, ...] = (*(p.value for p in PHASES), "retry", "wait")
_KIND = {name: k for k, name in enumerate(SPAN_KINDS)}


@dataclass(frozen=True)
class Span:
    kind: str  # compress, upload, copy, retry or wait
    start: float  # seconds since the load started
    end: float


@dataclass(frozen=True)
class TimelineData:
    """What a finished load's picture is drawn from: every file's spans and each phase's bytes over time."""

    table: str
    unit: str
    seconds: float
    names: tuple[str, ...]  # in the order given
    spans: tuple[tuple[Span, ...], ...]  # per file, in time order
    throughput: Mapping[Phase, tuple[float, tuple[int, ...]]]  # bucket width (s), bytes per bucket


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
    rate: float  # bytes per second, exponentially weighted over the last few seconds
    eta: float | None  # seconds; None until the phase has run long enough for it to mean something
    file_rate: float = 0.0  # items through this phase per second, weighted the same way
    row_rate: float = 0.0  # rows per second (Copy only)
    by_files: bool = False  # most items are small: rates and the ETA count items, not bytes

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
    waiting: Wait | None = None  # started but idle, and why
    null_columns: tuple[str, ...] = ()  # table columns the file lacks, loaded as NULL
    ignored_columns: tuple[str, ...] = ()  # file columns the table lacks, not loaded
    members: int = 0  # a batch's row: the files it holds (0 for a file's own row)
    members_done: int = 0  # of them, those through the row's phase or ended
    busy: int = 1  # files of the row at work in its phase now

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
    phases: tuple[PhaseSnapshot, ...]  # in PHASES order
    active: tuple[FileSnapshot, ...]  # being worked on now (started, not ended, not waiting), in start order
    finished: FinishedFiles  # in the order they ended
    counts: Mapping[FileState, int]  # files per state (read-only)
    waiting: Mapping[Wait, int] = field(default_factory=lambda: MappingProxyType({}))  # idle started files
    eta: float | None = None  # of the whole load: the bottleneck phase's
    bottleneck: Phase | None = None  # the phase that will end last at the current rates
    timeline: TimelineData | None = None  # once the load ended
    created: tuple[tuple[str, str], ...] | None = None  # the table's columns, if this load creates it
    compression: str | None = None  # how CSV parts are staged, and why: auto's choice as it changes
    busy_workers: int | None = None  # a cluster's workers at work now, when they report it

    def phase(self, phase: Phase) -> PhaseSnapshot:
        for p in self.phases:
            if p.phase is phase:
                return p
        raise KeyError(phase)

    @property
    def rows_loaded(self) -> int:
        return self.phase(Phase.COPY).rows

    @property
    def ended(self) -> bool:
        return self.state in (LoadState.DONE, LoadState.FAILED, LoadState.CANCELLED)

    def working(self) -> dict[Phase, int]:
        """Files being worked on, by the phase they are in."""
        counts = dict.fromkeys(PHASES, 0)
        for f in self.active:
            if f.phase is not None:
                counts[f.phase] += f.busy
        return counts


@dataclass(slots=True)
class _File:
    index: int
    name: str
    path: str
    size: int
    state: FileState = FileState.QUEUED
    done: dict[Phase, int] = field(default_factory=dict)  # source bytes through each phase
    completed: tuple[Phase, ...] = ()
    staged_bytes: int = 0
    rows: int = 0
    started: float | None = None
    ended: float | None = None
    phase_started: float = 0.0
    error: str | None = None
    waiting: Wait | None = None
    open_spans: dict[int, float] | None = None  # span kind -> start, while the file runs
    null_columns: tuple[str, ...] = ()
    ignored_columns: tuple[str, ...] = ()
    batch: int | None = None  # the batch it is loaded in, if any


@dataclass(slots=True)
class _PhaseTotals:
    files_done: int = 0
    bytes_done: int = 0
    bytes_dropped: int = 0
    files_dropped: int = 0
    rows: int = 0
    meter: RateMeter = field(default_factory=RateMeter)
    file_meter: RateMeter = field(default_factory=RateMeter)  # items done per second
    row_meter: RateMeter = field(default_factory=RateMeter)  # rows per second (Copy)
    throughput: Throughput = field(default_factory=Throughput)


class ProgressModel:
    """Per-file state machines and per-phase totals, safe to advance from any number of threads."""

    def __init__(
        self, table: str, workers: int, clock: Callable[[], float] = time.monotonic, unit: str = "file"
    ) -> None:
        self.table = table
        self.workers = workers
        self.unit = unit  # what the views call one item: a file, or a chunk of a DataFrame
        # The table this load creates, (name, type) per column: set before start(), read by the views.
        self.created: tuple[tuple[str, str], ...] | None = None
        self.compression: str | None = None  # set by the load's codec picker, from any thread
        self._busy_workers: int | None = None
        self._clock = clock
        self._lock = threading.Lock()
        self._files: list[_File] = []
        self._active: dict[int, _File] = {}
        self._batches: dict[int, tuple[int, ...]] = {}  # batch number -> its files' indexes
        self._finished: list[FileSnapshot] = []
        self._phases = {phase: _PhaseTotals() for phase in PHASES}
        self._counts = dict.fromkeys(FileState, 0)
        self._waiting = dict.fromkeys(Wait, 0)
        self._bytes_total = 0
        self._small = 0  # items under SMALL_ITEM_BYTES
        self._state = LoadState.PENDING
        self._started: float | None = None
        self._ended: float | None = None
        # closed spans, four numbers each: file index, kind, start, end (seconds since start)
        self._spans = array("d")
        self._timeline: TimelineData | None = None

    # -- set-up, on the calling thread -------------------------------------------------------

    def add_file(self, name: str, path: str, size: int) -> int:
        with self._lock:
            index = len(self._files)
            self._files.append(_File(index, name, path, size))
            self._bytes_total += size
            self._small += size < SMALL_ITEM_BYTES
            self._counts[FileState.QUEUED] += 1
            return index

    def columns(self, index: int, null_columns: tuple[str, ...], ignored_columns: tuple[str, ...]) -> None:
        """Before the load: which table columns the file leaves NULL, and which of its own it leaves out."""
        with self._lock:
            f = self._files[index]
            f.null_columns, f.ignored_columns = null_columns, ignored_columns

    def batch(self, number: int, indexes: Sequence[int]) -> None:
        """The files load together as one batch: views draw the batch as one row, not a row per file
        flickering through hundreds of names a second."""
        with self._lock:
            self._batches[number] = tuple(indexes)
            for index in indexes:
                self._files[index].batch = number

    def workers_busy(self, count: int) -> None:
        """How many of a cluster's workers are at work now, as their reports say (a Dask load)."""
        with self._lock:
            self._busy_workers = count

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
        """The file starts (or resumes, for a later part) work in `phase`; it no longer waits."""
        with self._lock:
            f = self._files[index]
            self._check_live(f, phase)
            now = self._clock()
            if f.started is None:
                f.started = now
                self._active[index] = f
            self._resume(f, now)
            totals = self._phases[phase]
            totals.meter.start(now)
            totals.file_meter.start(now)
            totals.row_meter.start(now)
            self._open_span(f, _KIND[phase.value], now)
            target = _PHASE_STATE[phase]
            if _ORDER[target] > _ORDER[f.state]:
                self._move(f, target)
                f.phase_started = now

    def advance(self, index: int, phase: Phase, nbytes: int) -> None:
        """`nbytes` more source bytes of the file went through `phase`."""
        with self._lock:
            f = self._files[index]
            self._check_live(f, phase)
            step = min(nbytes, f.size - f.done.get(phase, 0))
            if step > 0:
                f.done[phase] = f.done.get(phase, 0) + step
                self._record(phase, step, self._clock())

    def complete(self, index: int, phase: Phase) -> None:
        """All of the file went through `phase`."""
        with self._lock:
            f = self._files[index]
            self._check_live(f, phase)
            if phase not in f.completed:
                self._complete_unlocked(f, phase, self._clock())

    def resize(self, index: int, size: int) -> None:
        """The file's size is now known to be `size` (a DataFrame chunk once written as Parquet):
        the bars, rates and ETAs count that instead of the estimate it was added with. Only
        before any of its bytes went through a phase."""
        with self._lock:
            f = self._files[index]
            if f.done:
                raise IllegalTransition(f"{f.name} already has bytes counted; it cannot change size")
            self._bytes_total += size - f.size
            self._small += (size < SMALL_ITEM_BYTES) - (f.size < SMALL_ITEM_BYTES)
            f.size = size

    def staged(self, index: int, nbytes: int) -> None:
        """`nbytes` of compressed data of the file were written to the stage."""
        with self._lock:
            self._files[index].staged_bytes += nbytes

    def wait(self, index: int, reason: Wait) -> None:
        """The started file idles until its next `begin` or `resume`: shown as waiting, not as work.

        Advisory: a file that already ended is left as it is, and so is one still compressing (a
        part of it may wait to upload while the next part compresses: the file is at work).
        """
        with self._lock:
            f = self._files[index]
            if f.state.terminal or f.started is None or f.waiting is reason:
                return
            if f.open_spans and _KIND[Phase.COMPRESS.value] in f.open_spans:
                return
            now = self._clock()
            self._resume(f, now)
            f.waiting = reason
            self._waiting[reason] += 1
            self._open_span(f, _KIND["retry" if reason is Wait.RETRY else "wait"], now)

    @contextlib.contextmanager
    def waiting(self, index: int, reason: Wait) -> Iterator[None]:
        """`wait` for the span of a block, then `resume`."""
        self.wait(index, reason)
        try:
            yield
        finally:
            self.resume(index)

    def resume(self, index: int) -> None:
        """The file works again after a `wait`."""
        with self._lock:
            f = self._files[index]
            if not f.state.terminal:
                self._resume(f, self._clock())

    def finish(self, index: int, state: FileState, rows: int = 0, error: str | None = None) -> None:
        """The file ends in a terminal state; phases it did not complete count as dropped."""
        if not state.terminal:
            raise IllegalTransition(f"{state.value} is not a terminal state")
        with self._lock:
            f = self._files[index]
            if f.state.terminal:
                raise IllegalTransition(f"{f.name} already ended as {f.state.value}")
            now = self._clock()
            self._resume(f, now)
            if state is FileState.SKIPPED:
                # Already in the table: nothing of it is left to compress, send or copy (the
                # re-run check ends such files before any work), and no work to time.
                for phase in self._phases:
                    if phase not in f.completed:
                        self._complete_unlocked(f, phase, now, measured=False)
            for phase, totals in self._phases.items():
                if phase not in f.completed:
                    totals.bytes_dropped += f.size - f.done.get(phase, 0)
                    totals.files_dropped += 1
            f.done.clear()  # only a running file's phase bytes are ever shown
            f.rows = rows
            copy = self._phases[Phase.COPY]
            copy.rows += rows
            if rows and state is FileState.LOADED:
                copy.row_meter.add(now, rows)
            f.error = error
            f.ended = now
            if f.started is None:
                f.started = now
            if f.open_spans:
                for kind in list(f.open_spans):
                    self._close_span(f, kind, now)
            f.open_spans = None
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
            phases = tuple(self._phase_snapshot(phase, totals, now) for phase, totals in self._phases.items())
            eta, bottleneck = _load_eta(phases)
            ended = self._state not in (LoadState.PENDING, LoadState.RUNNING)
            if ended and self._timeline is None:
                self._timeline = self._timeline_data(now)
            return Snapshot(
                table=self.table,
                workers=self.workers,
                unit=self.unit,
                state=self._state,
                elapsed=self._elapsed(now),
                files_total=len(self._files),
                bytes_total=self._bytes_total,
                phases=phases,
                active=self._active_rows(now),
                finished=FinishedFiles(self._finished, len(self._finished)),
                counts=MappingProxyType(dict(self._counts)),
                waiting=MappingProxyType({reason: n for reason, n in self._waiting.items() if n}),
                eta=None if ended else eta,
                bottleneck=None if ended else bottleneck,
                timeline=self._timeline if ended else None,
                created=self.created,
                compression=self.compression,
                busy_workers=self._busy_workers,
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

    def _resume(self, f: _File, now: float) -> None:
        if f.waiting is not None:
            self._waiting[f.waiting] -= 1
            self._close_span(f, _KIND["retry" if f.waiting is Wait.RETRY else "wait"], now)
            f.waiting = None

    def _record(self, phase: Phase, nbytes: int, now: float) -> None:
        totals = self._phases[phase]
        totals.bytes_done += nbytes
        totals.meter.add(now, nbytes)
        totals.throughput.add(now - (self._started if self._started is not None else now), nbytes)

    def _complete_unlocked(self, f: _File, phase: Phase, now: float, measured: bool = True) -> None:
        rest = f.size - f.done.get(phase, 0)
        f.done[phase] = f.size
        f.completed += (phase,)
        totals = self._phases[phase]
        if rest > 0 and measured:
            self._record(phase, rest, now)
        elif rest > 0:
            totals.bytes_done += rest
        totals.files_done += 1
        if measured:
            totals.file_meter.add(now, 1)
        self._close_span(f, _KIND[phase.value], now)

    def _open_span(self, f: _File, kind: int, now: float) -> None:
        if f.open_spans is None:
            f.open_spans = {}
        f.open_spans.setdefault(kind, now)

    def _close_span(self, f: _File, kind: int, now: float) -> None:
        start = f.open_spans.pop(kind, None) if f.open_spans else None
        if start is not None:
            origin = self._started if self._started is not None else start
            self._spans.extend((f.index, kind, start - origin, now - origin))

    def _elapsed(self, now: float) -> float:
        if self._started is None:
            return 0.0
        return (self._ended if self._ended is not None else now) - self._started

    def _by_files(self) -> bool:
        """Whether most items are small and they average small: then items per second say how the
        load moves, not bytes per second."""
        n = len(self._files)
        return n > 0 and 2 * self._small > n and self._bytes_total < SMALL_ITEM_BYTES * n

    def _phase_snapshot(self, phase: Phase, totals: _PhaseTotals, now: float) -> PhaseSnapshot:
        running = self._state is LoadState.RUNNING
        by_files = self._by_files()
        rate = totals.meter.rate(now) if running else 0.0
        file_rate = totals.file_meter.rate(now) if running else 0.0
        files_total = len(self._files)
        if by_files:  # the ETA comes from the rate that moves
            remaining, speed = files_total - totals.files_done - totals.files_dropped, file_rate
        else:
            remaining, speed = self._bytes_total - totals.bytes_done - totals.bytes_dropped, rate
        eta: float | None = None
        if remaining <= 0:
            eta = 0.0
        elif speed > 0 and _warm(totals, self._bytes_total, files_total, by_files, now):
            eta = remaining / speed
        return PhaseSnapshot(
            phase=phase,
            unit=self.unit,
            files_done=totals.files_done,
            files_total=files_total,
            bytes_done=totals.bytes_done,
            bytes_total=self._bytes_total,
            bytes_dropped=totals.bytes_dropped,
            files_dropped=totals.files_dropped,
            rows=totals.rows,
            rate=rate,
            eta=eta,
            file_rate=file_rate,
            row_rate=totals.row_meter.rate(now) if running and phase is Phase.COPY else 0.0,
            by_files=by_files,
        )

    def _file_snapshot(self, f: _File, now: float) -> FileSnapshot:
        phase = _STATE_PHASE.get(f.state)
        phase_done = f.done.get(phase, 0) if phase else 0
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
            waiting=f.waiting,
            null_columns=f.null_columns,
            ignored_columns=f.ignored_columns,
        )

    def _active_rows(self, now: float) -> tuple[FileSnapshot, ...]:
        """A row per file at work, and one per batch at work in place of its files, in start order."""
        rows: list[FileSnapshot | int] = []
        at_work: dict[int, list[_File]] = {}
        for f in self._active.values():
            if f.batch is None:
                if f.waiting is None:
                    rows.append(self._file_snapshot(f, now))
            else:
                if f.batch not in at_work:
                    at_work[f.batch] = []
                    rows.append(f.batch)
                at_work[f.batch].append(f)
        shown = []
        for row in rows:
            if isinstance(row, int):
                batch = self._batch_row(row, at_work[row], now)
                if batch is not None:
                    shown.append(batch)
            else:
                shown.append(row)
        return tuple(shown)

    def _batch_row(self, number: int, live: list[_File], now: float) -> FileSnapshot | None:
        """A batch as one row, in the earliest phase any of its live files is in: its files and
        bytes through that phase (an ended file counts as through); None while all of its live
        files idle for another reason than the batch itself."""
        if all(f.waiting not in (None, Wait.BATCH) for f in live):
            return None
        phases = [_STATE_PHASE[f.state] for f in live if f.state in _STATE_PHASE]
        phase = min(phases, key=PHASES.index) if phases else Phase.COMPRESS
        members = [self._files[i] for i in self._batches[number]]
        through = [f.state.terminal or phase in f.completed for f in members]
        done = sum(f.size if past else f.done.get(phase, 0) for f, past in zip(members, through, strict=True))
        in_phase = [f for f in live if f.state is _PHASE_STATE[phase]]
        since = min((f.phase_started for f in in_phase), default=now)
        started = min((f.started for f in live if f.started is not None), default=now)
        return FileSnapshot(
            index=-1 - number,  # never a file's index
            name=f"batch {number + 1}: {len(members):,} {self.unit}s",
            path="",
            size=sum(f.size for f in members),
            state=_PHASE_STATE[phase],
            phase=phase,
            phase_bytes_done=done,
            staged_bytes=sum(f.staged_bytes for f in members),
            rows=sum(f.rows for f in members),
            elapsed=now - started,
            rate=done / (now - since) if now > since else 0.0,
            phase_elapsed=now - since,
            error=None,
            members=len(members),
            members_done=sum(through),
            busy=sum(1 for f in in_phase if f.waiting is None),
        )

    def _timeline_data(self, now: float) -> TimelineData:
        per_file: list[list[Span]] = [[] for _ in self._files]
        spans = self._spans
        for k in range(0, len(spans), 4):
            per_file[int(spans[k])].append(Span(SPAN_KINDS[int(spans[k + 1])], spans[k + 2], spans[k + 3]))
        return TimelineData(
            table=self.table,
            unit=self.unit,
            seconds=self._elapsed(now),
            names=tuple(f.name for f in self._files),
            spans=tuple(tuple(sorted(s, key=lambda span: (span.start, span.end))) for s in per_file),
            throughput=MappingProxyType(
                {phase: (t.throughput.width, tuple(t.throughput.buckets)) for phase, t in self._phases.items()}
            ),
        )


def _warm(totals: _PhaseTotals, bytes_total: int, files_total: int, by_files: bool, now: float) -> bool:
    """Whether the phase ran long enough, and far enough (in items or in bytes, as its ETA
    counts), for its rate to predict its end."""
    started = totals.meter.started
    if started is None or now - started < WARMUP_SECONDS:
        return False
    if by_files:
        return totals.files_done >= WARMUP_FRACTION * files_total
    return bytes_total == 0 or totals.bytes_done >= WARMUP_FRACTION * bytes_total


def _load_eta(phases: tuple[PhaseSnapshot, ...]) -> tuple[float | None, Phase | None]:
    """The load ends when its slowest phase does: the largest phase ETA, if every open phase has one."""
    open_phases = [p for p in phases if not p.settled and p.bytes_done + p.bytes_dropped < p.bytes_total]
    if not open_phases or any(p.eta is None for p in open_phases):
        return None, None
    slowest = max(open_phases, key=lambda p: p.eta or 0.0)
    return slowest.eta, slowest.phase
