"""Run one example notebook in the browser and keep what the page showed, for the tests to check.

A notebook runs once per test module; its tests then assert on the record: the final widgets,
what the probe saw while the cells ran, the cells' outputs, and values read from the kernel.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ViewportSize

from e2e.lab import JupyterLab, NotebookPage

FINAL_STATES = ("done", "failed", "cancelled")
MIN_FILE_ROWS = 8  # the widget keeps max(workers, 8) file rows
VIEWPORT: ViewportSize = {"width": 1200, "height": 1300}  # tall enough for a record with its timeline


@dataclass(frozen=True)
class Moment:
    """A picture to take while a cell runs: once its widget shows at least `rows` file rows."""

    cell: int
    rows: int
    path: Path


@dataclass
class NotebookRun:
    """What one run of a notebook left on the page."""

    page: NotebookPage
    widgets: list[dict[str, Any]]
    stats: dict[str, dict[str, Any]]
    cells: list[dict[str, Any]]
    problems: list[str]
    run: dict[str, Any]
    prompts: list[str]
    probe_errors: list[str]
    mid_load: dict[Path, dict[str, Any]] = field(default_factory=dict)

    def widgets_in(self, cell: int) -> list[dict[str, Any]]:
        return [w for w in self.widgets if w["cell"] == cell]

    def widget(self, cell: int) -> dict[str, Any]:
        found = self.widgets_in(cell)
        assert len(found) == 1, f"cell {cell}: {len(found)} snowload widgets, expected 1"
        return found[0]

    def seen(self, cell: int) -> dict[str, Any]:
        """What the probe recorded for the widget of `cell` while the notebook ran."""
        return self.stats[f"{cell}:0"]


@contextmanager
def opened(browser: Browser, lab: JupyterLab, name: str, failures: Path) -> Iterator[NotebookPage]:
    """A fresh page on `name`, and its kernel shut down after; on an error, a screenshot and the
    page's cells are kept in `failures`."""
    context = browser.new_context(viewport=VIEWPORT)
    page = NotebookPage(context.new_page(), lab, name)
    kernel_id = None
    try:
        page.open()
        kernel_id = page.kernel_id()
        yield page
    except BaseException:
        failures.mkdir(parents=True, exist_ok=True)
        stem = failures / Path(name).stem
        try:
            page.page.screenshot(path=f"{stem}.png")
            stem.with_suffix(".cells.json").write_text(json.dumps(page.cells(), indent=1), encoding="utf-8")
        except Exception as exc:  # the page may be what broke: keep the original error
            print(f"could not keep the failed page of {name}: {exc}")
        print(f"failed page of {name}: {stem}.png, {stem}.cells.json; server log {lab.log_path}")
        raise
    finally:
        context.close()
        if kernel_id is not None:  # each notebook's kernel (and embedded server) ends with its tests
            with contextlib.suppress(OSError):  # the server may be gone: it stops its kernels then
                lab.api("DELETE", f"api/kernels/{kernel_id}")


def run_notebook(
    page: NotebookPage, timeout: float, moments: tuple[Moment, ...] = (), keep: Path | None = None
) -> NotebookRun:
    """Run all cells, take the mid-load pictures on the way, and wait for the end.

    A mid-load picture is of the frame in which its widget first showed enough file rows while
    running, copied by the probe as it was painted (see probe.js); `mid_load` keeps what that
    copy showed.
    """
    mid_load: dict[Path, dict[str, Any]] = {}
    pending = list(moments)
    if pending:
        page.js("p.armFreeze(arg[0], arg[1])", [pending[0].cell, pending[0].rows])
    page.run_all()
    while pending:
        moment = pending.pop(0)
        page.page.wait_for_function(
            "() => window.__snowloadProbe.frozen() !== null || window.__snowloadProbe.run().done",
            timeout=timeout * 1000,
            polling=50,
        )
        frozen = page.js("p.frozen()")
        assert frozen is not None, f"cell {moment.cell} never showed {moment.rows} file rows while running"
        page.screenshot(page.page.locator("#snowload-frozen"), moment.path)
        page.js("p.unfreeze()")
        if pending:
            page.js("p.armFreeze(arg[0], arg[1])", [pending[0].cell, pending[0].rows])
        mid_load[moment.path] = frozen
    page.wait_finished(timeout)
    widgets = page.wait_widgets_ended()
    stats = page.stats()
    if keep is not None:  # for a look after the run: everything the probe saw, as JSON
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.write_text(json.dumps({"widgets": widgets, "stats": stats}, indent=1), encoding="utf-8")
    return NotebookRun(
        page=page,
        widgets=widgets,
        stats=stats["byKey"],
        probe_errors=stats["errors"],
        cells=page.cells(),
        problems=page.problems(),
        run=page.js("p.run()"),
        prompts=page.js("p.prompts()"),
        mid_load=mid_load,
    )


