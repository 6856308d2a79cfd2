"""01-quickstart in JupyterLab: the live widget, its end state, and the saved notebook as static HTML."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext

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
        # the README's timeline: this load's picture, as result.timeline() draws it
        (docs_img / "timeline.svg").write_text(page.kernel_value("result.timeline().to_svg()"), encoding="utf-8")
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
    offline(context)
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
        assert page.locator("svg.snowload-timeline").count() == 2  # each load's record holds its timeline
    finally:
        context.close()


def offline(context: BrowserContext) -> None:
    """Every http(s) request fails, as on a machine without network: only the file itself loads."""
    context.route("**/*", lambda route: route.abort() if route.request.url.startswith("http") else route.continue_())


def test_a_headless_run_reads_right_offline_and_in_jupyterlab(lab: JupyterLab, browser: Browser, workdir: Path) -> None:
    """01-quickstart executed by nbclient (as papermill or `nbconvert --execute` do), then opened
    as nbconvert's HTML in Chromium without network, and as a notebook in JupyterLab."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(lab.root / NAME, as_version=4)
    run_dir = workdir / "headless"
    run_dir.mkdir(exist_ok=True)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(run_dir)}}).execute()
    nbformat.validate(nb)
    headless = lab.root / "headless-01-quickstart.ipynb"
    nbformat.write(nb, headless)
    printed = next(c for c in nb.cells if "print(result.ok, result.rows_loaded)" in c.source).outputs[0]["text"]
    rows = int(printed.split()[1])
    summary = f"Done: {rows:,} rows into QUICKSTART_EVENTS from 3 files (3 loaded)"

    out = workdir / "headless-html"
    subprocess.run(
        [VENV_BIN / "jupyter", "nbconvert", "--to", "html", "--output-dir", out, headless],
        check=True,
        capture_output=True,
        timeout=120,
    )
    context = browser.new_context()
    offline(context)
    try:
        page = context.new_page()
        page.goto((out / headless.with_suffix(".html").name).as_uri())
        output = page.locator(".jp-OutputArea-output").filter(has_text=summary).first
        assert output.is_visible(), f"no visible output says {summary!r}"
        assert output.locator("tbody tr").count() == 3
    finally:
        context.close()

    with opened(browser, lab, headless.name, workdir / "failures") as nb_page:
        nb_page.page.wait_for_function("() => window.__snowloadProbe.widgets().length === 2", timeout=30_000)
        records = nb_page.widgets()
        assert [r["kind"] for r in records] == ["record", "record"], records
        assert records[0]["summary"].startswith(summary), records[0]
        assert [b["label"] for b in records[0]["bars"]] == ["Compress", "Upload", "Copy"]
        assert len(records[0]["table"]["rows"]) == 3
        assert nb_page.problems() == []
