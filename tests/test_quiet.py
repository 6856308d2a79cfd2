"""Nothing but the views' own output reaches the terminal during a load: no server logs, no warnings."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "default", "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )


def test_a_silent_load_prints_nothing(mixed_files):
    paths = [str(f.path) for f in mixed_files[:5]]
    done = run_python(
        f"""
        import logging
        logging.basicConfig(level=logging.INFO)  # a user who logs INFO still hears nothing from the server
        import snowload_nb as sl
        conn = sl.connect_local()
        result = sl.Loader(conn, "T", progress="none", create_table=True).load({paths!r})
        conn.cursor().execute('SELECT COUNT(*) FROM "T"').fetchall()
        bad = sl.Loader(conn, "T", progress="none").load([{paths[0]!r}, "missing.csv"])
        assert result.ok and not bad.ok
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    # The connector's own records, which the user asked for by logging INFO (5.x's Rust core logs
    # its probes and proxy settings as warnings), are theirs to see; nothing else may appear.
    connectors = ("INFO:snowflake.connector", "WARNING:snowflake.connector._core:")
    assert [line for line in done.stderr.splitlines() if not line.startswith(connectors)] == []


def test_the_log_view_is_all_there_is_on_stderr(mixed_files):
    paths = [str(f.path) for f in mixed_files[:5]]
    done = run_python(
        f"""
        import snowload_nb as sl
        sl.Loader(sl.connect_local(), "T", progress="log", create_table=True).load({paths!r})
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines and all(line[8:].startswith(" snowload ") for line in lines), done.stderr
