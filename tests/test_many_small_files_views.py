"""Thousands of small files (issue 15, items 2 and 3): progress counts files per second and sizes
in kB in every view, and the record a load leaves stays small yet lists every failure."""

from __future__ import annotations

import io
import re
from html import escape

from conftest import expected_facts, table_facts

import snowload_nb as sl
from snowload_nb.demo import generate_files
from snowload_nb.model import FileState, Phase, ProgressModel, Snapshot
from snowload_nb.result import LoadResult
from snowload_nb.views.htmlview import HtmlView
from snowload_nb.views.log import LogView
from snowload_nb.views.terminal import TerminalView
from snowload_nb.views.widget import WidgetView

RECORD_LIMIT = 100_000  # bytes a load may leave in a saved notebook, whatever its file count
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


def _three_thousand(failing: set[int], skipped: set[int]) -> ProgressModel:
    clock = [0.0]
    model = ProgressModel("EVENTS", 8, clock=lambda: clock[0])
    for i in range(3000):
        model.add_file(f"part_{i:05d}.csv", f"/data/exports/2026/part_{i:05d}.csv", 120)
    model.start()
    for i in sorted(skipped):  # the re-run check ends these before any work
        model.finish(i, FileState.SKIPPED)
    for i in range(3000):
        if i not in skipped:
            _run(model, clock, range(i, i + 1), every=0.05, fail=failing.__contains__)
    model.end()
    return model


def test_a_three_thousand_file_record_stays_small_and_lists_every_failure():
    skipped = set(range(0, 3000, 30))  # 100 loaded before
    failing = set(range(13, 3000, 97)) - skipped  # 30 failures, spread through the load
    model = _three_thousand(failing, skipped)
    snap = model.snapshot()
    widget = WidgetView(8, on_cancel=lambda: None, show=False)
    widget.close(snap)
    page = HtmlView(8, show=False)
    page.close(snap)
    result = LoadResult.build("EVENTS", model.files(), snap.elapsed, snap.state, timeline=snap.timeline)

    loaded = 3000 - len(failing) - len(skipped)
    left = [i for i in range(3000) if i not in failing][40:]  # past the first 40 files that did not fail
    left_skipped = sum(1 for i in left if i in skipped)
    more = (
        f"… and {len(left) - left_skipped:,} more loaded, {left_skipped:,} more already loaded: "
        "`result.to_pandas()` lists every file"
    )
    # the saved cell holds the record's text/html and text/plain: both together stay under the limit
    for name, html, text in (
        ("widget", widget.record_html, widget.record_text),
        ("html view", page.record_html, page.record_text),
    ):
        assert len((html + text).encode()) < RECORD_LIMIT, (name, len((html + text).encode()))
    outputs = {
        "widget record": (widget.record_html, escape),
        "widget record text": (widget.record_text, str),
        "html view record": (page.record_html, escape),
        "_repr_html_": (result._repr_html_(), escape),
        "results_table()": (result.results_table(), str),
    }
    for name, (out, quoted) in outputs.items():
        assert len(out.encode()) < RECORD_LIMIT, (name, len(out.encode()))
        for i in failing:  # every failure, with its error
            assert f"part_{i:05d}.csv" in out and quoted(f"'x{i}' is not a NUMBER") in out, (name, i)
        assert more in out, name
    # the summary still counts every file
    summary = f"Done with failures: {loaded * 10:,} rows into EVENTS from 3,000 files ({loaded:,} loaded"
    assert result.summary().startswith(summary)
    assert widget.record_text.startswith(summary)
    # and every file is still in the data
    assert len(result.to_pandas()) == 3000 and len(result.results_table(limit=None).splitlines()) == 3001


def test_a_load_of_two_hundred_tiny_files_shows_files_per_second_and_leaves_a_small_record(
    conn, table, tmp_path, views, monkeypatch
):
    files = generate_files(tmp_path, [640] * 200, prefix="tiny")  # 10 rows, about 560 bytes each
    bad = tmp_path / "tiny_bad.csv"
    bad.write_text(files[0].path.read_text().splitlines()[0] + "\nnot-a-number,1,x,1.0,2026-01-01 00:00:00,y\n")
    drawn: list[dict[str, str]] = []

    def draw_all(self, snap):  # every view, drawn from the load's own snapshots as the widget's are
        _WIDGET_DRAW(self, snap)
        if snap.phase(Phase.COPY).files_done:
            drawn.append(_texts(snap))

    monkeypatch.setattr(WidgetView, "draw", draw_all)
    paths = [str(f.path) for f in files[:100]] + [str(bad)] + [str(f.path) for f in files[100:]]

    result = sl.Loader(conn, table, workers=8, progress="widget").load(paths)

    assert table_facts(conn, table) == expected_facts(files)
    assert [f.status for f in result.files].count("loaded") == 200 and result.failed[0].path == str(bad)
    assert drawn, "the widget was never drawn while files were copied"
    for view in ("terminal", "log", "widget", "html"):
        shown = [texts[view] for texts in drawn]
        assert any(re.search(r"[\d,]+/201 files · [\d.]+/\d+\.\d kB · [\d.]+ files/s", s) for s in shown), view
        assert not any("MB" in s for s in shown), view
    widget = views[-1]
    for out in (widget.record_html + widget.record_text, result._repr_html_(), result.results_table()):
        assert len(out.encode()) < RECORD_LIMIT
        assert "tiny_bad.csv" in out and "not-a-number" in out  # the failure, with its error
        assert "… and 160 more loaded: `result.to_pandas()` lists every file" in out