def output_text(cell: dict[str, Any]) -> str:
    """The text a code cell printed (stdout), as saved in the notebook model."""
    return "".join(
        "".join(o["text"]) if isinstance(o["text"], list) else o["text"]
        for o in cell["outputs"]
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )


def assert_ran_clean(run: NotebookRun) -> None:
    """Run-all succeeded, every code cell ran, and nothing failed or was left half-drawn."""
    assert run.run["done"] and run.run["ok"] is True and run.run["error"] is None, run.run
    assert run.prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in run.prompts), run.prompts
    errors = [
        (c["index"], o.get("ename"), o.get("evalue"))
        for c in run.cells
        for o in c["outputs"]
        if o.get("output_type") == "error"
    ]
    assert not errors, f"cells raised: {errors}"
    stderr = [
        (c["index"], o["text"])
        for c in run.cells
        for o in c["outputs"]
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    ]
    assert not stderr, f"cells wrote to stderr: {stderr}"
    assert not run.problems, f"the page shows {run.problems}"
    assert not run.page.page_errors, f"uncaught errors in the page: {run.page.page_errors}"
    assert not run.probe_errors, f"the probe could not read the page: {run.probe_errors}"
    assert all(w["state"] in FINAL_STATES for w in run.widgets), [w["header"] for w in run.widgets]


def assert_bars(widget: dict[str, Any], style: str, full: bool = True) -> None:
    """The three aggregate bars, in order, each with `style` (success, danger, warning)."""
    bars = widget["bars"]
    assert [b["label"] for b in bars] == ["Compress", "Upload", "Copy"], bars
    for b in bars:
        assert f"progress-bar-{style}" in b["classes"], f"{b['label']} bar: {b['classes']}, expected {style}"
        if full:
            assert b["width"] == "100%", f"{b['label']} bar at {b['width']}"


def workers_of(widget: dict[str, Any]) -> int:
    match = re.search(r"(\d+) workers?\b", widget["header"])
    assert match, widget["header"]
    return int(match.group(1))


def assert_rows_while_running(run: NotebookRun, cell: int, files: int) -> dict[str, Any]:
    """File rows showed while the cell ran, never more than the row limit, never a file twice."""
    widget = run.widget(cell)
    workers = workers_of(widget)
    limit = max(workers, MIN_FILE_ROWS)
    seen = run.seen(cell)
    assert widget["kind"] == "record", "the live widget was not replaced by the record"
    assert seen["maxRowSlots"] == limit, seen
    assert seen["runningSamplesWithRows"] > 0, f"no file row was ever shown while cell {cell} ran: {seen}"
    assert 0 < seen["maxRows"] <= min(limit, files), seen
    assert not seen["duplicateNames"], f"a file had two rows at once: {seen['duplicateNames']}"
    assert seen["framesWithBlankRows"] == 0, f"empty file rows were painted: {seen}"
    assert "running" in seen["states"], seen
    assert not widget["rows"], f"file rows left after the end: {widget['rows']}"
    return seen


def table_of(widget: dict[str, Any]) -> dict[str, tuple[str, int, str]]:
    """The results table: file -> (status, rows, error)."""
    table = widget["table"]
    assert table["title"] == "Results", table["title"]
    rows = {r["file"]: (r["status"], int(r["rows"].replace(",", "")), r["error"]) for r in table["rows"]}
    assert len(rows) == len(table["rows"]), f"a file is listed twice: {table['rows']}"
    return rows


def status_word(status: str) -> str:
    """How the widget words a FileResult status."""
    return "already loaded" if status == "skipped" else status


def squash(text: str) -> str:
    return " ".join(text.split())


def files_expr(result: str) -> str:
    """A kernel expression: file name -> [status, rows_loaded, error] of the LoadResult `result`."""
    return f"{{__import__('os').path.basename(f.path): [f.status, f.rows_loaded, f.error] for f in {result}.files}}"


def generated_expr(files: str) -> str:
    """A kernel expression: file name -> rows written, for the GeneratedFile list `files`."""
    return f"{{f.path.name: f.rows for f in {files}}}"


def assert_results(widget: dict[str, Any], files: dict[str, list[Any]], generated: dict[str, int]) -> None:
    """The widget's results table lists every file of the load, as the kernel's LoadResult has it.

    A loaded file's rows are also what the notebook's generator wrote into it; a failed file
    shows its error.
    """
    table = table_of(widget)
    assert sorted(table) == sorted(files), f"table lists {sorted(table)}, the load had {sorted(files)}"
    for name, (status, rows, error) in files.items():
        shown_status, shown_rows, shown_error = table[name]
        assert shown_status == status_word(status), (name, table[name], files[name])
        assert shown_rows == rows, (name, table[name], files[name])
        if status == "loaded":
            assert rows == generated[name], f"{name}: {rows} rows loaded, {generated[name]} generated"
        if status == "failed":
            assert shown_error and squash(shown_error) == squash(error), (name, shown_error, error)
