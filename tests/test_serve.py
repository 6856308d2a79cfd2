"""`snowload serve`, and the embedded server as `connect_local()`'s child process.

Every server here is a real `snowload serve` process, reached by the real connector of this
environment (4.x in the main one, 5.x and the lowest versions in the others).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import expected_facts
from kernel_session import KernelSession

from snowload_nb import local
from snowload_nb.demo import generate_files


def start_serve(*args: str, tmp: Path) -> subprocess.Popen[str]:
    """`snowload serve` with its temporary files under `tmp`, so the test can see what it leaves."""
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.Popen(
        [*local.serve_command(), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def run_python(code: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300, **kwargs
    )


def process_ends(pid: int, timeout: float) -> bool:
    """Whether process `pid` (not our child) ends within `timeout`: waits on its pidfd, no polling."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


@pytest.fixture
def serve_tmp(tmp_path) -> Path:
    folder = tmp_path / "serve-tmp"
    folder.mkdir()
    return folder


def test_serve_prints_one_json_line_another_process_loads_and_sigterm_ends_it_cleanly(serve_tmp, tmp_path):
    files = generate_files(tmp_path / "files", [200_000, 0, 1_500_000])
    server = start_serve(tmp=serve_tmp)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        kwargs = json.loads(line)
        assert kwargs["host"] == "127.0.0.1" and kwargs["port"] > 0 and kwargs["protocol"] == "http"

        # A client in another process, with only the printed arguments, loads and reads back.
        loaded = run_python(
            f"""
            import json, snowflake.connector, snowload_nb as sl
            kwargs = json.loads({line!r})
            connect = lambda: snowflake.connector.connect(**kwargs)
            conn = connect()
            result = sl.Loader(conn, "SERVED", progress="none", create_table=True, connect=connect).load(
                {[str(f.path) for f in files]!r}
            )
            facts = conn.cursor().execute('SELECT COUNT(*), COUNT(DISTINCT "ID"), SUM("ID") FROM "SERVED"').fetchone()
            print(json.dumps([result.ok, [int(x) for x in facts]]))
            conn.close()
            """
        )
        assert loaded.returncode == 0, loaded.stderr
        assert json.loads(loaded.stdout) == [True, list(expected_facts(files))]
    finally:
        server.send_signal(signal.SIGTERM)
        rest, errors = server.communicate(timeout=60)

    assert server.returncode == 0, errors
    assert rest == ""  # the JSON line was all of stdout
    assert errors == ""
    assert list(serve_tmp.iterdir()) == []  # its stage files went with it


def test_serve_on_a_port_in_use_says_so(serve_tmp):
    first = start_serve(tmp=serve_tmp)
    try:
        assert first.stdout is not None
        port = json.loads(first.stdout.readline())["port"]
        second = start_serve("--port", str(port), tmp=serve_tmp)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 1
        assert out == ""
        assert f"cannot listen on 127.0.0.1:{port}" in err
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 0


def test_a_local_db_folder_held_by_another_process_is_refused_by_name(serve_tmp, tmp_path):
    folder = tmp_path / "db"
    holder = start_serve("--local-db", str(folder), tmp=serve_tmp)
    try:
        assert holder.stdout is not None
        json.loads(holder.stdout.readline())

        second = run_python(
            f"""
            import snowload_nb as sl
            try:
                sl.connect_local(db_path={str(folder)!r})
            except Exception as exc:
                print(type(exc).__name__, exc)
            """
        )
        assert second.returncode == 0, second.stderr
        assert second.stdout.startswith("EmbeddedServerError the local_db folder ")
        assert f"{folder} is in use by another process (pid {holder.pid})" in second.stdout
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.communicate(timeout=60)
    assert holder.returncode == 0

    # Once the holder is gone, the folder serves again, with what the first server kept.
    again = run_python(
        f"""
        import snowload_nb as sl
        conn = sl.connect_local(db_path={str(folder)!r})
        print(conn.cursor().execute("SELECT CURRENT_DATABASE()").fetchone()[0])
        conn.close()
        """
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout == "SNOWLOAD\n"


def test_connect_local_runs_the_server_in_a_child_process_of_its_own(server):
    assert isinstance(server, local._ServerProcess)
    assert server.pid != os.getpid()
    assert server.running
    # its own session: a terminal's Ctrl-C (sent to the foreground group) and a kernel
    # interrupt are for the load, never the server
    assert os.getsid(server.pid) == server.pid != os.getsid(0)


def test_a_kernel_that_dies_leaves_no_server_behind(tmp_path):
    kernel = KernelSession(sys.executable, env={"TMPDIR": str(tmp_path)})
    try:
        ran = kernel.execute(
            "import os, snowload_nb as sl, snowload_nb.local as local\n"
            "conn = sl.connect_local()\n"
            "conn.cursor().execute('CREATE TABLE T (A INT)')\n"
            "print(os.getpid(), local.embedded_server().pid)\n"
        )
        assert ran.reply["status"] == "ok", ran.reply
        kernel_pid, server_pid = map(int, ran.stdout().split())
        assert server_pid != kernel_pid

        os.kill(kernel_pid, signal.SIGKILL)  # no atexit, no finally: only the pipe tells the server

        assert process_ends(server_pid, timeout=60), "the server outlived its kernel"
    finally:
        kernel.close()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("fakesnow")] == []


