"""The progress model under contention: exact totals, legal states, consistent snapshots."""

from __future__ import annotations

import random
import threading

import pytest

from snowload_nb.model import PHASES, FileState, IllegalTransition, LoadState, Phase, ProgressModel, Wait

TERMINAL = [FileState.LOADED, FileState.FAILED, FileState.SKIPPED, FileState.CANCELLED]


def _drive(model: ProgressModel, indices: list[int], sizes: list[int], outcomes: dict[int, FileState], seed: int):
    rng = random.Random(seed)
    for i in indices:
        end = outcomes[i]
        # failed and cancelled files stop part-way, in a random phase
        stop_after = rng.randrange(len(PHASES)) if end in (FileState.FAILED, FileState.CANCELLED) else len(PHASES)
        for phase in PHASES[:stop_after]:
            model.begin(i, phase)
            left = sizes[i]
            while left:
                step = min(left, rng.randint(1, 5000))
                model.advance(i, phase, step)
                left -= step
            if not (end is FileState.SKIPPED and phase is Phase.COPY):
                model.complete(i, phase)
        if stop_after < len(PHASES):
            model.begin(i, PHASES[stop_after])
            model.advance(i, PHASES[stop_after], sizes[i] // 2)
        model.finish(
            i,
            end,
            rows=sizes[i] // 10 if end is FileState.LOADED else 0,
            error="x" if end is FileState.FAILED else None,
        )


def test_sixteen_threads_advancing_many_files_give_exact_totals():
    rng = random.Random(7)
    model = ProgressModel("T", workers=16)
    sizes = [rng.choice([0, 1, 999, 20_000, 150_000]) for _ in range(400)]
    indices = [model.add_file(f"f{i}.csv", f"/d/f{i}.csv", size) for i, size in enumerate(sizes)]
    outcomes = {i: rng.choice(TERMINAL) for i in indices}
    model.start()

    stop = threading.Event()
    seen_problems: list[str] = []

    def watch():
        last_done = [0, 0, 0]
        while not stop.is_set():
            snap = model.snapshot()
            if sum(snap.counts.values()) != len(sizes):
                seen_problems.append(f"counts {snap.counts}")
            for p, phase in enumerate(snap.phases):
                if phase.bytes_done < last_done[p]:
                    seen_problems.append(f"{phase.phase} went backwards")
                last_done[p] = phase.bytes_done
                if phase.bytes_done + phase.bytes_dropped > phase.bytes_total or not 0 <= phase.fraction <= 1:
                    seen_problems.append(f"{phase.phase} overflows: {phase}")
            for f in snap.active:
                if f.state.terminal or f.state is FileState.QUEUED:
                    seen_problems.append(f"active file in state {f.state}")

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [
        threading.Thread(target=_drive, args=(model, indices[k::16], sizes, outcomes, k), name=f"w{k}")
        for k in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    model.end()

    snap = model.snapshot()
    assert seen_problems == []
    assert snap.active == ()
    assert len(snap.finished) == len(sizes)
    assert snap.counts[FileState.QUEUED] == 0
    for state in TERMINAL:
        assert snap.counts[state] == sum(1 for s in outcomes.values() if s is state)
    assert snap.bytes_total == sum(sizes)
    loaded = [i for i in indices if outcomes[i] is FileState.LOADED]
    assert snap.rows_loaded == sum(sizes[i] // 10 for i in loaded)
    copy = snap.phase(Phase.COPY)
    assert copy.files_done == sum(1 for s in outcomes.values() if s in (FileState.LOADED, FileState.SKIPPED))
    for phase in snap.phases:
        # every byte either went through the phase or was dropped with its file
        assert phase.bytes_done + phase.bytes_dropped == sum(sizes)
        assert phase.settled
        # and the bar shows only what went through: failed files leave their part empty
        assert phase.fraction == pytest.approx(phase.bytes_done / sum(sizes))
    assert snap.state is LoadState.FAILED  # some files failed
    assert {f.index for f in snap.finished} == set(indices)


def test_an_ended_file_cannot_move_again():
    model = ProgressModel("T", workers=1)
    i = model.add_file("a.csv", "a.csv", 10)
    model.start()
    model.begin(i, Phase.COMPRESS)
    model.finish(i, FileState.FAILED, error="boom")
    with pytest.raises(IllegalTransition):
        model.advance(i, Phase.COMPRESS, 1)
    with pytest.raises(IllegalTransition):
        model.finish(i, FileState.LOADED)
    assert model.snapshot().finished[0].error == "boom"


def _steady_load(read_every: float, seconds: float = 12.0):
    """One 1,000,000-byte file compressed at 50 kB/s in uneven writes; snapshots every `read_every` s.

    Returns the snapshots taken at whole seconds.
    """
    now = [0.0]
    model = ProgressModel("T", workers=1, clock=lambda: now[0])
    i = model.add_file("a.csv", "a.csv", 1_000_000)
    model.start()
    model.begin(i, Phase.COMPRESS)
    writes = [(k * 0.37, 18_500) for k in range(1, 200)]  # 18.5 kB every 0.37 s: 50 kB/s
    at_seconds = {}
    t, step = 0.0, 0
    while t <= seconds + 1e-9:
        while writes and writes[0][0] <= t + 1e-9:
            now[0] = writes[0][0]
            model.advance(i, Phase.COMPRESS, writes.pop(0)[1])
        now[0] = t
        snap = model.snapshot()
        if abs(t - round(t)) < 1e-9:
            at_seconds[round(t)] = snap.phase(Phase.COMPRESS)
        step += 1
        t = step * read_every
    return at_seconds


def test_rates_do_not_depend_on_how_often_snapshots_are_read():
    slow, fast = _steady_load(1.0), _steady_load(0.01)
    assert sorted(slow) == sorted(fast) == list(range(13))
    for second in slow:
        assert slow[second].rate == pytest.approx(fast[second].rate, rel=1e-9), second
        assert slow[second].eta == fast[second].eta or slow[second].eta == pytest.approx(fast[second].eta)


def test_the_rate_is_smoothed_and_the_eta_waits_for_its_warm_up():
    phase = _steady_load(0.5)
    # no ETA in the first seconds, however fast the first writes came
    assert all(phase[s].eta is None for s in range(3))
    # then the rate is the stream's own, within the unevenness of its writes, and so is the ETA
    for second in range(4, 13):
        assert phase[second].rate == pytest.approx(50_000, rel=0.15), second
        left = 1_000_000 - phase[second].bytes_done
        assert phase[second].eta == pytest.approx(left / phase[second].rate)


def test_a_rate_decays_while_nothing_is_written_but_reading_never_changes_it():
    now = [0.0]
    model = ProgressModel("T", workers=1, clock=lambda: now[0])
    i = model.add_file("a.csv", "a.csv", 1000)
    model.start()
    model.begin(i, Phase.UPLOAD)
    now[0] = 1.0
    model.advance(i, Phase.UPLOAD, 250)
    assert model.snapshot().phase(Phase.UPLOAD).rate == pytest.approx(250.0)  # the average so far
    now[0] = 4.0
    stalled = model.snapshot().phase(Phase.UPLOAD).rate
    assert 0 < stalled < 250
    assert model.snapshot().phase(Phase.UPLOAD).rate == stalled


def test_waiting_files_are_counted_apart_from_the_ones_being_worked_on():
    model = ProgressModel("T", workers=4, unit="chunk")
    chunks = [model.add_file(f"rows {k}", f"DataFrame[{k}]", 100) for k in range(6)]
    model.start()
    for k in chunks:
        model.begin(k, Phase.COMPRESS)
    for k in chunks[:4]:  # staged, waiting for the all-or-nothing COPY
        model.begin(k, Phase.UPLOAD)
        model.complete(k, Phase.COMPRESS)
        model.complete(k, Phase.UPLOAD)
        model.wait(k, Wait.STAGED)
    model.begin(chunks[4], Phase.UPLOAD)
    model.complete(chunks[4], Phase.COMPRESS)
    model.wait(chunks[4], Wait.RETRY)  # its upload failed on the network; the next attempt waits
    snap = model.snapshot()
    assert [f.index for f in snap.active] == [chunks[5]]
    assert dict(snap.waiting) == {Wait.STAGED: 4, Wait.RETRY: 1}
    assert snap.working() == {Phase.COMPRESS: 1, Phase.UPLOAD: 0, Phase.COPY: 0}

    model.begin(chunks[0], Phase.COPY)  # the final COPY takes the first staged chunk
    model.resume(chunks[4])
    snap = model.snapshot()
    assert [(f.index, f.state) for f in snap.active] == [
        (chunks[0], FileState.COPYING),
        (chunks[4], FileState.UPLOADING),
        (chunks[5], FileState.COMPRESSING),
    ]
    assert dict(snap.waiting) == {Wait.STAGED: 3}


def test_snapshots_cannot_be_changed():
    model = ProgressModel("T", workers=1)
    model.add_file("a.csv", "a.csv", 10)
    model.start()
    snap = model.snapshot()
    with pytest.raises(TypeError):
        snap.counts[FileState.QUEUED] = 5  # type: ignore[index]
    with pytest.raises(TypeError):
        snap.waiting[Wait.STAGED] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        snap.state = LoadState.DONE  # type: ignore[misc]
    assert snap.counts[FileState.QUEUED] == 1


def test_the_timeline_holds_each_files_spans_in_time_order():
    now = [0.0]
    model = ProgressModel("T", workers=1, clock=lambda: now[0])
    i = model.add_file("a.csv", "a.csv", 100)
    model.start()
    for phase, t in zip(PHASES, (1.0, 2.0, 3.0), strict=True):
        now[0] = t
        model.begin(i, phase)
        if phase is Phase.UPLOAD:
            now[0] = 2.2
            model.wait(i, Wait.RETRY)
            now[0] = 2.5
            model.resume(i)
        now[0] = t + 0.9
        model.complete(i, phase)
    model.finish(i, FileState.LOADED, rows=5)
    now[0] = 4.0
    model.end()
    timeline = model.snapshot().timeline
    assert timeline is not None and timeline.names == ("a.csv",)
    kinds = [(s.kind, s.start, s.end) for s in timeline.spans[0]]
    assert kinds == [
        ("compress", 1.0, 1.9),
        ("upload", 2.0, 2.9),
        ("retry", 2.2, 2.5),
        ("copy", 3.0, 3.9),
    ]
    width, buckets = timeline.throughput[Phase.COPY]
    assert sum(buckets) == 100 and width > 0


def test_a_resized_file_counts_its_new_size_and_only_before_any_bytes():
    """A DataFrame chunk is added with its in-memory estimate and resized to its Parquet bytes."""
    model = ProgressModel("T", 1, unit="chunk")
    a = model.add_file("rows 1-10", "DataFrame[0:10]", 1_000)
    b = model.add_file("rows 11-20", "DataFrame[10:20]", 1_000)
    model.start()

    model.begin(a, Phase.COMPRESS)
    model.resize(a, 300)
    model.advance(a, Phase.COMPRESS, 300)

    snap = model.snapshot()
    assert snap.bytes_total == 1_300
    assert snap.phase(Phase.COMPRESS).bytes_done == 300
    assert next(f for f in snap.active if f.index == a).size == 300
    with pytest.raises(IllegalTransition):
        model.resize(a, 400)
    model.resize(b, 200)
    assert model.snapshot().bytes_total == 500
