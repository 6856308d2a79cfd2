"""Shared fixtures: one embedded server per test process, fresh tables, generated files.

The same tests run on connector 4.x (the main environment, with fakesnow) and on 5.x or the lowest
declared versions (environments without fakesnow, which cannot import beside 5.x). The `server`
fixture is where that is chosen: `connect_local()` starts `snowload serve` as a child process,
from this environment, or from the one $SNOWLOAD_SERVE names (the Makefile sets it to the main
environment's `snowload` for the others).
"""

from __future__ import annotations

import gc
import itertools
import os
import sys
import tempfile
import threading
from pathlib import Path

import pytest

import snowload_nb as sl
from snowload_nb import local, sql
from snowload_nb.demo import DEMO_COLUMNS, GeneratedFile, generate_files

VENV_BIN = Path(sys.executable).parent
_table_numbers = itertools.count(1)

# tiny, header-only, mid-sized and tens of MB, in an order that mixes them
MIXED_SIZES = (3_000, 0, 200_000, 24_000_000, 40, 1_500_000, 0, 8_000_000, 60_000, 3_000_000)


def _has_fakesnow() -> bool:
    import importlib.util

    return importlib.util.find_spec("fakesnow") is not None


def pytest_sessionstart(session) -> None:
    """Without fakesnow here and no other environment's server named, say so once, up front."""
    if not _has_fakesnow() and not os.environ.get(local.SERVE_ENV):
        pytest.exit(f"no fakesnow here: set {local.SERVE_ENV} to a snowload from an environment with it", 2)


@pytest.fixture(scope="session")
def server():
    """The embedded server of this test process, whichever connector this environment has."""
    return local.embedded_server()


@pytest.fixture(scope="session")
def conn(server):
    session = sl.connect_local()
    yield session
    session.close()


@pytest.fixture
def table(conn) -> str:
    """A new, empty table with the generated files' columns."""
    name = f"T{next(_table_numbers)}_{os.getpid()}"
    conn.cursor().execute(sql.create_table(sql.QualifiedName.parse(name), DEMO_COLUMNS))
    return name


@pytest.fixture(scope="session")
def mixed_files(tmp_path_factory) -> list[GeneratedFile]:
    return generate_files(tmp_path_factory.mktemp("mixed"), MIXED_SIZES)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """Where the loader makes its temporary folder during this test, to check it is gone after."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def table_facts(conn, table: str) -> tuple[int, int, int]:
    """(rows, distinct ids, sum of ids) in `table`."""
    name = sql.QualifiedName.parse(table).sql
    count, distinct, total = (
        conn.cursor().execute(f'SELECT COUNT(*), COUNT(DISTINCT "ID"), SUM("ID") FROM {name}').fetchone()
    )
    return int(count), int(distinct), int(total or 0)


def expected_facts(files: list[GeneratedFile]) -> tuple[int, int, int]:
    rows = sum(f.rows for f in files)
    return rows, rows, sum(f.id_sum for f in files)


def leftover_threads(grace: float = 5.0) -> list[threading.Thread]:
    """Non-daemon threads besides the main one that do not end: what would keep a process alive.

    A thread already on its way out (the connector's cancelled query timer) gets `grace`
    seconds to finish; joining waits for exactly that, no longer than needed. Connectors before
    4.7.2 leave each PUT's idle thread pools to the garbage collector, which ends their threads
    when it frees them: collected first, they are not leftovers.
    """
    gc.collect()
    others = [t for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()]
    for thread in others:
        thread.join(grace)
    return [t for t in others if t.is_alive()]


class Interceptor:
    """Real sessions to the embedded server whose cursors let a test act before chosen statements.

    `before(statement)` runs first and may raise (a failure on the network) or do something
    to the world (stop the server, interrupt the load).
    """

    def __init__(self, before, kwargs=None):
        self.before = before
        self.kwargs = kwargs or {}
        self.lock = threading.Lock()

    def __call__(self):
        conn = sl.connect_local(**self.kwargs) if "port" not in self.kwargs else connect_with(self.kwargs)
        return _Session(conn, self)


def connect_with(kwargs):
    """A session to an embedded server of the test's own, made as connect_local() makes them."""
    return local.embedded_session(kwargs)


class _Session:
    def __init__(self, conn, interceptor):
        self.conn = conn
        self.__wrapped__ = conn  # so the loader can make it give up, as it does a session of its own
        self.interceptor = interceptor

    def cursor(self):
        return _Cursor(self.conn.cursor(), self.interceptor)

    def close(self):
        self.conn.close()


class _Cursor:
    def __init__(self, cursor, interceptor):
        self._cursor = cursor
        self._interceptor = interceptor

    def execute(self, statement, *args, **kwargs):
        with self._interceptor.lock:
            self._interceptor.before(statement)
        return self._cursor.execute(statement, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


def load_without_file_powers(paths: list[str]) -> dict:
    """Load `paths` into a new table in a child process that cannot read past file permissions
    (root gives up the capabilities that let it); its result and the table's row count."""
    import json
    import subprocess
    import textwrap

    script = textwrap.dedent(
        f"""
        import json, snowload_nb as sl
        from snowload_nb import sql
        from snowload_nb.demo import DEMO_COLUMNS
        conn = sl.connect_local()
        conn.cursor().execute(sql.create_table(sql.QualifiedName.parse("T"), DEMO_COLUMNS))
        result = sl.Loader(conn, "T", progress="none").load({paths!r})
        (count,) = conn.cursor().execute('SELECT COUNT(*) FROM "T"').fetchone()
        print(json.dumps({{"files": [[f.status, f.error] for f in result.files], "rows": count}}))
        """
    )
    command = [sys.executable, "-c", script]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def views(monkeypatch):
    """Every view the loads of a test make, in order: the test reads what they drew."""
    import snowload_nb.loader as loader_module

    made = []
    make_view = loader_module.make_view
    monkeypatch.setattr(loader_module, "make_view", lambda *a, **k: made.append(make_view(*a, **k)) or made[-1])
    return made
