"""02-parallel-files in JupyterLab: one worker, then ten, each with its own row limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from e2e.lab import JupyterLab
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

NAME = "02-parallel-files.ipynb"
CELLS = {
    "one": ('"PARALLEL_ONE_WORKER", workers=1', "one_at_a_time"),
    "ten": ('"PARALLEL_TEN_WORKERS", workers=10', "ten_at_once"),
}
TEN_ROWS_SHOWN = 8  # the picture waits for this many file rows at once


@pytest.fixture(scope="module")
def parallel(browser: Browser, lab: JupyterLab, docs_img: Path, workdir: Path) -> Iterator[dict[str, Any]]:
    with opened(browser, lab, NAME, workdir / "failures") as page:
        cells = {key: page.cell_index(fragment) for key, (fragment, _) in CELLS.items()}
        running_png = docs_img / "parallel-running.png"
        run = run_notebook(
            page,
            timeout=300,
            moments=(Moment(cells["ten"], TEN_ROWS_SHOWN, running_png),),
            keep=workdir / "records" / "02.json",
        )
        results = ", ".join(f"'{key}': {files_expr(var)}" for key, (_, var) in CELLS.items())
        kernel = page.kernel_value(f"{{'generated': {generated_expr('files')}, {results}}}")
        yield {"run": run, "cells": cells, "kernel": kernel, "running_png": running_png}


def test_runs_clean(parallel: dict[str, Any]) -> None:
    assert_ran_clean(parallel["run"])


@pytest.mark.parametrize("which", ["one", "ten"])
def test_widget_ends_green_with_every_file(parallel: dict[str, Any], which: str) -> None:
    run: NotebookRun = parallel["run"]
    kernel = parallel["kernel"]
    widget = run.widget(parallel["cells"][which])
    assert widget["state"] == "done", widget["header"]
    assert_bars(widget, "success")
    assert len(kernel["generated"]) == 12
    assert sorted(kernel[which]) == sorted(kernel["generated"])
    assert_results(widget, kernel[which], kernel["generated"])


@pytest.mark.parametrize(("which", "workers"), [("one", 1), ("ten", 10)])
def test_file_rows_within_limit(parallel: dict[str, Any], which: str, workers: int) -> None:
    """max(workers, 8) row slots; never more file rows on screen than files in progress."""
    seen = assert_rows_while_running(parallel["run"], parallel["cells"][which], files=12)
    assert seen["maxRows"] <= workers, f"{seen['maxRows']} file rows at once with {workers} workers"
    # A tiny file can start and end between two refreshes (5 a second) and never get a row; the
    # three small files share one batch's row.
    files = [name for name in seen["names"] if not name.startswith("batch ")]
    assert set(files) <= set(parallel["kernel"]["generated"]), seen["names"]
    assert set(seen["names"]) - set(files) <= {"batch 1: 3 files"}, seen["names"]
    if workers > 1:
        assert seen["maxRows"] >= TEN_ROWS_SHOWN, seen


def test_mid_load_picture_shows_parallel_rows(parallel: dict[str, Any]) -> None:
    shown = parallel["run"].mid_load[parallel["running_png"]]
    assert shown["state"] == "running", shown["header"]
    assert len(shown["rows"]) >= TEN_ROWS_SHOWN, shown["rows"]
