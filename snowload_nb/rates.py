"""The rates `codec_choice` needs, measured while the load runs.

Codec speed and ratio come from compressing the first megabyte of a file with each candidate
(CPU time of this thread, so other processes' load does not read as a slow codec). The link's
rate comes from the PUTs themselves: staged bytes over the time any PUT was in flight, so four
PUTs sharing a link count as the link, not as four links. Older measurements fade with the busy
time since, so a link that slows mid-load is seen within a few seconds of uploading.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator

from .codec_choice import Codec, CodecRate
from .compress import compressor

FADE_SECONDS = 4.0  # busy upload seconds over which an old measurement fades to 1/e


def measure_codecs(sample: bytes, codecs: tuple[Codec, ...]) -> tuple[CodecRate, ...]:
    """Compress `sample` with each codec once: CPU seconds per byte and the ratio."""
    rates = []
    for codec in codecs:
        if not codec.gzip or not sample:
            rates.append(CodecRate(codec, 0.0, 1.0))
            continue
        assert codec.level is not None
        started = time.thread_time()
        packer = compressor(codec.level)
        staged = len(packer.compress(sample)) + len(packer.flush())
        seconds = max(time.thread_time() - started, 1e-9)
        rates.append(CodecRate(codec, seconds / len(sample), len(sample) / max(staged, 1)))
    return tuple(rates)


class Faded:
    """A ratio of two sums whose older terms fade with elapsed busy time."""

    def __init__(self) -> None:
        self.amount = 0.0
        self.seconds = 0.0

    def add(self, amount: float, seconds: float, faded_over: float) -> None:
        keep = math.exp(-faded_over / FADE_SECONDS)
        self.amount = self.amount * keep + amount
        self.seconds = self.seconds * keep + seconds

    def rate(self) -> float | None:
        return self.amount / self.seconds if self.seconds > 0 and self.amount > 0 else None


class LinkMeter:
    """The upload rate of one load's link, fed by every PUT; thread-safe. Fed by COPYs instead,
    the rate at which a server on these cores loads source bytes, all COPYs together."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight = 0
        self._last = 0.0
        self._busy = 0.0  # busy seconds since the last PUT ended
        self._link = Faded()  # staged bytes / busy seconds
        self._cpu = Faded()  # our CPU seconds / staged bytes, as amount=cpu, seconds=bytes

    @contextlib.contextmanager
    def put(self, nbytes: int) -> Iterator[None]:
        """Around one PUT of `nbytes` staged bytes; a PUT that raises teaches nothing."""
        cpu = time.thread_time()
        with self._lock:
            self._tick()
            self._in_flight += 1
        ok = False
        try:
            yield
            ok = True
        finally:
            spent = time.thread_time() - cpu
            with self._lock:
                self._tick()
                self._in_flight -= 1
                if ok:
                    self.record(nbytes, spent)

    def record(self, nbytes: int, cpu_seconds: float) -> None:
        """Lock held: a PUT of `nbytes` ended; credit it with the busy time since the last one ended."""
        busy, self._busy = self._busy, 0.0
        self._link.add(nbytes, busy, busy)
        self._cpu.add(cpu_seconds, nbytes, busy)

    def _tick(self) -> None:
        now = self._clock()
        if self._in_flight:
            self._busy += now - self._last
        self._last = now

    @property
    def rate(self) -> float | None:
        """Staged bytes per second over all PUTs together; None before one ended."""
        with self._lock:
            return self._link.rate()

    @property
    def send_cpu(self) -> float:
        """Our CPU seconds per staged byte in a PUT."""
        with self._lock:
            return self._cpu.rate() or 0.0