def test_a_server_that_fails_to_start_says_why_and_prints_nothing(tmp_path, capfd):
    broken = tmp_path / "snowload"
    broken.write_text("#!/bin/sh\necho 'snowload serve: no room at the inn' >&2\nexit 1\n")
    broken.chmod(0o755)
    done = run_python(
        """
        import snowload_nb as sl
        try:
            sl.connect_local()
        except Exception as exc:
            print(type(exc).__name__, exc)
        """,
        env={**os.environ, local.SERVE_ENV: str(broken)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "EmbeddedServerError no room at the inn\n"
    assert done.stderr == ""


# When its request times out against the dead server, the connector's own query-cancel timer
# thread may fail to send its abort request and die with a traceback: the connector's, not ours.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_server_process_that_dies_mid_load_ends_the_load_with_the_reason(tmp_path, private_tmp, monkeypatch):
    from conftest import Interceptor, connect_with

    import snowload_nb as sl
    import snowload_nb.batches as batches
    from snowload_nb import sql
    from snowload_nb.demo import DEMO_COLUMNS

    files = generate_files(tmp_path / "files", [300_000] * 6)
    monkeypatch.setattr(batches, "FILE_MAX", 0)  # file by file: the server dies between two files' COPYs
    server = local._ServerProcess(None)
    server.start()
    kwargs = local._for_this_connector(server.connect_kwargs() | {"network_timeout": 3})
    setup = connect_with(kwargs)
    setup.cursor().execute(sql.create_table(sql.QualifiedName.parse("CRASH"), DEMO_COLUMNS))
    copies = []

    def crash_after_the_first_copy(statement):
        if statement.split()[0].upper() == "COPY":
            copies.append(statement)
            if len(copies) == 2:
                server.kill()  # SIGKILL: a crash, not a shutdown

    job = sl.Loader(
        setup, "CRASH", workers=2, progress="none", connect=Interceptor(crash_after_the_first_copy, kwargs)
    ).start([str(f.path) for f in files])
    result = job.wait(timeout=240)

    assert result is not None, "the load did not end after the server died"
    statuses = [f.status for f in result.files]
    # the COPY in flight when the server died may or may not have committed; nothing after it did
    assert statuses.count("loaded") <= 1 and statuses.count("failed") >= len(files) - 1
    assert any("the server stopped answering" in (f.error or "") for f in result.files)
    assert list(private_tmp.iterdir()) == []


def test_without_fakesnow_serve_and_connect_local_say_what_to_install(tmp_path):
    """As in an environment with connector 5.x only: fakesnow cannot be imported there."""
    shadow = tmp_path / "shadow"
    (shadow / "fakesnow").mkdir(parents=True)
    (shadow / "fakesnow" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'fakesnow'\", name='fakesnow')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != local.SERVE_ENV} | {"PYTHONPATH": str(shadow)}

    served = subprocess.run(
        [sys.executable, "-m", "snowload_nb.cli", "serve"], capture_output=True, text=True, timeout=120, env=env
    )
    assert served.returncode == 1
    assert served.stdout == ""
    assert served.stderr.startswith("snowload serve: the embedded server needs fakesnow")
    assert "pip install 'snowload_nb[local]'" in served.stderr

    connected = run_python(
        """
        import snowload_nb as sl
        try:
            sl.connect_local()
        except Exception as exc:
            print(type(exc).__name__, exc)
        """,
        env=env,
    )
    assert connected.stderr == ""
    assert connected.stdout.startswith("EmbeddedServerError the embedded server needs fakesnow")
