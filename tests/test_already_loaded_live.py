"""Files the re-run check ends as already loaded show while the load runs, not only in the final table.

The check ends them before any work; every view says "N already loaded" from its first draw:
the widget's header, the terminal's top line, and the log view's first line.
"""

from __future__ import annotations

import threading

import pytest
from conftest import Interceptor, expected_facts, table_facts

import snowload_nb as sl
import snowload_nb.loader as loader_module
from snowload_nb.demo import write_csv
from snowload_nb.model import LoadState

WAIT = 120  # s: only a hung load takes this long


@pytest.mark.parametrize("progress", ["widget", "tqdm", "log"])
def test_a_rerun_shows_how_many_were_already_loaded_while_it_runs(conn, table, tmp_path, monkeypatch, capsys, progress):
    old = [write_csv(tmp_path / f"old_{k}.csv", k, 1 + k * 1000, 100) for k in range(3)]
    assert sl.Loader(conn, table, progress="none").load([str(f.path) for f in old]).ok
    new = write_csv(tmp_path / "new.csv", 3, 10_001, 100)

    live: list[str] = []  # what the view showed at a draw while the new file was held
    drawn = threading.Event()
    make_view = loader_module.make_view

    def watched_view(*args, **kwargs):
        view = make_view(*args, **kwargs)
        draw = view.draw

        def draw_and_note(snapshot):
            draw(snapshot)
            if snapshot.state is LoadState.RUNNING:
                live.append(view._header.value if progress == "widget" else capsys.readouterr().err)
                drawn.set()

        view.draw = draw_and_note
        return view

    def hold_the_upload(statement: str) -> None:
        if statement.split()[0].upper() == "PUT":
            assert drawn.wait(WAIT), "the view never drew while the load ran"

    monkeypatch.setattr(loader_module, "make_view", watched_view)
    loader = sl.Loader(conn, table, progress=progress, connect=Interceptor(hold_the_upload))
    result = loader.load([str(f.path) for f in [*old, new]])

    assert [f.status for f in result.files] == ["skipped"] * 3 + ["loaded"]
    assert table_facts(conn, table) == expected_facts([*old, new])
    shown = live[0]
    if progress == "widget":
        assert "4 files · 3 already loaded ·" in shown and "running" in shown
    elif progress == "tqdm":
        top = next(line for line in shown.splitlines() if "already loaded" in line)
        assert top.endswith("3 already loaded") or "3 already loaded ·" in top
    else:
        assert "snowload loading into " in shown and ": 4 files, " in shown and ", 3 already loaded\n" in shown
