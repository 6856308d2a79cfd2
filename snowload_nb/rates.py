"""The rates `codec_choice` needs, measured while the load runs.

Codec speed and ratio come from compressing the start of a file with each candidate: each by
its CPU time, all slowed alike by what the machine's other processes take (`measure_codecs`).
The link's rate comes from the PUTs themselves: staged bytes over the time any PUT was in
flight, so four PUTs sharing a link count as the link, not as four links. Older measurements
fade with the busy time since, so a link that slows mid-load is seen within a few seconds of
uploading.
"""

from __future__ import annotations

import collections
import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator

from .codec_choice import Codec, CodecRate
from .compress import compressor, decompress

FADE_SECONDS = 4.0  # busy upload seconds over which an old measurement fades to 1/e
SIZES_APART = 0.35  # PUT sizes must spread this much (std / mean; two PUTs 2x apart) to tell the fixed cost
UNSEEN = 10.0  # at most this share of PUT time is put down to bytes when the fixed cost seems all of it
RECENT = 8  # PUTs whose quickest bounds the fixed cost


def measure_codecs(
    sample: bytes, codecs: tuple[Codec, ...], clock: Callable[[], float] = time.perf_counter
) -> tuple[CodecRate, ...]:
    """Compress `sample` with each codec once: seconds per byte on one core, the ratio, and the
    seconds per byte to decompress it again (a server on these cores does that work too).

    Each codec's cost is its own CPU time, scaled by one factor for all of them: the wall time of
    the whole calibration over its CPU time, what the machine's other processes leave us. Timed
    by the wall clock one by one, a codec preempted for a few ms in its 1 ms timing looked ten
    times slower than the next level up; timed by CPU time alone, busy cores looked idle.
    """
    timings = []
    wall = cpu = 0.0
    for codec in codecs:
        if not codec.compressed or not sample or codec.level is None:
            timings.append((codec, 0.0, 1.0, 0.0))
            continue
        started, used = clock(), time.thread_time()
        packer = compressor(codec.name, codec.level)
        packed = packer.compress(sample) + packer.flush()
        packing = time.thread_time() - used
        decompress(codec.name, packed)
        inflating = time.thread_time() - used - packing
        wall += clock() - started
        cpu += packing + inflating
        timings.append((codec, max(packing, 1e-9), len(sample) / max(len(packed), 1), inflating))
    slowdown = max(1.0, wall / cpu) if cpu > 0 else 1.0
    size = max(len(sample), 1)
    return tuple(
        CodecRate(codec, packing * slowdown / size, ratio, inflating * slowdown / size)
        for codec, packing, ratio, inflating in timings
    )


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
    the rate at which a server on these cores loads source bytes, all COPYs together.

    A PUT's time is a fixed cost (round trips, the server's bookkeeping) plus its bytes over the
    link's share it got. Only the second depends on the codec, so the rate is the slope of time
    over bytes across PUTs of different sizes (all time over all bytes while they are alike:
    the cautious reading, which favours compressing), times how many PUTs were in flight on average.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._in_flight = 0
        self._last = 0.0
        self._busy = 0.0  # busy seconds since the last PUT ended
        self._sums = [0.0] * 5  # faded: PUTs, bytes, seconds, bytes², bytes x seconds
        self._overlap = Faded()  # PUT seconds / busy seconds: PUTs in flight on average
        self._recent: collections.deque[float] = collections.deque(maxlen=RECENT)  # seconds of the last PUTs

    @contextlib.contextmanager
    def put(self, nbytes: int) -> Iterator[None]:
        """Around one PUT of `nbytes` staged bytes; a PUT that raises teaches nothing."""
        with self._lock:
            self._tick()
            self._in_flight += 1
            started = self._last
        ok = False
        try:
            yield
            ok = True
        finally:
            with self._lock:
                self._tick()
                self._in_flight -= 1
                if ok:
                    self._record(nbytes, self._last - started)

    def _record(self, nbytes: int, seconds: float) -> None:
        """Lock held: a PUT of `nbytes` took `seconds`; older PUTs fade with the busy time since."""
        busy, self._busy = self._busy, 0.0
        keep = math.exp(-busy / FADE_SECONDS)
        x, y = float(nbytes), seconds
        self._sums = [total * keep + term for total, term in zip(self._sums, (1.0, x, y, x * x, x * y), strict=True)]
        self._overlap.add(seconds, busy, busy)
        self._recent.append(seconds)

    def _tick(self) -> None:
        now = self._clock()
        if self._in_flight:
            self._busy += now - self._last
        self._last = now

    @property
    def sloped(self) -> bool:
        """Whether the PUTs' sizes spread enough to tell a PUT's fixed cost from its bytes."""
        with self._lock:
            n, sx, _, sxx, _ = self._sums
        return n > 0 and sx > 0 and _apart(n, sx, sxx)

    def rate_past(self, fixed: float) -> float | None:
        """The rate if each PUT's first `fixed` seconds were its fixed cost: the hopeful reading,
        for a link that may be no network at all. None while that leaves the bytes no time."""
        with self._lock:
            n, sx, sy, _, _ = self._sums
            overlap = max(self._overlap.rate() or 1.0, 1.0)
        spent = sy - n * fixed
        return overlap * sx / spent if n > 0 and sx > 0 and spent > 0 else None

    @property
    def rate(self) -> float | None:
        """Staged bytes per second over all PUTs together; None before one ended."""
        with self._lock:
            n, sx, sy, sxx, sxy = self._sums
            overlap = max(self._overlap.rate() or 1.0, 1.0)
            fixed = min(self._recent, default=0.0)
        if n <= 0 or sx <= 0 or sy <= 0:
            return None
        mean_x, mean_y = sx / n, sy / n
        spread, together = sxx / n - mean_x**2, sxy / n - mean_x * mean_y
        per_byte = mean_y / mean_x  # sizes alike: all of the time is put down to the bytes
        if _apart(n, sx, sxx):
            slope = together / spread
            # Time growing with bytes from a fixed cost of at least nothing: the slope. Otherwise
            # (noise, or the link changed) the quickest recent PUT bounds the fixed cost.
            fits = slope > 0 and mean_y - slope * mean_x >= 0
            per_byte = slope if fits else max(sy - n * fixed, sy / UNSEEN) / sx
        return overlap / per_byte


def _apart(n: float, sx: float, sxx: float) -> bool:
    """Whether the PUT sizes behind these faded sums spread enough for a slope."""
    mean_x = sx / n
    return sxx / n - mean_x**2 > (SIZES_APART * mean_x) ** 2
