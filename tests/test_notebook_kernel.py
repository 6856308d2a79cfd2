"""The widget in a real ipykernel (7, and 6 from a second environment), seen through iopub."""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from kernel_session import KernelSession, Message

from snowload_nb.demo import generate_files

ROOT = Path(__file__).resolve().parent.parent
# This environment's kernel (the main one, or connector 5.x's, or the lowest versions'), and
# ipykernel 6 from the main run only.
KERNELS = {"ipykernel7": (Path(sys.executable), "7.")}
if Path(sys.prefix).resolve() == (ROOT / ".venv").resolve():
    KERNELS["ipykernel6"] = (ROOT / ".venv-ipykernel6" / "bin" / "python", "6.")
MAX_MESSAGES_PER_SECOND = 20


@pytest.fixture(scope="module")
def small_files(tmp_path_factory):
    sizes = [40_000, 400_000, 0, 3_000_000, 8_000, 6_000_000, 1_000_000, 200_000, 5_000_000, 100]
    return generate_files(tmp_path_factory.mktemp("small"), sizes)


@pytest.fixture(scope="module")
def big_files(tmp_path_factory):
    return [str(f.path) for f in generate_files(tmp_path_factory.mktemp("big"), [4_000_000] * 16)]


@pytest.fixture(scope="module")
def mixed_files(tmp_path_factory):
    """Small files sharing a batch, and files big enough to keep the load running for a few draws."""
    sizes = [40_000, 400_000, 0, 3_000_000, 8_000, 6_000_000, 200_000, 100, *[8_000_000] * 4]
    return generate_files(tmp_path_factory.mktemp("mixed"), sizes)


def _paths(files) -> list[str]:
    return [str(f.path) for f in files]


@pytest.fixture(scope="module", params=sorted(KERNELS))
def kernel(request, tmp_path_factory):
    python, version = KERNELS[request.param]
    if not python.exists():
        pytest.fail(f"{python} is missing: `make test` creates it")
    tmp = tmp_path_factory.mktemp(f"{request.param}-tmp")
    session = KernelSession(str(python), env={"TMPDIR": str(tmp)})
    session.tmp = tmp
    try:
        setup = session.execute(
            "import json, os, tempfile, threading\n"
            "import ipykernel, snowload_nb as sl\n"
            "from snowload_nb import sql\n"
            "from snowload_nb.demo import DEMO_COLUMNS\n"
            "conn = sl.connect_local()\n"
            "def leftover_threads():\n"
            "    import gc; gc.collect()  # connectors before 4.7.2 leave PUT thread pools to the collector\n"
            "    others = [t for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()]\n"
            "    for t in others:\n"
            "        t.join(5)  # a thread on its way out gets a moment to finish\n"
            "    return [t.name for t in others if t.is_alive()]\n"
            "def new_table(name):\n"
            "    conn.cursor().execute(sql.create_table(sql.QualifiedName.parse(name), DEMO_COLUMNS))\n"
            "    return name\n"
            "print(ipykernel.__version__)\n"
        )
        assert setup.reply["status"] == "ok", setup.reply
        assert setup.stdout().startswith(version), setup.stdout()
        yield session
    finally:
        session.close()


def _opened(messages: list[Message], model_name: str) -> list[str]:
    return [m.comm_id for m in messages if m.msg_type == "comm_open" and m.state.get("_model_name") == model_name]


def _updates(messages: list[Message], comm_id: str, key: str) -> list[Message]:
    return [
        m
        for m in messages
        if m.msg_type == "comm_msg"
        and m.comm_id == comm_id
        and m.content["data"].get("method") == "update"
        and key in m.state
    ]


def _busiest_second(messages: list[Message]) -> int:
    """Most widget messages any one widget sent within one second, by the kernel's send times:
    a stall in this test process would bunch up receive times into a burst that never was."""
    by_widget: dict[str, list[float]] = defaultdict(list)
    for m in messages:
        if m.msg_type == "comm_msg":
            by_widget[m.comm_id].append(m.sent)
    busiest = 0
    for times in by_widget.values():
        start = 0
        for end in range(len(times)):
            while times[end] - times[start] > 1.0:
                start += 1
            busiest = max(busiest, end - start + 1)
    return busiest


