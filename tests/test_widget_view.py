"""The widget view drawn from snapshots, headless: no kernel, real ipywidgets objects."""

from __future__ import annotations

from snowload_nb.model import FileState, Phase, ProgressModel, Wait
from snowload_nb.views.widget import WidgetView


def _bars(view: WidgetView):
    return [row.bar for row in view._aggregates]


def test_file_rows_are_recycled_and_never_exceed_the_limit():
    workers, files = 10, 200
    cancelled = []
    view = WidgetView(workers, on_cancel=lambda: cancelled.append(True), show=False)
    model = ProgressModel("EVENTS", workers)
    indices = [model.add_file(f"f{i:03d}.csv", f"/data/f{i:03d}.csv", 1000 + i) for i in range(files)]
    model.start()
    active: list[int] = []
    shown_names: set[str] = set()
    most_rows = 0
    for i in indices:
        model.begin(i, Phase.COMPRESS)
        model.advance(i, Phase.COMPRESS, 500)
        active.append(i)
        view.draw(model.snapshot())
        most_rows = max(most_rows, view.visible_file_rows)
        shown_names |= {row.name.value for row in view._rows if row.box.layout.display != "none"}
        assert view.visible_file_rows == len(active)
        if len(active) == workers:  # the pool is full: the oldest file moves on and ends
            done = active.pop(0)
            for phase in (Phase.COMPRESS, Phase.UPLOAD, Phase.COPY):
                model.begin(done, phase)
                model.complete(done, phase)
            if done % 50 == 7:
                model.finish(done, FileState.FAILED, error=f"bad row in {done}")
            elif done % 50 == 9:
                model.finish(done, FileState.SKIPPED)
            else:
                model.finish(done, FileState.LOADED, rows=10)
    for i in active:
        model.finish(i, FileState.CANCELLED, error="cancelled before it finished")
    model.end(cancelled=True)
    view.close(model.snapshot())

    assert view.max_file_rows == max(workers, 8)
    assert most_rows == workers
    assert len(shown_names) == files  # every file had a row at some point: the rows were reused
    assert view.visible_file_rows == 0  # nothing unfinished left
    assert "cancelled" in view._header.value
    assert [bar.bar_style for bar in _bars(view)] == ["warning", "warning", "warning"]
    assert view._cancel.layout.display == "none"  # a finished load has nothing to cancel
    results = view._finished.value
    # every failure, the first 40 other files, and the rest counted: the record stays small
    failed = [i for i in range(files) if i % 50 == 7]
    assert results.count("<tr") == len(failed) + 40 + 1  # plus the header row
    assert all(f"bad row in {i}<" in results for i in failed)
    assert "… and 144 more loaded, 3 more already loaded, 9 more cancelled: `result.to_pandas()`" in results
    assert "already loaded" in results


def test_a_clean_load_ends_with_full_success_bars_and_the_results_table():
    view = WidgetView(2, on_cancel=lambda: None, show=False)
    model = ProgressModel("EVENTS", 2)
    i = model.add_file("a.csv", "/data/a.csv", 100)
    model.start()
    for phase in (Phase.COMPRESS, Phase.UPLOAD, Phase.COPY):
        model.begin(i, phase)
        model.complete(i, phase)
    model.finish(i, FileState.LOADED, rows=42)
    model.end()
    view.close(model.snapshot())

    assert [(bar.value, bar.bar_style) for bar in _bars(view)] == [(1.0, "success")] * 3
    assert "42 rows" in view._aggregates[2].detail.value
    assert "done" in view._header.value
    assert view.record_text.startswith("Done: 42 rows into EVENTS from 1 file (1 loaded)")
    assert "<td" in view.record_html and "a.csv" in view.record_html
    assert "<svg" in view.record_html  # the timeline


def test_unchanged_values_send_nothing():
    view = WidgetView(2, on_cancel=lambda: None, show=False)
    model = ProgressModel("EVENTS", 2)
    model.add_file("a.csv", "/data/a.csv", 100)
    model.start()
    view.draw(model.snapshot())
    sent = []
    for bar in _bars(view):
        bar.observe(lambda change: sent.append(change), names="value")
    view.draw(model.snapshot())
    assert sent == []


def test_the_cancel_button_calls_back():
    cancelled = []
    view = WidgetView(2, on_cancel=lambda: cancelled.append(True), background=True, show=False)
    view._cancel.click()
    assert cancelled == [True]


def test_file_names_are_escaped_in_the_html():
    view = WidgetView(1, on_cancel=lambda: None, show=False)
    model = ProgressModel("<b>T</b>", 1)
    i = model.add_file("<script>x</script>.csv", "/d/x.csv", 1)
    model.start()
    model.finish(i, FileState.FAILED, error="<img src=x>")
    model.end()
    view.close(model.snapshot())
    assert "<script>" not in view._finished.value and "&lt;script&gt;" in view._finished.value
    assert "<img" not in view.record_html
    assert "<b>T</b>" not in view._header.value


