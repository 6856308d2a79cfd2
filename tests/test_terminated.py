"""A load ended by SIGTERM, or a process killed outright, leaves no temporary folder behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from decimal import Decimal

import pytest
from conftest import VENV_BIN, expected_facts, table_facts

import snowload_nb as sl
from snowload_nb.demo import ROW_BYTES, write_csv


@pytest.fixture
def big_files(tmp_path):
    return [write_csv(tmp_path / f"big_{k}.csv", k, 1 + k * 10**7, 30_000_000 // ROW_BYTES) for k in range(4)]


def wait_for(condition, seconds: float = 120.0) -> None:
    """Until `condition()` holds, bounded: the test watches for the state it needs, not a clock."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def part_files(tmp: str) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(tmp) for f in files if ".csv" in f]


def test_sigterm_cancels_the_load_and_removes_its_temporary_folder(tmp_path, big_files):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    db = tmp_path / "db"
    command = [str(VENV_BIN / "snowload"), "load", *(str(f.path) for f in big_files), "--table", "TERM",
               "--local", "--local-db", str(db), "--create-table", "--workers", "2", "--progress", "none"]  # fmt: skip
    process = subprocess.Popen(command, env=os.environ | {"TMPDIR": str(tmp)}, stdout=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: part_files(str(tmp)))  # compressed parts are being written
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        process.kill()
    assert [p.name for p in tmp.iterdir() if p.name.startswith("snowload-")] == []

    # whatever it loaded, it loaded whole; the rest loads once on the next run
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    check = subprocess.run(
        [str(VENV_BIN / "python"), "-c",
         "import sys, snowload_nb as sl; c = sl.connect_local(db_path=sys.argv[1]).cursor();"
         "print(*c.execute('SELECT COUNT(*), COUNT(DISTINCT \"ID\"), SUM(\"ID\") FROM TERM').fetchone())", str(db)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert tuple(int(Decimal(v)) for v in check.stdout.split()) == expected_facts(big_files), check.stderr


def test_the_next_load_removes_what_a_killed_process_left(conn, table, tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    killed = subprocess.Popen(["sleep", "30"])
    killed.kill()
    killed.wait()
    orphan = tmp / f"snowload-{killed.pid}-abc123"
    (orphan / "000001").mkdir(parents=True)
    (orphan / "000001" / "part.0001.csv.gz").write_bytes(b"left by a process killed outright")
    mine = tmp / f"snowload-{os.getpid()}-live42"  # a live process's folder is not touched
    mine.mkdir()

    source = write_csv(tmp_path / "small.csv", 0, 1, 100)
    assert sl.Loader(conn, table, progress="none").load([str(source.path)]).ok

    assert sorted(p.name for p in tmp.iterdir()) == [mine.name]
    assert table_facts(conn, table) == expected_facts([source])
