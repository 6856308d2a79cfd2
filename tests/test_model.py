"""The progress model under contention: exact totals, legal states, consistent snapshots."""

from __future__ import annotations

import random
import threading

import pytest

from snowload_nb.model import PHASES, FileState, IllegalTransition, LoadState, Phase, ProgressModel

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


def test_rate_and_eta_come_from_recent_progress():
    now = [0.0]
    model = ProgressModel("T", workers=1, clock=lambda: now[0])
    i = model.add_file("a.csv", "a.csv", 1000)
    model.start()
    model.begin(i, Phase.COMPRESS)
    model.snapshot()
    now[0] = 1.0
    model.advance(i, Phase.COMPRESS, 250)
    compress = model.snapshot().phase(Phase.COMPRESS)
    assert compress.rate == pytest.approx(250.0)
    assert compress.eta == pytest.approx(3.0)
