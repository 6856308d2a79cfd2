"""Auto compression's choice as a pure function of measured rates: a table of links and cores,
a link that slows mid-load, and the measurements that feed it."""

from __future__ import annotations

import gzip as gzip_module
import io
import itertools
import sys
import threading
import time

import pytest
import zstandard

from snowload_nb import codec_choice as cc
from snowload_nb.codec_choice import NONE, CodecRate, Rates, choose, gzip, zstd
from snowload_nb.codec_plan import DEFAULT_SEND_TIMEOUT, CodecPicker, send_timeout
from snowload_nb.compress import compressor
from snowload_nb.demo import write_csv
from snowload_nb.parts import split_csv
from snowload_nb.rates import LinkMeter, measure_codecs

MB = 1_000_000


def _rate(codec: cc.Codec, mb_per_s: float | None, ratio: float) -> CodecRate:
    if mb_per_s is None:
        return CodecRate(codec, 0.0, ratio)
    return CodecRate(codec, 1 / (mb_per_s * MB), ratio, inflate_per_byte=1 / (350 * MB))


# Measured on this machine on the demo CSV (ISA-L levels 0-3, zstd: MB/s on one core, ratio);
# inflating runs at about 350 MB/s of output whatever the level.
CODECS = (
    _rate(NONE, None, 1.0),
    _rate(gzip(0), 501, 2.90),
    _rate(gzip(1), 508, 3.28),
    _rate(gzip(2), 493, 3.31),
    _rate(gzip(3), 344, 3.41),
    _rate(zstd(1), 343, 3.65),
    _rate(zstd(3), 246, 3.78),
    _rate(zstd(6), 91, 4.12),
    _rate(zstd(9), 51, 4.31),
)
ISAL = {gzip(level) for level in range(4)}
FAST = ISAL | {zstd(1)}
MIDDLE = {zstd(1), zstd(3), zstd(6)}
HIGH = {zstd(9)}


def rates(link_mb: float | None, cores: float = 2, server_mb: float | None = None) -> Rates:
    server = 0.0 if server_mb is None else 1 / (server_mb * MB)
    local = server_mb is not None
    return Rates(CODECS, None if link_mb is None else link_mb * MB, cores, server_cpu=server, local=local)


@pytest.mark.parametrize(
    ("case", "given", "expected"),
    [
        ("20 Mbit/s office uplink: a high zstd ratio pays", rates(2.5), HIGH),
        ("100 Mbit/s: a middle zstd level; higher ones cost more CPU than they save", rates(12.5), MIDDLE),
        ("1 Gbit/s: the cheapest codecs; more CPU would make it the bottleneck", rates(125), FAST),
        ("a loopback-fast link: nothing to gain by shrinking bytes", rates(2000), {NONE}),
        ("one core on 50 MB/s: a cheap level", rates(50, cores=1), FAST),
        (
            "a server on these cores, busy with COPY and inflating: near a tie",
            rates(125, server_mb=23),
            {NONE, gzip(1)},
        ),
        ("that server unthrottled: nothing to gain by shrinking bytes", rates(2000, server_mb=23), {NONE}),
        ("the same server behind 20 Mbit/s: the link still rules", rates(2.5, server_mb=23), HIGH),
    ],
)
def test_the_codec_that_finishes_soonest(case, given, expected):
    decision = choose(given, default=gzip(1))

    assert decision.codec in expected, case
    assert decision.seconds_per_mb is not None and decision.seconds_per_mb > 0
    assert "link" in decision.why


def test_higher_ratio_as_the_link_gets_slower():
    ratios = {c.codec: c.ratio for c in CODECS}
    links = [2000, 500, 125, 50, 12.5, 2.5]

    picked = [ratios[choose(rates(link), default=gzip(1)).codec] for link in links]

    assert picked == sorted(picked)
    assert picked[0] == 1.0 and picked[-1] >= 4.3


def test_before_any_upload_it_takes_the_default():
    decision = choose(rates(None), default=gzip(1))

    assert decision.codec == gzip(1) and decision.seconds_per_mb is None
    assert decision.why == "no upload measured yet"