def test_a_batch_at_work_is_one_row_counting_its_files_not_a_row_per_file():
    """Files loaded together show as their batch's row ("batch 2: 250 files · upload"), in every
    view, instead of hundreds of names flickering by; files loaded alone keep their own rows."""
    clock = [0.0]
    model = ProgressModel("EVENTS", 8, clock=lambda: clock[0])
    for i in range(501):
        model.add_file(f"day_{i:04d}.csv", f"/exports/day_{i:04d}.csv", 400)
    model.start()
    model.batch(0, range(250))
    model.batch(1, range(250, 500))
    for i in range(250):  # batch 1 compressed, then uploading
        model.begin(i, Phase.COMPRESS)
        model.complete(i, Phase.COMPRESS)
        model.begin(i, Phase.UPLOAD)
    for i in range(250, 370):  # batch 2 compressing: 120 of its files through
        model.begin(i, Phase.COMPRESS)
        model.advance(i, Phase.COMPRESS, 400)
    model.begin(500, Phase.COMPRESS)  # a file on its own
    clock[0] += 2.0

    snap = model.snapshot()
    assert [(f.name, f.phase, f.members, f.members_done) for f in snap.active] == [
        ("batch 1: 250 files", Phase.UPLOAD, 250, 0),
        ("batch 2: 250 files", Phase.COMPRESS, 250, 0),  # 120 of its files read, none through
        ("day_0500.csv", Phase.COMPRESS, 0, 0),
    ]
    terminal = "\n".join(TerminalView(8).lines(snap, 120, 24))
    assert re.search(r"batch 1: 250 files.*0/250 files · 0 B/100\.0 kB", terminal), terminal
    assert re.search(r"batch 2: 250 files.*0/250 files · 48\.0/100\.0 kB", terminal), terminal
    assert "day_0001.csv" not in terminal and "day_0500.csv" in terminal
    assert terminal.startswith("121 compressing · 250 uploading · 130 queued")  # files, not rows
    page = HtmlView(8, show=False)
    page.draw(snap)
    assert "batch 1: 250 files" in page.page and "day_0001.csv" not in page.page

    for i in range(250):  # batch 1 uploaded: its row is at Copy
        model.complete(i, Phase.UPLOAD)
        model.begin(i, Phase.COPY)
    for i in range(100):
        model.finish(i, FileState.LOADED, rows=10)
    (first, *_) = model.snapshot().active
    assert (first.name, first.phase, first.members_done, first.phase_bytes_done) == (
        "batch 1: 250 files",
        Phase.COPY,
        100,
        40_000,
    )


def test_thousands_of_files_failing_alike_are_each_named_in_one_row_per_error():
    """A server that stopped answering fails every file not yet tried with one error: the record
    names each of them, under that error once, at the cost of their names rather than of rows."""
    clock = [0.0]
    model = ProgressModel("EVENTS", 8, clock=lambda: clock[0])
    for i in range(3000):
        model.add_file(f"part_{i:05d}.csv", f"/data/exports/2026/part_{i:05d}.csv", 120)
    model.start()
    _run(model, clock, range(500), every=0.05, fail=lambda i: i % 97 == 13)  # 6 failures of their own
    for i in range(500, 3000):
        model.finish(i, FileState.FAILED, error="not tried: the server stopped answering")
    model.end()
    snap = model.snapshot()
    widget = WidgetView(8, on_cancel=lambda: None, show=False)
    widget.close(snap)
    result = LoadResult.build("EVENTS", model.files(), snap.elapsed, snap.state, timeline=snap.timeline)

    failing = [i for i in range(3000) if i >= 500 or i % 97 == 13]
    for name, out in {
        "widget record": widget.record_html,
        "widget record text": widget.record_text,
        "_repr_html_": result._repr_html_(),
        "results_table()": result.results_table(),
    }.items():
        assert all(f"part_{i:05d}.csv" in out for i in failing), name
        assert out.count("not tried: the server stopped answering") == 1, name
        assert "2,500 files:" in out, name
        assert len(out.encode()) / len(failing) < 60, name  # bytes per failure: a name, not a row
    assert "… and 454 more loaded: `result.to_pandas()` lists every file" in result.results_table()