def test_ten_thousand_tiny_files_keep_the_rows_and_the_memory_small():
    import tracemalloc

    workers, files = 8, 10_000
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    model = ProgressModel("EVENTS", workers)
    for i in range(files):
        model.add_file(f"tiny_{i:05d}.csv", f"/data/tiny_{i:05d}.csv", 120)
    model.start()
    view = WidgetView(workers, on_cancel=lambda: None, show=False)
    most_rows = 0
    for i in range(files):
        for phase in (Phase.COMPRESS, Phase.UPLOAD, Phase.COPY):
            model.begin(i, phase)
            model.complete(i, phase)
        model.finish(i, FileState.LOADED, rows=3)
        if i % 97 == 0:
            view.draw(model.snapshot())
            most_rows = max(most_rows, view.visible_file_rows)
    model.end()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    model_bytes = sum(
        stat.size_diff
        for stat in after.compare_to(before, "filename")
        if stat.traceback[0].filename.endswith("model.py")
    )

    assert most_rows <= max(workers, 8)
    assert model.snapshot().rows_loaded == 3 * files
    assert model_bytes / files < 1_000  # under a kB per file (about 640 B measured)
    # while running, the finished list shows only the latest files, however many ended
    assert view._finished.value.count("<tr") == 100 + 1


def test_a_dataframe_load_counts_chunks_not_files():
    import io

    from snowload_nb.views.log import LogView

    model = ProgressModel("EVENTS", 2, unit="chunk")
    model.add_file("rows 1-10", "DataFrame[0:10]", 100)
    model.add_file("rows 11-20", "DataFrame[10:20]", 100)
    model.start()
    view = WidgetView(2, on_cancel=lambda: None, show=False)
    view.draw(model.snapshot())
    log = io.StringIO()
    LogView(stream=log).draw(model.snapshot())

    assert "2 chunks" in view._header.value and "file" not in view._header.value
    assert "loading into EVENTS: 2 chunks" in log.getvalue()


def test_the_results_list_files_in_the_order_given_not_the_order_they_ended():
    view = WidgetView(3, on_cancel=lambda: None, show=False)
    model = ProgressModel("EVENTS", 3)
    names = ["first.csv", "second.csv", "third.csv"]
    ids = [model.add_file(n, f"/d/{n}", 10) for n in names]
    model.start()
    for i in reversed(ids):
        model.finish(i, FileState.LOADED, rows=i + 1)
    model.end()
    view.close(model.snapshot())
    for shown in (view._finished.value, view.record_html, view.record_text):
        assert [shown.index(n) for n in names] == sorted(shown.index(n) for n in names)


def test_rows_show_the_chunks_at_work_and_count_the_staged_ones():
    model = ProgressModel("EVENTS", 4, unit="chunk")
    ids = [model.add_file(f"rows {k}", f"DataFrame[{k}]", 1000) for k in range(16)]
    model.start()
    for k in ids[:10]:  # staged: waiting for the final COPY
        for phase in (Phase.COMPRESS, Phase.UPLOAD):
            model.begin(k, phase)
            model.complete(k, phase)
        model.wait(k, Wait.STAGED)
    for k in ids[10:13]:
        model.begin(k, Phase.COMPRESS)
        model.advance(k, Phase.COMPRESS, 500)
    model.begin(ids[13], Phase.COMPRESS)
    model.begin(ids[13], Phase.UPLOAD)  # a single-piece upload: no bytes until it ends
    view = WidgetView(4, on_cancel=lambda: None, show=False)
    snap = model.snapshot()
    view.draw(snap)

    shown = {row.name.value: row for row in view._rows if row.box.layout.display != "none"}
    assert sorted(shown) == sorted(f.name for f in snap.active) == [f"rows {k}" for k in (10, 11, 12, 13)]
    assert view._waiting.value == "+ 10 staged, waiting for the final COPY"
    assert view._activity.value.startswith("3 compressing · 1 uploading · 10 staged · 2 queued")
    uploading = shown["rows 13"]
    assert uploading.bar.layout.visibility == "hidden"  # no bar stuck at 0%: a turning mark and seconds
    assert uploading.detail.value[0] in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏" and uploading.detail.value.endswith(" s")


def test_more_files_at_work_than_rows_end_with_a_count():
    model = ProgressModel("EVENTS", 12)
    ids = [model.add_file(f"f{k}.csv", f"/d/f{k}.csv", 1000) for k in range(12)]
    model.start()
    for k in ids:
        model.begin(k, Phase.COMPRESS)
    view = WidgetView(8, on_cancel=lambda: None, show=False)
    view.draw(model.snapshot())
    assert view.visible_file_rows == 7
    assert view._more.value == "… and 5 more"
