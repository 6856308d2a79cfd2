"""Atomic and DataFrame loads against the embedded server: the rows on screen are the chunks being
worked on, and the staged ones are counted as waiting, not shown as work."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import snowload_nb as sl
from snowload_nb.demo import generate_files
from snowload_nb.model import FileState, ProgressModel, Snapshot, Wait
from snowload_nb.views import text
from snowload_nb.views.terminal import TerminalView
from snowload_nb.views.widget import WidgetView

WORKING = {FileState.COMPRESSING, FileState.UPLOADING, FileState.COPYING}


@pytest.fixture
def snapshots(monkeypatch) -> list[Snapshot]:
    """A snapshot after every begin and wait of the load, taken where it happens; drawn after."""
    taken: list[Snapshot] = []
    for name in ("begin", "wait"):
        original = getattr(ProgressModel, name)

        def hooked(self, *args, _original=original):
            _original(self, *args)
            taken.append(self.snapshot())

        monkeypatch.setattr(ProgressModel, name, hooked)
    return taken


def _check_views(snapshots: list[Snapshot], workers: int) -> dict[Wait, int]:
    """Draw each snapshot as the widget and the terminal would; return the most that waited at once."""
    widget = WidgetView(workers, on_cancel=lambda: None, show=False)
    terminal = TerminalView(workers)
    most: dict[Wait, int] = {}
    for snap in snapshots:
        assert all(f.state in WORKING and f.waiting is None for f in snap.active), snap.active
        widget.draw(snap)
        shown = sorted(row.name.value for row in widget._rows if row.box.layout.display != "none")
        assert shown == sorted(f.name for f in snap.active[: widget.max_file_rows])
        assert widget._waiting.value == text.waiting_line(snap)
        block = terminal.lines(snap, 80, 24)
        on_terminal = [f.name for f in snap.active if any(line.startswith(f"  {f.name} ") for line in block)]
        slots = min(workers, 8)
        expected = snap.active if len(snap.active) <= slots else snap.active[: slots - 1]
        assert on_terminal == [f.name for f in expected]
        if snap.waiting:
            assert f"  {text.waiting_line(snap, 78)}" in block
        for reason, n in snap.waiting.items():
            most[reason] = max(most.get(reason, 0), n)
    return most


def test_a_dataframe_load_shows_the_chunks_at_work_and_counts_the_staged(conn, snapshots):
    frame = pd.DataFrame({"n": np.arange(6000), "label": [f"row {k}" for k in range(6000)]})
    result = sl.Loader(conn, "ROWS_ON_SCREEN", workers=2, progress="none", create_table=True).load_dataframe(
        frame, chunk_rows=200
    )
    assert result.ok and result.rows_loaded == 6000 and len(result.files) == 30

    most = _check_views(snapshots, workers=2)
    # far more chunks waited for the final COPY than there are rows to show them
    assert most[Wait.STAGED] > 8
    # during the final COPY: one chunk copies at a time, the copied ones wait for the commit
    copying = [s for s in snapshots if any(f.state is FileState.COPYING for f in s.active)]
    assert copying and all(len(s.active) == 1 for s in copying)
    assert most[Wait.COMMIT] == 30
    assert snapshots[-1].active == () and dict(snapshots[-1].waiting) == {Wait.COMMIT: 30}


def test_an_atomic_file_load_shows_the_files_at_work(conn, table, tmp_path, snapshots):
    files = generate_files(tmp_path, [20_000] * 12)
    result = sl.Loader(conn, table, workers=3, progress="none", atomic=True).load([str(f.path) for f in files])
    assert result.ok and result.rows_loaded == sum(f.rows for f in files)

    most = _check_views(snapshots, workers=3)
    assert most[Wait.STAGED] >= 9  # all but the ones still at work when the last file staged
    assert most[Wait.COMMIT] == 12


def test_a_file_queued_for_a_session_waits_and_a_compressing_one_never_does():
    import threading

    from snowload_nb.model import Phase
    from snowload_nb.sessions import SessionPool

    class Session:
        def cursor(self):
            return self

        def close(self):
            pass

    model = ProgressModel("T", workers=2)
    a, b = (model.add_file(n, n, 100) for n in ("a.csv", "b.csv"))
    model.start()
    for i in (a, b):
        model.begin(i, Phase.COMPRESS)
        model.complete(i, Phase.COMPRESS)
        model.begin(i, Phase.UPLOAD)
    pool = SessionPool(None, 1, factory=Session)
    queued = threading.Event()
    go_on = threading.Event()

    def entered():
        cm = model.waiting(b, Wait.SESSION)

        class Signal:
            def __enter__(self):
                cm.__enter__()
                queued.set()

            def __exit__(self, *exc):
                return cm.__exit__(*exc)

        return Signal()

    def second():
        with pool.cursor(entered):
            go_on.wait()

    with pool.cursor():  # a holds the only session
        thread = threading.Thread(target=second)
        thread.start()
        queued.wait()
        snap = model.snapshot()
        assert [f.name for f in snap.active] == ["a.csv"] and dict(snap.waiting) == {Wait.SESSION: 1}
        assert text.activity_line(snap).startswith("1 uploading · 1 waiting for a session")
    go_on.set()
    thread.join()
    pool.close()
    assert [f.name for f in model.snapshot().active] == ["a.csv", "b.csv"]

    c = model.add_file("c.csv", "c.csv", 100)
    model.begin(c, Phase.COMPRESS)
    model.begin(c, Phase.UPLOAD)  # part 1 uploads while part 2 compresses
    model.wait(c, Wait.SESSION)
    assert "c.csv" in [f.name for f in model.snapshot().active]
