"""Many small files: every row exactly once, the model consistent, memory and view rows bounded."""

from __future__ import annotations

import json
import subprocess

import pyte
import pytest
import snowflake.connector
from conftest import table_facts

import snowload_nb as sl
import snowload_nb.loader as loader_module
from snowload_nb import local, sql
from snowload_nb.demo import DEMO_COLUMNS
from snowload_nb.model import FileState, LoadState
from snowload_nb.views.terminal import TerminalView
from snowload_nb.views.widget import WidgetView

FILES, WORKERS, ROWS = 2000, 16, 5


def resident_bytes() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


class ScreenStream:
    """A terminal for the tqdm view to draw on: a pyte screen, fed as it writes."""

    def __init__(self) -> None:
        self.screen = pyte.Screen(200, 60)
        self._stream = pyte.Stream(self.screen)

    def write(self, text: str) -> int:
        self._stream.feed(text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


class Checked:
    """Both views at once, checked after every draw against their row limits."""

    def __init__(self, workers: int, on_cancel, background=False) -> None:
        self.widget = WidgetView(workers, on_cancel=on_cancel, show=False)
        self.terminal_screen = ScreenStream()
        self.terminal = TerminalView(workers, stream=self.terminal_screen)
        self.refresh_interval = WidgetView.refresh_interval
        self.draws = 0
        self.most_rss = 0
        self.most_widget_rows = 0
        self.most_bar_lines = 0
        self.shared_lines = 0

    def draw(self, snapshot) -> None:
        self.widget.draw(snapshot)
        self.terminal.draw(snapshot)
        self.draws += 1
        self.most_rss = max(self.most_rss, resident_bytes())
        self.most_widget_rows = max(self.most_widget_rows, self.widget.visible_file_rows)
        lines = self.terminal_screen.screen.display
        self.most_bar_lines = max(self.most_bar_lines, sum("%|" in line for line in lines))
        self.shared_lines += sum(line.count("%|") > 1 for line in lines)

    def close(self, snapshot) -> None:
        self.widget.close(snapshot)
        self.terminal.close(snapshot)


@pytest.fixture
def server_elsewhere():
    """The embedded server in a process of its own, so this process's memory is the loader's."""
    server = subprocess.Popen(
        local.child_serve_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )  # `snowload serve` as connect_local() runs it, ended by closing its stdin
    try:
        kwargs = json.loads(server.stdout.readline())
        yield lambda: snowflake.connector.connect(**kwargs)
    finally:
        server.stdin.close()
        server.wait(timeout=60)


def test_two_thousand_small_files_with_sixteen_workers(server_elsewhere, tmp_path, monkeypatch):
    conn = server_elsewhere()
    table = "MANY"
    conn.cursor().execute(sql.create_table(sql.QualifiedName.parse(table), DEMO_COLUMNS))
    header = "id,file_no,name,amount,at,note\n"
    paths = []
    for k in range(FILES):
        path = tmp_path / f"small_{k:04d}.csv"
        rows = "".join(f"{k * ROWS + r + 1},{k},n,1.5,2026-01-02 03:04:05,x\n" for r in range(ROWS))
        path.write_text(header + rows)
        paths.append(str(path))
    views = []
    monkeypatch.setattr(
        loader_module, "make_view", lambda mode, workers, **k: views.append(Checked(workers, **k)) or views[-1]
    )

    before = resident_bytes()
    result = sl.Loader(conn, table, workers=WORKERS, progress="widget", connect=server_elsewhere).load(paths)

    total = FILES * ROWS
    assert result.ok and result.rows_loaded == total
    assert table_facts(conn, table) == (total, total, total * (total + 1) // 2)  # every row exactly once
    assert {f.status for f in result.files} == {"loaded"}
    (view,) = views
    assert view.draws > 5
    assert view.most_widget_rows <= max(WORKERS, 8)
    assert view.most_bar_lines <= 3 + min(WORKERS, 8)
    assert view.shared_lines == 0
    # the loader's process (the server runs elsewhere) grows by less than 50 kB per file
    assert view.most_rss - before < 100_000_000


def test_the_model_ends_consistent_after_many_files(conn, table, tmp_path):
    paths = []
    for k in range(300):
        path = tmp_path / f"m_{k:03d}.csv"
        path.write_text("id,file_no,name,amount,at,note\n" + f"{k + 1},{k},n,1.5,2026-01-02 03:04:05,x\n")
        paths.append(str(path))
    paths.append(str(tmp_path / "missing.csv"))
    loader = sl.Loader(conn, table, workers=16, progress="none")
    run = loader._begin(paths, background=False)
    result = run.execute()

    snapshot = run.model.snapshot()
    assert snapshot.state is LoadState.FAILED
    assert snapshot.counts[FileState.LOADED] == 300 and snapshot.counts[FileState.FAILED] == 1
    assert sum(snapshot.counts.values()) == snapshot.files_total == 301
    assert snapshot.active == () and len(snapshot.finished) == 301
    for phase in snapshot.phases:
        assert phase.bytes_done + phase.bytes_dropped == phase.bytes_total
        assert phase.settled
    assert result.rows_loaded == 300