def test_the_cheaper_codec_wins_a_near_tie():
    close = Rates((_rate(gzip(1), 400, 3.30), _rate(gzip(3), 250, 3.35)), 125 * MB, 2)

    assert choose(close, default=gzip(1)).codec == gzip(1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def upload(meter: LinkMeter, clock: FakeClock, nbytes: int, mb_per_s: float) -> None:
    with meter.put(nbytes):
        clock.now += nbytes / (mb_per_s * MB)


def test_a_link_that_slows_mid_load_moves_the_choice_to_a_higher_ratio():
    clock = FakeClock()
    meter = LinkMeter(clock)
    for _ in range(10):  # 100 MB parts at 1 Gbit/s
        upload(meter, clock, 100 * MB, 125)
    fast = choose(Rates(CODECS, meter.rate, 2), default=gzip(1)).codec
    assert meter.rate == pytest.approx(125 * MB)

    ratios = {c.codec: c.ratio for c in CODECS}
    picked = []
    for _ in range(3):  # the link drops to 20 Mbit/s: 8 s on each 20 MB part
        upload(meter, clock, 20 * MB, 2.5)
        picked.append(choose(Rates(CODECS, meter.rate, 2), default=gzip(1)).codec)

    assert fast in FAST
    assert [ratios[c] for c in picked] == sorted(ratios[c] for c in picked)  # never back to a lower ratio
    assert ratios[picked[0]] >= ratios[fast]
    assert picked[-1] in HIGH  # the old rate has faded within seconds
    assert meter.rate is not None and meter.rate < 5 * MB


def test_parts_uploading_together_measure_the_link_not_each_upload():
    """Four PUTs sharing a 10 MB/s link each see 2.5 MB/s; the link is 10 MB/s."""
    clock = FakeClock()
    meter = LinkMeter(clock)
    contexts = [meter.put(10 * MB) for _ in range(4)]
    for context in contexts:
        context.__enter__()
    clock.now += 4.0  # 40 MB in 4 s over the four of them
    for context in contexts:
        context.__exit__(None, None, None)

    assert meter.rate == pytest.approx(10 * MB)


def test_a_puts_fixed_cost_is_not_taken_for_a_slow_link():
    """0.2 s of round trips per PUT plus 100 MB/s: small parts must not read as a 10 MB/s link."""
    clock = FakeClock()
    meter = LinkMeter(clock)
    for size in (1, 2, 4, 1, 3, 2):
        with meter.put(size * MB):
            clock.now += 0.2 + size / 100

    assert meter.rate == pytest.approx(100 * MB)


@pytest.mark.parametrize(("mb_per_s", "picks"), [(1000, FAST | {NONE}), (2.5, HIGH)])
def test_two_small_puts_tell_the_link_from_a_puts_fixed_cost(mb_per_s, picks):
    """20 kB and 300 kB staged, 0.1 s of round trips each: the slope, not the sum, is the link."""
    clock = FakeClock()
    meter = LinkMeter(clock)
    with meter.put(20_000):
        clock.now += 0.1 + 20_000 / (mb_per_s * MB)

    with meter.put(300_000):
        clock.now += 0.1 + 300_000 / (mb_per_s * MB)

    assert meter.rate == pytest.approx(mb_per_s * MB)
    assert choose(Rates(CODECS, meter.rate, 2), default=gzip(1)).codec in picks


def test_a_server_on_this_machine_stays_plain_until_put_sizes_tell_its_link_from_fixed_costs():
    """Loopback PUTs of alike sizes, mostly fixed cost: read as bytes, a slow link. To a server
    elsewhere that cautious reading compresses; to one on this machine it keeps plain CSV, until
    PUTs of other sizes show the link really is slow (a tunnel behind a loopback address)."""
    clock = FakeClock()
    remote, local = CodecPicker(None, workers=4), CodecPicker(None, workers=4, local=True)
    for picker in (remote, local):
        picker.link = LinkMeter(clock)
        picker._codecs = CODECS
        for _ in range(4):  # 4 MB plain PUTs of 0.15 s each: 27 MB/s if it were all bytes
            with picker.uploading(4 * MB):
                clock.now += 0.15

    assert remote.pick(0).compressed
    assert local.pick(0) == NONE
    assert local.note == "auto: none (server on this machine, its link not measured yet)"

    for size in (1, 8, 2, 8):  # then sizes apart, at a real 2.5 MB/s
        with local.uploading(size * MB):
            clock.now += 0.05 + size / 2.5
    assert local.link.sloped
    assert local.pick(1) in HIGH


def test_a_slow_link_behind_a_loopback_address_shows_even_in_puts_of_alike_sizes():
    """A tunnel: 4 MB PUTs of 2 s each are far past what a PUT here costs: compress."""
    clock = FakeClock()
    local = CodecPicker(None, workers=4, local=True)
    local.link = LinkMeter(clock)
    local._codecs = CODECS
    for _ in range(4):
        with local.uploading(4 * MB):
            clock.now += 2.0

    assert not local.link.sloped
    assert local.pick(0) in HIGH


@pytest.mark.parametrize(("mb_per_s", "part_mb"), [(None, 3.125), (2.5, 3.125), (1, 1.25), (100, 100), (0.1, 0.5)])
def test_a_part_is_what_a_workers_share_of_the_link_sends_in_half_the_connectors_send_timeout(mb_per_s, part_mb):
    """Four workers, the connector's 10 s: 20 Mbit/s gets 3 MB parts, as does a link not yet
    measured; a fast link keeps part_size_mb; forced codecs are cut the same way."""
    for forced in (None, gzip(1)):
        clock = FakeClock()
        picker = CodecPicker(forced, workers=4)
        picker.link = LinkMeter(clock)
        if mb_per_s is not None:
            for size in (1, 4, 2):
                with picker.uploading(size * MB):
                    clock.now += 0.1 + size / mb_per_s  # round trips, then the bytes

        assert picker.part_size(100 * MB) == pytest.approx(part_mb * MB, rel=0.01)


def test_without_connector_4s_storage_client_parts_are_cut_to_its_default_timeout(monkeypatch):
    """Connector 5 has no `storage_client` (its Rust core uploads): a load must not fail on that."""
    import snowflake.connector

    monkeypatch.delattr(snowflake.connector, "storage_client", raising=False)
    monkeypatch.setitem(sys.modules, "snowflake.connector.storage_client", None)  # import fails

    assert send_timeout() == DEFAULT_SEND_TIMEOUT
    assert CodecPicker(None, workers=4).part_size(100 * MB) == pytest.approx(3.125 * MB, rel=0.01)


def test_a_failed_upload_teaches_nothing():
    clock = FakeClock()
    meter = LinkMeter(clock)
    with pytest.raises(OSError), meter.put(10 * MB):
        clock.now += 100.0
        raise OSError("reset")

    assert meter.rate is None


def test_codecs_are_measured_on_a_sample(tmp_path):
    source = write_csv(tmp_path / "sample.csv", 0, 1, 20_000)
    sample = source.path.read_bytes()[: 1 << 20]

    measured = {r.codec: r for r in measure_codecs(sample, cc.candidates(isal=True))}

    assert measured[NONE].ratio == 1.0 and measured[NONE].cpu_per_byte == 0.0
    assert all(r.cpu_per_byte > 0 for c, r in measured.items() if c.gzip)
    assert measured[zstd(9)].ratio > measured[zstd(1)].ratio > measured[gzip(1)].ratio > 1.5
    assert all(r.inflate_per_byte > 0 for c, r in measured.items() if c.compressed)


def test_a_codec_preempted_while_it_is_timed_keeps_its_place(tmp_path):
    """Another process takes the core for 50 ms in the middle of zstd 3's 1 ms timing: the
    codecs still rank by their cost (the wait slows them all alike), so zstd 3 does not look
    dearer than zstd 6 and 9 and lose a slow link to them for no reason."""
    sample = write_csv(tmp_path / "sample.csv", 0, 1, 10_000).path.read_bytes()[: 1 << 18]
    calls = itertools.count()
    zstd_3_ends = 2 * [c for c in cc.candidates(isal=True) if c.compressed].index(zstd(3)) + 1

    def wall() -> float:
        return time.perf_counter() + (0.05 if next(calls) >= zstd_3_ends else 0.0)

    measured = {r.codec: r for r in measure_codecs(sample, cc.candidates(isal=True), clock=wall)}

    assert measured[zstd(3)].cpu_per_byte < measured[zstd(6)].cpu_per_byte < measured[zstd(9)].cpu_per_byte


@pytest.mark.parametrize("codec", cc.candidates(isal=True)[1:], ids=lambda c: c.label())
def test_every_codec_auto_may_pick_writes_what_its_reader_reads(codec):
    data = b"id,name\n" + b"".join(b"%d,row %d\n" % (i, i) for i in range(5000))
    packer = compressor(codec.name, codec.level)
    packed = packer.compress(data) + packer.flush()

    unpack = gzip_module.decompress if codec.gzip else zstandard.ZstdDecompressor().decompressobj().decompress
    assert unpack(packed) == data


@pytest.mark.parametrize("family", [gzip, zstd])
def test_each_part_is_compressed_at_the_level_chosen_for_it(tmp_path, family):
    """Auto may raise the level mid-file as the link slows: every part is still whole CSV of its codec."""
    data = b"id,name\n" + b"".join(b'%d,"row, %d"\n' % (i, i) for i in range(150_000))
    asked = []

    def part_codec(number: int) -> cc.Codec:
        asked.append(number)
        return family(6 if number % 2 else 1)

    parts = list(
        split_csv(io.BytesIO(data), tmp_path, "x", part_size=20_000, level=None, part_codec=part_codec, chunk_size=8192)
    )

    assert len(parts) > 3 and asked == [p.number for p in parts]
    assert [p.codec for p in parts] == [family(6 if p.number % 2 else 1) for p in parts]
    suffix = ".csv.gz" if family is gzip else ".csv.zst"
    assert all(p.path.name.endswith(suffix) for p in parts)
    unpack = (
        gzip_module.decompress
        if family is gzip
        else lambda b: zstandard.ZstdDecompressor().decompressobj().decompress(b)
    )
    rows = [unpack(p.path.read_bytes()).split(b"\n", 1) for p in parts]
    assert all(header == b"id,name" for header, _ in rows)
    assert b"id,name\n" + b"".join(body for _, body in rows) == data


def test_the_why_of_a_load_under_a_megabyte_says_kb_as_its_views_do():
    assert "link 2,500.0 kB/s;" in choose(rates(2.5), default=gzip(1), in_kb=True).why
    assert "link 2.5 MB/s;" in choose(rates(2.5), default=gzip(1)).why


def test_the_views_hear_the_last_choice_last():
    """Two workers pick at once: the note the views are told last is the one the result keeps.
    (Told outside the picker's lock, the first worker's older note could reach them second.)"""
    heard: list[str] = []
    inside, release = threading.Event(), threading.Event()

    def on_change(note: str) -> None:
        if not inside.is_set():  # the first worker is on its way to the views: hold it there
            inside.set()
            release.wait(10)
        heard.append(note)

    clock = FakeClock()
    picker = CodecPicker(None, workers=2, on_change=on_change)
    picker.link = LinkMeter(clock)
    picker._codecs = CODECS
    first = threading.Thread(target=picker.pick, args=(0,))
    first.start()
    assert inside.wait(10)
    with picker.uploading(MB):  # the link is measured now: the second worker's note differs
        clock.now += 0.4
    second = threading.Thread(target=picker.pick, args=(1,))
    second.start()
    second.join(timeout=0.5)  # unlocked, its note would reach the views now, before the first's
    release.set()
    first.join()
    second.join()

    assert len(set(heard)) == 2
    assert heard[-1] == picker.note
