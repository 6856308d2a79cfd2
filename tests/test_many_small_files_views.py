"""Thousands of small files (issue 15, items 2 and 3): progress counts files per second and sizes
in kB in every view, and the record a load leaves stays small yet lists every failure."""

from __future__ import annotations

import io
import re

from snowload_nb.model import FileState, Phase, ProgressModel, Snapshot
from snowload_nb.views.htmlview import HtmlView
from snowload_nb.views.log import LogView
from snowload_nb.views.terminal import TerminalView
from snowload_nb.views.widget import WidgetView

_WIDGET_DRAW = WidgetView.draw  # the real one, should a test wrap it


def _run(model: ProgressModel, clock: list[float], indices: range, every: float, fail=lambda i: False) -> None:
    """Files through all three phases, one every `every` seconds; `fail(i)` ones fail at COPY."""
    for i in indices:
        clock[0] += every
        for phase in (Phase.COMPRESS, Phase.UPLOAD, Phase.COPY):
            model.begin(i, phase)
            model.complete(i, phase)
        if fail(i):
            model.finish(i, FileState.FAILED, error=f"line 2: 'x{i}' is not a NUMBER (column ID)")
        else:
            model.finish(i, FileState.LOADED, rows=10)


def _texts(snap: Snapshot) -> dict[str, str]:
    """What each view shows of a running snapshot: terminal (tqdm mode), log, widget, HTML."""
    log = io.StringIO()
    LogView(stream=log, interval=0.0, clock=lambda: 1e9).draw(snap)
    widget = WidgetView(8, on_cancel=lambda: None, show=False)
    _WIDGET_DRAW(widget, snap)
    page = HtmlView(8, show=False)
    page.draw(snap)
    return {
        "terminal": "\n".join(TerminalView(8).lines(snap, 120, 24)),
        "log": log.getvalue(),
        "widget": "\n".join(row.detail.value for row in widget._aggregates),
        "html": page.page,
    }


def test_tiny_files_count_files_per_second_and_kb_and_the_eta_from_files_in_every_view():
    clock = [0.0]
    model = ProgressModel("EVENTS", 8, clock=lambda: clock[0])
    for i in range(3000):
        model.add_file(f"day_{i:04d}.csv", f"/exports/day_{i:04d}.csv", 100)
    model.start()
    _run(model, clock, range(600), every=0.125)  # 8 files a second for 75 s

    for view, shown in _texts(model.snapshot()).items():
        # 2,400 files left at 8 files/s: five minutes
        assert "600/3,000 files · 60.0/300.0 kB · 8.0 files/s · ETA 5:00" in shown, view
        assert "6,000 rows · 80 rows/s" in shown, view
        assert "MB" not in shown, view  # never "0.0/0.3 MB · 0.0 MB/s"
    assert "files, 300.0 kB" in _texts(model.snapshot())["log"]  # the log's first line

    # big files: bytes are what moves, and the line says so in MB
    model = ProgressModel("EVENTS", 8, clock=lambda: clock[0])
    for i in range(10):
        model.add_file(f"big_{i}.csv", f"/exports/big_{i}.csv", 50_000_000)
    model.start()
    _run(model, clock, range(4), every=2.0)
    for view, shown in _texts(model.snapshot()).items():
        assert re.search(r"4/10 files · 200\.0/500\.0 MB · [\d.]+ MB/s · ETA \d+:\d\d", shown), view
        assert "files/s" not in shown, view
