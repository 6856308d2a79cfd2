"""Which codec and level finish a load soonest, as a pure function of measured rates.

A load is a pipeline: cores compress while the link drains what they wrote. Per source byte, a
codec costs CPU (compressing it, then sending 1/ratio staged bytes, and on a server sharing
these cores its COPY too) spread over the cores that can work at once, and link time (1/ratio
staged bytes at the link's rate). The slower of the two sets the pace, and the faster one is
only partly hidden under it (a file is compressed before its upload starts, and a load of a few
files overlaps little): so a slow link pays for a higher ratio while a fast one favours the
cheapest codec. Among codecs within `TIE` of the best,
the cheapest in CPU wins: it leaves the cores to the views, the caller and the server.
"""

from __future__ import annotations

from dataclasses import dataclass

TIE = 0.01  # predicted times this close count as equal: the cheaper in CPU wins
HIDDEN = 0.5  # how much of the faster of CPU and link time the slower one hides
MB = 1_000_000


@dataclass(frozen=True, order=True)
class Codec:
    """How a part is staged: `name` "none" (plain CSV), "gzip" at `level` (ISA-L for the levels
    it has, 0-3, zlib above them) or "zstd" at `level`."""

    name: str
    level: int | None = None

    @property
    def gzip(self) -> bool:
        return self.name == "gzip"

    @property
    def compressed(self) -> bool:
        return self.name != "none"

    def label(self, isal: bool = True) -> str:
        if self.name == "zstd":
            return f"zstd {self.level}"
        if not self.gzip:
            return "none"
        library = "ISA-L" if isal and self.level is not None and self.level <= 3 else "zlib"
        return f"{library} {self.level}"


NONE = Codec("none")
# What auto tries. 12 and up compress at under 10 MB/s a core for 1% more ratio than 9: timing
# 12 took two thirds of every auto load's calibration (81 ms of CPU with it, 25 without), and it
# was the best fixed choice on no simulated link.
ZSTD_LEVELS = (1, 3, 6, 9)


def gzip(level: int) -> Codec:
    return Codec("gzip", level)


def zstd(level: int) -> Codec:
    return Codec("zstd", level)


def gzip_or_none(level: int | None) -> Codec:
    """What a gzip `compression_level` stages: gzip at that level; None, uncompressed."""
    return gzip(level) if level is not None else NONE


def candidates(isal: bool) -> tuple[Codec, ...]:
    """What auto tries: none, gzip (ISA-L 0-3, or zlib 1 and 3 without it), and zstd from its
    fast levels to the ones whose ratio pays only on a slow link."""
    levels = (0, 1, 2, 3) if isal else (1, 3)
    return (NONE, *(gzip(level) for level in levels), *(zstd(level) for level in ZSTD_LEVELS))


@dataclass(frozen=True)
class CodecRate:
    """One codec measured on a sample: CPU seconds per source byte on one core, and the ratio."""

    codec: Codec
    cpu_per_byte: float
    ratio: float  # source bytes per staged byte, >= 1 for none
    inflate_per_byte: float = 0.0  # CPU seconds per source byte to decompress it again


@dataclass(frozen=True)
class Rates:
    """What the choice depends on, all measured by the load as it goes."""

    codecs: tuple[CodecRate, ...]
    link: float | None  # staged bytes per second over all uploads together; None before any PUT
    cores: float  # compressions that can run at once: min(workers, CPUs)
    send_cpu: float = 0.0  # our CPU seconds per staged byte a PUT costs
    server_cpu: float = 0.0  # CPU seconds per source byte a server on these cores spends on COPY
    local: bool = False  # the server shares these cores: its decompressing is their work too


@dataclass(frozen=True)
class Decision:
    codec: Codec
    seconds_per_mb: float | None  # predicted; None when there was nothing to go on
    why: str


def predicted(rate: CodecRate, rates: Rates) -> float:
    """Seconds per source byte the load would take with this codec: CPU or link, the slower."""
    staged = 1.0 / rate.ratio
    cpu = _cpu(rate, rates)
    assert rates.link is not None
    compute, send = cpu / max(rates.cores, 1.0), staged / rates.link
    return max(compute, send) + (1 - HIDDEN) * min(compute, send)


def choose(rates: Rates, default: Codec, in_kb: bool = False) -> Decision:
    """The codec that finishes soonest; without a measured link (no PUT has ended yet) or codec
    rates, `default`. `in_kb`: the why says rates in kB/s, as every view of a load under a
    megabyte says its sizes in kB."""
    pool = rates.codecs
    if rates.link is None or rates.link <= 0 or not pool:
        return Decision(default, None, "no upload measured yet")
    times = {r.codec: predicted(r, rates) for r in pool}
    best = min(times.values())
    close = [r for r in pool if times[r.codec] <= best * (1 + TIE)]
    pick = min(close, key=lambda r: (r.cpu_per_byte, -r.ratio))
    return Decision(pick.codec, times[pick.codec] * MB, _why(pick, rates, times[pick.codec], in_kb))


def _cpu(rate: CodecRate, rates: Rates) -> float:
    """CPU seconds per source byte on these cores: compress, send, and a local server's share."""
    server = rates.server_cpu + rate.inflate_per_byte if rates.local else 0.0
    return rate.cpu_per_byte + rates.send_cpu / rate.ratio + server


def staged_time(rate: CodecRate, rates: Rates) -> float:
    assert rates.link is not None
    return 1.0 / rate.ratio / rates.link


def _why(pick: CodecRate, rates: Rates, seconds: float, in_kb: bool) -> str:
    """The rates behind a choice, in the units their size calls for (a load of tiny files
    measures kB/s, and its views never say MB)."""
    assert rates.link is not None
    cpu = _cpu(pick, rates) / max(rates.cores, 1.0)
    bound = "link" if staged_time(pick, rates) > cpu else "CPU"
    pace = per_second(1 / seconds, in_kb)
    return f"link {per_second(rates.link, in_kb)}; ratio {pick.ratio:.2f}; {bound}-bound at {pace} of source"


def per_second(rate: float, in_kb: bool = False) -> str:
    if in_kb:
        return f"{rate / 1e3:,.1f} kB/s"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if rate >= size:
            return f"{rate / size:,.1f} {unit}/s"
    return f"{rate:,.0f} B/s"
