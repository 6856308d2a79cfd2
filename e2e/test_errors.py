"""03-errors-cancel-rerun in JupyterLab: failures in red with their errors, a cancelled background
load in orange, and the re-runs that skip what was loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from e2e.lab import JupyterLab
from e2e.runner import (
    NotebookRun,
    assert_bars,
    assert_ran_clean,
    assert_results,
    assert_rows_while_running,
    files_expr,
    generated_expr,
    opened,
    run_notebook,
    table_of,
)

NAME = "03-errors-cancel-rerun.ipynb"
# result variable -> a fragment of the only cell that makes it
CELLS = {
    "result": '"ERRORS_ORDERS", workers=4, create_table=True).load(',
    "job": '"ERRORS_BIG", workers=1, create_table=True).start(',
    "resumed": 'resumed = sl.Loader(conn, "ERRORS_BIG"',
    "again": 'again = sl.Loader(conn, "ERRORS_ORDERS"',
    "retry": 'retry = sl.Loader(conn, "ERRORS_ORDERS"',
    "forced": 'forced = sl.Loader(conn, "ERRORS_ORDERS"',
}


@pytest.fixture(scope="module")
def errors(browser: Browser, lab: JupyterLab, docs_img: Path, workdir: Path) -> Iterator[dict[str, Any]]:
    with opened(browser, lab, NAME, workdir / "failures") as page:
        cells = {key: page.cell_index(fragment) for key, fragment in CELLS.items()}
        run = run_notebook(page, timeout=300, keep=workdir / "records" / "03.json")
        page.screenshot(page.cell_handle(cells["result"]), docs_img / "errors-failed.png")
        page.screenshot(page.cell_handle(cells["job"]), docs_img / "errors-cancelled.png")
        results = ", ".join(f"'{key}': {files_expr('cancelled' if key == 'job' else key)}" for key in CELLS)
        kernel = page.kernel_value(f"{{'good': {generated_expr('good')}, 'big': {generated_expr('big')}, {results}}}")
        yield {"run": run, "cells": cells, "kernel": kernel}


def widget(errors: dict[str, Any], key: str) -> dict[str, Any]:
    run: NotebookRun = errors["run"]
    return run.widget(errors["cells"][key])


def test_runs_clean(errors: dict[str, Any]) -> None:
    assert_ran_clean(errors["run"])


def test_failed_files_show_their_errors(errors: dict[str, Any]) -> None:
    kernel = errors["kernel"]
    shown = widget(errors, "result")
    assert shown["state"] == "failed", shown["header"]
    assert_bars(shown, "danger", full=False)
    statuses = {name: status for name, (status, _, _) in kernel["result"].items()}
    assert statuses == {
        **dict.fromkeys(kernel["good"], "loaded"),
        "orders_bad.csv": "failed",
        "orders_missing.csv": "failed",
    }
    assert_results(shown, kernel["result"], kernel["good"])
    table = table_of(shown)
    # the line and what is wrong with it, as the notebook's bad file has it (a row one field short)
    assert table["orders_bad.csv"][2] == "line 3: 5 fields where the header has 6", table
    assert table["orders_missing.csv"][2] == "no such file", table


def test_cancelled_background_load_shows_cancelled(errors: dict[str, Any]) -> None:
    kernel = errors["kernel"]
    shown = widget(errors, "job")
    assert shown["state"] == "cancelled", shown["header"]
    assert_bars(shown, "warning", full=False)
    assert shown["kind"] == "record" and not shown["cancelShown"], "a Cancel button is left after the end"
    statuses = [status for status, _, _ in kernel["job"].values()]
    assert "cancelled" in statuses and set(statuses) <= {"loaded", "cancelled"}, statuses
    assert_results(shown, kernel["job"], kernel["big"])


@pytest.mark.parametrize("key", ["resumed", "again", "retry", "forced"])
def test_reruns_end_green(errors: dict[str, Any], key: str) -> None:
    kernel = errors["kernel"]
    shown = widget(errors, key)
    assert shown["state"] == "done", shown["header"]
    assert_bars(shown, "success")
    generated = kernel["big"] if key == "resumed" else kernel["good"] | {"orders_bad.csv": 2}
    assert_results(shown, kernel[key], generated)


def test_rerun_statuses(errors: dict[str, Any]) -> None:
    """Nothing is loaded twice: what made it before is skipped, the rest loads."""
    kernel = errors["kernel"]
    cancelled_loaded = {n for n, (s, _, _) in kernel["job"].items() if s == "loaded"}
    assert {n for n, (s, _, _) in kernel["resumed"].items() if s == "skipped"} == cancelled_loaded
    assert {s for s, _, _ in kernel["again"].values()} == {"skipped"}
    assert kernel["retry"]["orders_bad.csv"][:2] == ["loaded", 2]
    assert {s for s, _, _ in kernel["forced"].values()} == {"loaded"}


@pytest.mark.parametrize("key", ["result", "resumed", "forced"])
def test_file_rows_show_while_running(errors: dict[str, Any], key: str) -> None:
    files = len(errors["kernel"][key])
    assert_rows_while_running(errors["run"], errors["cells"][key], files=files)