def _foreign_output(messages: list[Message], cell_id: str) -> list[Message]:
    return [
        m
        for m in messages
        if m.msg_type in ("stream", "display_data", "update_display_data", "error") and m.parent_id != cell_id
    ]


def test_live_widget_from_worker_threads(kernel, mixed_files):
    cell = kernel.execute(
        f"result = sl.Loader(conn, new_table('LIVE'), workers=4).load({_paths(mixed_files)!r})\n"
        "print(result.rows_loaded)"
    )
    assert cell.reply["status"] == "ok", cell.reply
    messages = cell.messages

    assert len(_opened(messages, "VBoxModel")) >= 1
    bars = _opened(messages, "FloatProgressModel")
    assert len(bars) >= 3 + 4  # three aggregates (opened first) and the file rows
    aggregates = bars[:3]

    final = next(m for m in messages if m.msg_type == "update_display_data")
    live = [
        m
        for bar in bars
        for m in _updates(messages, bar, "value")
        if 0 < m.state["value"] < 1 and m.received < final.received
    ]
    assert live, "no progress reached the front end while the cell ran"
    assert all(m.received < cell.idle_at for m in live)

    assert _busiest_second(messages) <= MAX_MESSAGES_PER_SECOND
    models = kernel.widget_models()
    assert [(models[b]["value"], models[b]["bar_style"]) for b in aggregates] == [(1.0, "success")] * 3
    assert _foreign_output(messages, cell.msg_id) == []
    assert cell.stdout() == f"{sum(f.rows for f in mixed_files)}\n"
    # the record that stays in the cell: static text and HTML, no widget left in it
    rows = sum(f.rows for f in mixed_files)
    record = final.content["data"]
    assert set(record) == {"text/plain", "text/html"}
    assert record["text/plain"].startswith(f"Done: {rows:,} rows into LIVE from {len(mixed_files)} files")
    assert "<table" in record["text/html"] and "<svg" in record["text/html"]


def _copy_started(messages: list[Message]) -> bool:
    bars = _opened(messages, "FloatProgressModel")
    return len(bars) >= 3 and any(m.state["value"] > 0 for m in _updates(messages, bars[2], "value"))


def test_interrupt_cancels_a_blocking_load_and_stops_the_cell(kernel, big_files):
    first = len(kernel.messages)
    msg_id = kernel.execute(
        "loader = sl.Loader(conn, new_table('INTERRUPTED'), workers=1)\n"
        f"loader.load({big_files!r})\n"
        "print('the next statement ran')",
        wait=False,
    )
    # interrupt once the first file is in the table and more are on their way
    deadline = time.monotonic() + 120
    while not _copy_started(kernel.messages[first:]):
        assert time.monotonic() < deadline, "the load never reached its first COPY"
        kernel.pump(timeout=0.5)
    kernel.km.interrupt_kernel()
    cell = kernel.finish(msg_id)
    # the load wound down, then the interrupt stopped the cell: the next statement did not run
    assert (cell.reply["status"], cell.reply.get("ename")) == ("error", "KeyboardInterrupt"), cell.reply
    assert "the next statement ran" not in cell.stdout()

    header = _opened(kernel.messages[first:], "HTMLModel")[0]
    assert "cancelled" in kernel.widget_models()[header]["value"]
    record = [m for m in cell.messages if m.msg_type == "update_display_data"][-1]
    assert record.content["data"]["text/plain"].startswith("Cancelled: ")
    after = kernel.execute(
        "result = loader.last_result\n"
        "n = conn.cursor().execute('SELECT COUNT(*) FROM INTERRUPTED').fetchone()[0]\n"
        "print(json.dumps({'state': result.state, 'statuses': [f.status for f in result.files],\n"
        "    'rows': result.rows_loaded, 'in_table': n,\n"
        "    'threads': leftover_threads(),\n"
        "    'temp': [p for p in os.listdir(tempfile.gettempdir()) if p.startswith('snowload-')]}))"
    )
    report = json.loads(after.stdout())
    assert report["state"] == "cancelled"
    statuses = Counter(report["statuses"])
    assert statuses["loaded"] >= 1 and statuses["cancelled"] >= 1
    assert set(statuses) <= {"loaded", "cancelled"}
    assert report["in_table"] == report["rows"] > 0  # whole files only
    assert report["threads"] == []
    assert report["temp"] == []


