"""04-real-snowflake in JupyterLab without an account: every cell runs and skips itself."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser

from e2e.lab import JupyterLab
from e2e.runner import assert_ran_clean, opened, output_text, run_notebook

NAME = "04-real-snowflake.ipynb"
SKIP = "No Snowflake connection configured - skipping this cell."


def test_every_cell_skips_itself_without_an_account(browser: Browser, lab: JupyterLab, workdir: Path) -> None:
    with opened(browser, lab, NAME, workdir / "failures") as page:
        run = run_notebook(page, timeout=120)
    assert_ran_clean(run)
    assert not run.widgets, "a widget appeared without a connection"
    code = [c for c in run.cells if c["type"] == "code"]
    assert "No Snowflake connection configured" in output_text(code[0]), output_text(code[0])
    for cell in code[1:]:
        assert output_text(cell).strip() == SKIP, (cell["index"], output_text(cell))
