"""A notebook executed headless (nbclient, as papermill and `nbconvert --execute` do) keeps a
static record of each load: no widget MIME type, a valid notebook, and nbconvert's HTML says
what happened with the true row count."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01-quickstart.ipynb"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    workdir = tmp_path_factory.mktemp("headless")
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}).execute()
    saved = workdir / NOTEBOOK.name
    nbformat.write(nb, saved)
    return nbformat.read(saved, as_version=4)


def _cell(nb, source_start: str):
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start))


def _rows_loaded(nb) -> int:
    printed = _cell(nb, "# NBVAL_CHECK_OUTPUT\nprint(result.ok, result.rows_loaded)").outputs[0]["text"]
    ok, rows = printed.split("\n")[0].split()
    assert ok == "True"
    return int(rows)


def test_the_saved_notebook_is_valid_and_holds_no_widget(executed):
    nbformat.validate(executed)
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            assert WIDGET_MIME not in output.get("data", {}), cell.source
    # nbclient keeps the state of every widget it saw, referenced by no output now; GitHub refuses
    # a notebook whose widget metadata lacks "state", which this one has
    widgets = executed.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json")
    assert widgets is None or "state" in widgets


def test_each_load_cell_ends_with_its_record(executed):
    rows = _rows_loaded(executed)
    loads = (("loader = sl.Loader(", "QUICKSTART_EVENTS"), ("magic_result = %snowload", "QUICKSTART_MAGIC"))
    for source, table in loads:
        (output,) = _cell(executed, source).outputs
        assert set(output["data"]) == {"text/plain", "text/html"}
        summary = f"Done: {rows:,} rows into {table} from 3 files (3 loaded)"
        assert output["data"]["text/plain"].startswith(summary)
        assert "snowload-record" in output["data"]["text/html"] and "<svg" in output["data"]["text/html"]


def test_nbconvert_html_states_the_summary(executed):
    body, _ = HTMLExporter().from_notebook_node(executed)
    visible = unescape(re.sub(r"<[^>]+>", " ", body))
    rows = _rows_loaded(executed)
    for table in ("QUICKSTART_EVENTS", "QUICKSTART_MAGIC"):
        assert f"Done: {rows:,} rows into {table} from 3 files (3 loaded)" in visible
    assert "Error displaying widget" not in visible