def test_background_load_keeps_the_widget_live_after_the_cell(kernel, small_files, big_files):
    started = kernel.execute(
        f"job = sl.Loader(conn, new_table('BACKGROUND'), workers=2).start({_paths(small_files)!r})\n"
        "print('started', job.done())"
    )
    assert started.stdout() == "started False\n"
    waited = kernel.execute("r = job.wait()\nprint(r.rows_loaded, job.done(), r.state)")
    assert waited.stdout() == f"{sum(f.rows for f in small_files)} True done\n"

    bars = _opened(started.messages, "FloatProgressModel")
    later = [
        m for m in kernel.messages if m.msg_type == "comm_msg" and m.comm_id in bars and m.received > started.idle_at
    ]
    assert later, "the widget stopped updating when the starting cell finished"
    # everything the job displayed belongs to the cell that started it
    displays = [m for m in kernel.messages if m.msg_type in ("display_data", "update_display_data")]
    job_displays = [m for m in displays if m.received >= started.messages[0].received]
    assert {m.parent_id for m in job_displays if m.received < waited.idle_at} == {started.msg_id}
    assert [m for m in waited.messages if m.msg_type == "stream" and m.parent_id != waited.msg_id] == []

    cancelled = kernel.execute(f"job2 = sl.Loader(conn, new_table('CANCELLED'), workers=1).start({big_files!r})")
    assert cancelled.reply["status"] == "ok"
    stopped = kernel.execute("job2.cancel()\nr2 = job2.wait()\nprint(r2.state, job2.done())")
    assert stopped.stdout() == "cancelled True\n"


def test_the_cancel_button_stops_a_background_load(kernel, big_files):
    started = kernel.execute(f"job3 = sl.Loader(conn, new_table('BUTTON'), workers=1).start({big_files!r})")
    (button,) = _opened(started.messages, "ButtonModel")
    kernel.click(button)
    stopped = kernel.execute("r3 = job3.wait()\nprint(r3.state)")
    assert stopped.stdout() == "cancelled\n"


def test_the_snowload_magic_mirrors_the_cli(kernel, small_files):
    paths = " ".join(_paths(small_files[:3]))
    cell = kernel.execute(
        "%load_ext snowload_nb\n"
        f"r = %snowload {paths} --table MAGIC --conn conn --create-table --workers 2\n"
        "print(type(r).__name__, r.rows_loaded, [f.status for f in r.files])"
    )
    assert cell.reply["status"] == "ok", cell.reply
    assert cell.stdout() == f"LoadResult {sum(f.rows for f in small_files[:3])} ['loaded', 'loaded', 'loaded']\n"
    assert _opened(cell.messages, "VBoxModel")  # the same live widget as Loader.load

    # as a cell's last line: one results table in the cell (the record's), the value only sums up
    shown = kernel.execute(f"%snowload {paths} --table MAGIC --conn conn --workers 2")
    tables = [
        m
        for m in shown.messages
        if m.msg_type in ("update_display_data", "execute_result") and "<table" in m.content["data"]["text/html"]
    ]
    assert [m.msg_type for m in tables] == ["update_display_data"], [m.msg_type for m in shown.messages]
    value = next(m for m in shown.messages if m.msg_type == "execute_result")
    assert "already loaded" in value.content["data"]["text/html"]

    frame = kernel.execute(
        "import pandas as pd\n"
        "frame = pd.DataFrame({'n': range(1000), 'Name Here': ['x'] * 1000})\n"
        "r = %snowload frame --table MAGIC_FRAME --conn conn --create-table\n"
        '(total,) = conn.cursor().execute(\'SELECT SUM("n") FROM "MAGIC_FRAME"\').fetchone()\n'
        "print(r.rows_loaded, r.unit, total == sum(range(1000)))"
    )
    assert frame.stdout() == "1000 chunk True\n", frame.reply

    bad = kernel.execute("%snowload x.csv --table MAGIC")
    assert bad.reply["status"] == "error"
    assert "--conn VARIABLE, --local, or --connection NAME" in bad.reply["evalue"]

    missing = kernel.execute(f"%snowload {paths} --table NO_SUCH_MAGIC --conn conn")
    assert missing.reply["ename"] == "LoadError"  # its fix in the flags typed here
    assert "(pass --create-table to create it" in missing.reply["evalue"]


