"""A password given to the connection appears nowhere: logs at DEBUG, reprs, views, CLI output, errors."""

from __future__ import annotations

import json
import logging
import subprocess

import pytest
from conftest import VENV_BIN

import snowload_nb as sl
import snowload_nb.loader as loader_module
from snowload_nb import local
from snowload_nb.demo import write_csv

SENTINEL = "S3cret-Sentinel-7f1d2c"


@pytest.fixture
def everything_logged():
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_the_password_appears_nowhere_in_a_python_load(tmp_path, everything_logged, capsys, monkeypatch):
    views = []
    make_view = loader_module.make_view
    monkeypatch.setattr(loader_module, "make_view", lambda *a, **k: views.append(make_view(*a, **k)) or views[-1])
    conn = sl.connect_local(password=SENTINEL)
    good = write_csv(tmp_path / "good.csv", 0, 1, 30)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,file_no,name,amount,at,note\nx,0,a,1,2026-01-01 00:00:00,b\n")
    texts = []
    for progress in ("widget", "tqdm", "log"):
        loader = sl.Loader(conn, f"SECRETS_{progress.upper()}", progress=progress, create_table=True)
        result = loader.load([str(good.path), str(bad), str(tmp_path / "missing.csv")])
        texts += [
            repr(loader),
            repr(result),
            result._repr_html_(),
            json.dumps(result.to_dict()),
            str(result.to_pandas()),
        ]
    job = sl.Loader(conn, "SECRETS_JOB", progress="none", create_table=True).start([str(good.path)])
    job.wait()
    texts.append(repr(job))
    with pytest.raises(sl.LoadError) as missing:
        sl.Loader(conn, "NO_SUCH_TABLE", progress="none").load([str(good.path)])
    texts.append(str(missing.value))
    widget = views[0]
    texts += [widget._header.value, widget._finished.value, widget.record_text, widget.record_html]
    texts += [row.detail.value for row in widget._aggregates]
    captured = capsys.readouterr()
    texts += [captured.out, captured.err, *everything_logged]

    assert everything_logged, "DEBUG logging captured nothing: the check would be empty"
    assert [t for t in texts if SENTINEL in t] == []


def test_the_password_appears_nowhere_in_the_cli(tmp_path, conn, monkeypatch):
    server = local.embedded_server()
    home = tmp_path / "snowflake-home"
    home.mkdir()
    good = write_csv(tmp_path / "good.csv", 0, 1, 30)

    def connections(port: int) -> None:
        toml = home / "connections.toml"
        toml.write_text(
            "[embedded]\n"
            f'account = "embedded"\nuser = "me"\npassword = "{SENTINEL}"\n'
            f'host = "127.0.0.1"\nport = {port}\nprotocol = "http"\n'
            'database = "SNOWLOAD"\nschema = "PUBLIC"\nlogin_timeout = 5\n'
        )
        toml.chmod(0o600)

    outputs = []
    env = {"SNOWFLAKE_HOME": str(home), "PATH": str(VENV_BIN)}
    for port, args in [
        (server.port, ["--create-table", "--json"]),  # works
        (server.port, ["--progress", "log"]),  # loads, then fails on the missing file
        (1, ["--json"]),  # nothing listens there: cannot connect
    ]:
        connections(port)
        done = subprocess.run(
            [str(VENV_BIN / "snowload"), "load", str(good.path), "missing.csv", "--table", "CLI_SECRETS",
             "--connection", "embedded", *args],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        outputs.append((done.returncode, done.stdout + done.stderr))

    assert [code for code, _ in outputs] == [1, 1, 1]
    assert "cannot connect" in outputs[2][1]
    assert [text for _, text in outputs if SENTINEL in text] == []


def _raise_in_partition_2(df, partition_info=None):
    if partition_info is not None and partition_info["number"] == 2:
        raise ValueError("this partition fails")
    return df


def test_the_password_appears_nowhere_on_the_dask_workers(everything_logged, capsys):
    """Workers open sessions with the factory that carries the password: it stays inside it."""
    dd = pytest.importorskip("dask.dataframe", reason="the dask extra: make test installs it")
    distributed = pytest.importorskip("distributed")
    import pandas as pd

    conn = sl.connect_local(password=SENTINEL)
    frame = pd.DataFrame({"id": range(400), "name": [f"n{i}" for i in range(400)]})
    good = dd.from_pandas(frame, npartitions=4)
    bad = good.map_partitions(_raise_in_partition_2, meta=good._meta)
    texts = []
    cluster = distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        for data in (good, bad, good):
            loader = sl.Loader(conn, "SECRETS_DASK", progress="log", create_table=True)
            result = loader.load_dataframe(data)
            texts += [repr(loader), repr(result), result._repr_html_(), json.dumps(result.to_dict())]
        assert result.count("skipped") == 4, result  # the workers' sessions worked: the check is not empty
        with pytest.raises(sl.LoadError) as refused:  # a factory that cannot reach the workers
            sl.Loader(conn, "SECRETS_DASK", progress="none", connect=lambda: conn).load_dataframe(good)
        texts.append(str(refused.value))
        texts += [str(client.get_worker_logs()), str(client.get_scheduler_logs()), str(client.get_events())]
        texts += [str(key) for key in client.who_has()]
        texts.append(str(client.run(lambda: __import__("dask").config.config)))
    captured = capsys.readouterr()
    texts += [captured.out, captured.err, *everything_logged]

    assert any("this partition fails" in t for t in texts), "the failing partition's error was not captured"
    assert [t for t in texts if SENTINEL in t] == []
