"""01-quickstart in JupyterLab: the live widget, its end state, and the saved notebook as static HTML."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from e2e.lab import VENV_BIN, JupyterLab
from e2e.runner import (
    Moment,
    NotebookRun,
    assert_bars,
    assert_ran_clean,
    assert_results,
    assert_rows_while_running,
    files_expr,
    generated_expr,
    opened,
    run_notebook,
)

NAME = "01-quickstart.ipynb"
LOAD_CELL = 'loader.load(str(data_dir / "*.csv"))'
MAGIC_CELL = "%snowload {data_dir}/*.csv"


@pytest.fixture(scope="module")
def quickstart(browser: Browser, lab: JupyterLab, docs_img: Path, workdir: Path) -> Iterator[dict[str, Any]]:
    with opened(browser, lab, NAME, workdir / "failures") as page:
        load = page.cell_index(LOAD_CELL)
        magic = page.cell_index(MAGIC_CELL)
        running_png = docs_img / "quickstart-running.png"
        run = run_notebook(
            page, timeout=180, moments=(Moment(load, 3, running_png),), keep=workdir / "records" / "01.json"
        )
        page.screenshot(page.widget_handle(load), docs_img / "quickstart-done.png")
        kernel = page.kernel_value(
            f"{{'python': __import__('sys').executable, 'generated': {generated_expr('files')},"
            f" 'load': {files_expr('result')}, 'magic': {files_expr('magic_result')}}}"
        )
        page.save()
        yield {"run": run, "load": load, "magic": magic, "kernel": kernel, "running_png": running_png}


def test_runs_clean_in_the_project_kernel(quickstart: dict[str, Any]) -> None:
    assert_ran_clean(quickstart["run"])
    assert quickstart["kernel"]["python"].startswith(str(VENV_BIN.parent)), quickstart["kernel"]["python"]


@pytest.mark.parametrize("which", ["load", "magic"])
def test_widget_ends_green_with_every_file(quickstart: dict[str, Any], which: str) -> None:
    run: NotebookRun = quickstart["run"]
    kernel = quickstart["kernel"]
    widget = run.widget(quickstart[which])
    assert widget["state"] == "done", widget["header"]
    assert_bars(widget, "success")
    generated = kernel["generated"]
    assert sorted(kernel[which]) == sorted(generated)
    assert {s for s, _, _ in kernel[which].values()} == {"loaded"}
    assert_results(widget, kernel[which], generated)
    rows_total = sum(generated.values())
    assert widget["bars"][2]["detail"].endswith(f"· {rows_total:,} rows"), widget["bars"][2]


@pytest.mark.parametrize("which", ["load", "magic"])
def test_file_rows_show_while_running(quickstart: dict[str, Any], which: str) -> None:
    assert_rows_while_running(quickstart["run"], quickstart[which], files=len(quickstart["kernel"]["generated"]))


def test_mid_load_picture_is_mid_load(quickstart: dict[str, Any]) -> None:
    shown = quickstart["run"].mid_load[quickstart["running_png"]]
    assert shown["state"] == "running", shown["header"]
    assert len(shown["rows"]) == 3, shown["rows"]
    assert all(b["width"] != "100%" for b in shown["bars"][2:]), "the Copy bar was full already"


def test_static_html_shows_the_fallback(
    quickstart: dict[str, Any], lab: JupyterLab, browser: Browser, workdir: Path
) -> None:
    """The notebook as saved by JupyterLab, converted by nbconvert: no widget runs, the HTML record shows."""
    out = workdir / "html"
    subprocess.run(
        [VENV_BIN / "jupyter", "nbconvert", "--to", "html", "--output-dir", out, lab.root / NAME],
        check=True,
        capture_output=True,
        timeout=120,
    )
    html_file = out / NAME.replace(".ipynb", ".html")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(html_file.as_uri())
        page.wait_for_selector("text=Done:")
        kernel = quickstart["kernel"]
        generated = kernel["generated"]
        rows_total = sum(generated.values())
        for table_name in ("QUICKSTART_EVENTS", "QUICKSTART_MAGIC"):
            summary = (
                f"Done: {rows_total:,} rows into {table_name} from {len(generated)} files ({len(generated)} loaded)"
            )
            # The outputs that say so: the widget's HTML record (and, for the first load, the
            # LoadResult shown by the next cell); each holds its results table.
            output = page.locator(".jp-OutputArea-output").filter(has_text=summary).first
            assert output.count() == 1, f"no output says {summary!r}"
            table = output.locator("table")
            assert table.count() == 1, f"no results table under {summary!r}"
            for name, rows in generated.items():
                row = table.locator("tbody tr", has_text=name)
                assert row.count() == 1, name
                assert row.locator("td").all_inner_texts()[:3] == [name, "loaded", f"{rows:,}"]
        assert page.get_by_text("Error displaying widget").count() == 0
    finally:
        context.close()