def test_without_ipywidgets_html_updates_in_place(kernel, small_files):
    cell = kernel.execute(
        "import sys\n"
        "saved = sys.modules.get('ipywidgets')\n"
        "sys.modules['ipywidgets'] = None  # import ipywidgets now fails, as where it is missing\n"
        "try:\n"
        f"    result = sl.Loader(conn, new_table('NO_WIDGETS'), workers=2).load({_paths(small_files)!r})\n"
        "finally:\n"
        "    sys.modules['ipywidgets'] = saved\n"
        "print(result.rows_loaded)"
    )
    assert cell.reply["status"] == "ok", cell.reply
    rows = sum(f.rows for f in small_files)
    assert cell.stdout() == f"{rows}\n"
    messages = cell.messages
    assert not [m for m in messages if m.msg_type.startswith("comm_")]  # no widget at all
    (shown,) = [m for m in messages if m.msg_type == "display_data"]
    display_id = shown.content["transient"]["display_id"]
    updates = [m for m in messages if m.msg_type == "update_display_data"]
    assert {m.content["transient"]["display_id"] for m in updates} == {display_id}
    assert all(m.parent_id == cell.msg_id for m in updates)
    live, final = updates[:-1], updates[-1]
    assert any("snowload-live" in m.content["data"]["text/html"] for m in live), "no live update"
    # at most two a second, by the kernel's send times
    sent = [m.sent for m in updates]
    assert all(b - a >= 0.45 for a, b in itertools.pairwise(sent[:-1])), sent
    assert set(final.content["data"]) == {"text/plain", "text/html"}
    assert final.content["data"]["text/plain"].startswith(f"Done: {rows:,} rows into NO_WIDGETS")
    assert "snowload-record" in final.content["data"]["text/html"]


def test_the_widget_shows_dask_partitions_advancing(kernel):
    """A Dask frame's partitions, staged by a LocalCluster's worker processes, advance row by row."""
    setup = kernel.execute(
        "import logging, dask.dataframe as dd, distributed, pandas as pd\n"
        "cluster = distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,\n"
        "                                   dashboard_address=None, silence_logs=logging.ERROR)\n"
        "client = distributed.Client(cluster)\n"
        "frame = pd.DataFrame({'id': range(60_000), 'name': [f'name {i}' for i in range(60_000)]})\n"
        "ddf = dd.from_pandas(frame, npartitions=20)\n"
    )
    assert setup.reply["status"] == "ok", setup.reply
    try:
        cell = kernel.execute(
            "result = sl.Loader(conn, 'DASK_LIVE', create_table=True).load_dataframe(ddf)\nprint(result.rows_loaded)"
        )
    finally:
        kernel.execute("client.close(); cluster.close()")
    assert cell.reply["status"] == "ok", cell.reply
    messages = cell.messages
    final = next(m for m in messages if m.msg_type == "update_display_data")
    running = [m for m in messages if m.msg_type == "comm_msg" and m.received < final.received]

    def values(model_name: str) -> list[str]:
        opened = set(_opened(messages, model_name))
        return [str(m.state["value"]) for m in running if m.comm_id in opened and "value" in m.state]

    names = {v for v in values("LabelModel") if v.startswith("partition ")}
    assert len(names) >= 2, "no partition rows were shown while the cell ran"
    assert {"compress", "upload"} & set(values("LabelModel")), "no partition was shown at work"
    assert any("busy" in v and "0 workers busy" not in v for v in values("HTMLModel")), "the header never said busy"
    assert _busiest_second(messages) <= MAX_MESSAGES_PER_SECOND
    assert cell.stdout() == "60000\n"
    assert final.content["data"]["text/plain"].startswith("Done: 60,000 rows into DASK_LIVE from 20 partitions")
