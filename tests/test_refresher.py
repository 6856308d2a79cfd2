"""If a view fails, drawing stops and the load goes on: progress is never worth a lost load."""

from __future__ import annotations

import logging
import threading

from conftest import Interceptor, table_facts

import snowload_nb as sl
from snowload_nb import loader as loader_module
from snowload_nb.demo import write_csv
from snowload_nb.model import Snapshot


class BrokenView:
    """Fails on its first draw, as a widget whose front end went away can."""

    refresh_interval = 0.001

    def __init__(self) -> None:
        self.draws = 0
        self.failed = threading.Event()
        self.closed: Snapshot | None = None

    def draw(self, snapshot: Snapshot) -> None:
        self.draws += 1
        self.failed.set()
        raise RuntimeError("the view's front end is gone")

    def close(self, snapshot: Snapshot) -> None:
        self.closed = snapshot


def test_a_view_that_fails_stops_drawing_and_the_load_goes_on(conn, table, tmp_path, monkeypatch, caplog):
    view = BrokenView()
    monkeypatch.setattr(loader_module, "make_view", lambda *args, **kwargs: view)
    source = write_csv(tmp_path / "a.csv", 0, 1, 500)

    def after_the_view_failed(statement: str) -> None:
        if statement.split()[0].upper() == "PUT":  # the load is under way when the view fails
            assert view.failed.wait(120)

    loader = sl.Loader(conn, table, progress="none", connect=Interceptor(after_the_view_failed))
    with caplog.at_level(logging.ERROR, logger="snowload_nb.views.refresher"):
        result = loader.load([str(source.path)])

    assert result.ok and table_facts(conn, table)[0] == source.rows
    assert view.draws == 1  # drawing stopped at the failure
    assert view.closed is not None and view.closed.ended  # the final state still reaches the view
    assert [r.getMessage() for r in caplog.records] == ["the progress view failed; the load goes on without it"]
