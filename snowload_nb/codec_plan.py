"""One load's compression: a forced codec, or auto's choice per part from the rates measured so far.

Created with the load's plan and shared by its workers (and any other path that stages parts):
`pick` says how to stage a part, `uploading` and `copying` time the PUTs and COPYs for it, and
it remembers per file what it chose, for the result. A connection's link rates outlive the load
(per server, for this Python session), so the next load starts from what the last one measured.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from . import compress
from .codec_choice import NONE, Codec, CodecRate, Rates, candidates, choose, zstd
from .rates import LinkMeter, measure_codecs
from .sql import Compression

if TYPE_CHECKING:
    from .result import LoadResult

# Knowing nothing of the link yet (no PUT has ended): the choice that loses least on any link.
# In bench_links (RESULTS.md, 50631c0) zstd 3 took 1.00-1.13x the best fixed choice on every link,
# ISA-L 1 up to 1.21x at 20 Mbit/s and zstd 6 up to 1.23x unthrottled. Timing small PUTs first to
# learn the link cost more than it saved: a PUT's fixed cost varies by more than a megabyte's upload.
AUTO_DEFAULT = zstd(3)
# A server on this machine (the embedded default) is reached through memory, not a network: nothing
# is gained by shrinking what it receives, and its decompressing would take these same cores: in
# bench_load (RESULTS.md, 0f9ccce) loads so staged took 0.81-0.84 of ISA-L 1's time. A loopback
# address may still hide a slow link (a tunnel): later parts follow what the PUTs measure.
LOCAL_DEFAULT = NONE
# Seconds of a PUT to a server on this machine that are not its bytes: four parallel first PUTs
# took 0.14-0.19 s each here, most of it fixed (branch i16-probe).
LOCAL_PUT_FIXED = 0.25
SAMPLE_BYTES = 1 << 18  # what each candidate is timed on: ratios settle well before this
# The connector writes a PUT's body on a socket whose timeout is its connect timeout (10 s), and
# Python's sendall holds to that in total: a part that cannot be pushed out within it fails, and
# fails again on every retry (four 25 MB plain parts at once over 20 Mbit/s did). So a part is cut
# at what one upload's share of the link sends in SEND_SHARE of that timeout; until a PUT has
# ended, the link is taken to be COLD_LINK, a slow office uplink.
SEND_SHARE = 0.5
COLD_LINK = 20e6 / 8  # bytes per second: 20 Mbit/s
DEFAULT_SEND_TIMEOUT = 10.0  # seconds: connector 4.x's REQUEST_CONNECTION_TIMEOUT
MIN_PART = 500_000  # staged bytes: below this a PUT's fixed cost outweighs its bytes anywhere
_SESSION: dict[Hashable, tuple[LinkMeter, LinkMeter]] = {}  # per server: uploads, COPYs
_SESSION_LOCK = threading.Lock()


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class CodecPicker:
    """How each part of one load is staged, and why.

    `forced`: the user's explicit choice, used for every part (rates are still measured).
    `server` identifies the link for the session's memory; `local`: the server runs on these
    cores (loopback), so its COPY time counts against the CPU a codec leaves it.
    """

    def __init__(
        self,
        forced: Codec | None,
        *,
        workers: int,
        server: Hashable | None = None,
        local: bool = False,
        size: int = 0,
        on_change: Callable[[str], None] = lambda note: None,
    ) -> None:
        self.forced = forced
        self.size = size  # source bytes the load stages
        self.small = size < 1_000_000  # its views say kB, and so does the why
        self.workers = max(1, workers)
        self.cores = max(1, min(workers, available_cores()))
        self.local = local
        self._on_change = on_change
        self._isal = compress.BACKEND == "isal"
        self._lock = threading.Lock()
        self._codecs: tuple[CodecRate, ...] | None = None
        self._calibrating: threading.Thread | None = None
        self._choices: dict[int, list[Codec]] = {}
        self.note: str | None = self._forced_note() if forced is not None else None  # None: nothing picked yet
        with _SESSION_LOCK:
            meters = _SESSION.get(server) if server is not None else None
            if meters is None:
                meters = (LinkMeter(), LinkMeter())
                if server is not None:
                    _SESSION[server] = meters
        self.link, self.copies = meters

    @property
    def auto(self) -> bool:
        return self.forced is None

    @property
    def cold(self) -> Codec:
        """What auto stages before any PUT has ended, when nothing is known of the link."""
        return LOCAL_DEFAULT if self.local else AUTO_DEFAULT

    def calibrate_soon(self, path: Path) -> None:
        """Time the candidates on a thread of their own, under the statements the load sends
        before its first file starts, rather than while every worker waits for it."""
        if not self.auto or self._codecs is not None or self._calibrating is not None:
            return
        self._calibrating = threading.Thread(
            target=self._calibrate_quietly, args=(path,), name="snowload-calibrate", daemon=True
        )
        self._calibrating.start()

    def _calibrate_quietly(self, path: Path) -> None:
        # A file that cannot be read here fails with its reason when a worker reads it.
        with contextlib.suppress(OSError):
            self.calibrate(path)

    def settle(self) -> None:
        """Wait for a calibration started by `calibrate_soon`: a load leaves no thread behind."""
        if self._calibrating is not None:
            self._calibrating.join()

    def calibrate(self, path: Path, compression: Compression = Compression.NONE) -> None:
        """Time every candidate on the start of `path` (as written, if it is compressed), once
        per load (a worker that comes first waits for it: a quarter of a megabyte keeps that wait
        near 40 ms)."""
        if not self.auto or self._codecs is not None:
            return
        with self._lock:
            if self._codecs is not None:
                return
            with open(path, "rb") as raw, compress.decompressing(raw, compression) as stream:
                sample = _read_up_to(stream, SAMPLE_BYTES)
            self._codecs = measure_codecs(sample, candidates(self._isal))

    def rates(self) -> Rates:
        return Rates(
            codecs=self._codecs or (),
            link=self._link_rate(),
            cores=self.cores,
            # Our CPU in a PUT is mostly its fixed cost (about 10 ms here), not per byte: not counted.
            server_cpu=self._server_cpu(),
            local=self.local,
        )

    def _link_rate(self) -> float | None:
        """The link's rate as the chooser should weigh it. To a server on this machine, until PUT
        sizes tell its fixed cost from its bytes, only the time past a loopback PUT's fixed cost
        counts: read as bytes (the cautious reading, right for a network), that cost looks like a
        slow link, and 4 MB plain PUTs sent the next files at zstd for nothing. A tunnel's slow
        link behind a loopback address still shows in the time past it."""
        if self.local and not self.link.sloped:
            return self.link.rate_past(LOCAL_PUT_FIXED)
        return self.link.rate

    def part_size(self, default: int) -> int:
        """Staged bytes of the next part: `default`, or less where the link could not take it
        within the connector's send timeout, each upload getting a worker's share of the link
        (never below MIN_PART for that, though `part_size_mb` may ask for less)."""
        share = (self.link.rate or COLD_LINK) / self.workers
        return min(default, max(MIN_PART, round(share * send_timeout() * SEND_SHARE)))

    def pick(self, index: int) -> Codec:
        """The codec for file `index`'s next part; parts of one file may differ (COPY reads each
        by its own suffix)."""
        if self.forced is not None:
            codec = self.forced
        else:
            decision = choose(self.rates(), self.cold, in_kb=self.small)
            codec = decision.codec
            why = decision.why
            if decision.seconds_per_mb is None and self.local:
                why = "server on this machine, its link not measured yet"
            note = f"auto: {codec.label(self._isal)} ({why})"
        with self._lock:
            self._choices.setdefault(index, []).append(codec)
            if self.forced is None:
                self.note = note
                # Under the lock: two workers' notes reach the views in the order they were set,
                # so what the views said last is what the result says.
                self._on_change(note)
        return codec

    def record(self, indexes: list[int], codec: Codec) -> None:
        """Files staged another way (a batch of small files) were staged as `codec`."""
        with self._lock:
            for index in indexes:
                self._choices.setdefault(index, []).append(codec)

    def uploading(self, nbytes: int) -> contextlib.AbstractContextManager[None]:
        """Around one PUT of `nbytes` staged bytes."""
        return self.link.put(nbytes)

    def copying(self, source_bytes: int) -> contextlib.AbstractContextManager[None]:
        """Around one COPY of a file of `source_bytes`."""
        return self.copies.put(source_bytes)

    def _server_cpu(self) -> float:
        """CPU seconds per source byte a server on these cores spends loading it: its COPYs'
        rate all together, taken as one core's work; nothing for a server elsewhere."""
        rate = self.copies.rate if self.local else None
        return 1.0 / rate if rate else 0.0

    def choices(self) -> dict[int, tuple[Codec, ...]]:
        """Per file index, the codec of each part, in order."""
        with self._lock:
            return {index: tuple(codecs) for index, codecs in self._choices.items()}

    def _forced_note(self) -> str:
        assert self.forced is not None
        return f"{self.forced.label(self._isal)} (forced by compression=)"


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """`size` bytes, or all there are: a decompressing reader may return less at a time."""
    chunks = []
    while size > 0 and (chunk := stream.read(size)):
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def send_timeout() -> float:
    """Seconds the connector gives a PUT to write its body: its connect timeout (read here, so
    parts follow the connector's own value). Connector 5 uploads through its Rust core, which
    has no such module: its parts are cut as 4.x's are, to the same default."""
    try:
        from snowflake.connector import storage_client
    except ImportError:
        return DEFAULT_SEND_TIMEOUT
    return float(getattr(storage_client, "REQUEST_CONNECTION_TIMEOUT", DEFAULT_SEND_TIMEOUT))


def is_loopback(host: str) -> bool:
    """Whether a server at `host` runs on this machine, sharing its cores."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def with_codecs(result: LoadResult, picker: CodecPicker) -> LoadResult:
    """The result with each file's codec and level (its last part's: auto may raise it as the
    link slows), and the load's choice and why."""
    choices = picker.choices()
    files = []
    for index, f in enumerate(result.files):
        codecs = choices.get(index)
        if codecs:
            f = dataclasses.replace(f, codec=codecs[-1].name, compression_level=codecs[-1].level)
        files.append(f)
    return dataclasses.replace(result, files=files, compression=picker.note)
