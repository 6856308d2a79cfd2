"""The CLI end to end, as a user's shell sees it."""

from __future__ import annotations

import json
import subprocess

from conftest import VENV_BIN

SNOWLOAD = str(VENV_BIN / "snowload")


def run(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SNOWLOAD, *args], capture_output=True, text=True, timeout=300, **kwargs)


def test_json_output_is_exactly_the_document(mixed_files):
    paths = [str(f.path) for f in mixed_files[:4]]
    done = run("load", *paths, "--table", "EVENTS", "--local", "--create-table", "--json", "--workers", "3")

    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # nothing else on stdout, or this fails
    assert done.stdout == json.dumps(document, indent=2) + "\n"
    assert document["ok"] is True
    assert document["rows_loaded"] == sum(f.rows for f in mixed_files[:4])
    assert [(f["path"], f["status"], f["rows_loaded"]) for f in document["files"]] == [
        (str(f.path), "loaded", f.rows) for f in mixed_files[:4]
    ]


def test_a_missing_path_makes_the_exit_status_non_zero(mixed_files, tmp_path):
    missing = str(tmp_path / "missing.csv")
    done = run("load", str(mixed_files[0].path), missing, "--table", "T", "--local", "--create-table", "--json")

    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert [(f["path"], f["status"], f["error"]) for f in document["files"]] == [
        (str(mixed_files[0].path), "loaded", None),
        (missing, "failed", "no such file"),
    ]


def test_without_json_stdout_holds_the_results_table(mixed_files):
    done = run("load", str(mixed_files[0].path), "--table", "T", "--local", "--create-table", "--progress", "none")

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert str(mixed_files[0].path) in done.stdout
    assert f"Done: {mixed_files[0].rows:,} rows into T from 1 file (1 loaded)" in done.stdout


def test_local_db_keeps_the_table_and_its_load_history_between_runs(mixed_files, tmp_path):
    args = [
        "load",
        str(mixed_files[2].path),
        "--table",
        "KEPT",
        "--local",
        "--local-db",
        str(tmp_path / "db"),
        "--json",
    ]
    first = run(*args, "--create-table")
    second = run(*args)

    assert json.loads(first.stdout)["files"][0]["status"] == "loaded", first.stderr
    assert json.loads(second.stdout)["files"][0]["status"] == "skipped", second.stderr


def test_log_progress_goes_to_stderr_as_plain_lines(mixed_files):
    done = run(
        "load", str(mixed_files[0].path), "--table", "T", "--local", "--create-table", "--progress", "log", "--json"
    )

    assert done.returncode == 0
    json.loads(done.stdout)
    lines = done.stderr.splitlines()
    assert "\r" not in done.stderr
    assert lines and all(" snowload " in line for line in lines)
    assert f"Done: {mixed_files[0].rows:,} rows into T from 1 file (1 loaded)" in lines[-1]


def test_bad_workers_is_a_usage_error():
    done = run("load", "x.csv", "--table", "T", "--local", "--workers", "0")
    assert done.returncode == 2
    assert "must be >= 1" in done.stderr


def test_demo_checks_every_file(tmp_path):
    done = run("demo", "--files", "4", "--workers", "2", "--progress", "log")

    assert done.returncode == 0, done.stderr
    assert done.stdout.count(" ok\n") == 4
    assert "every file's rows are in the table." in done.stdout


def test_a_silent_demo_still_ends_with_the_summary(tmp_path):
    done = run("demo", "--files", "3", "--workers", "2", "--progress", "none")

    assert done.returncode == 0, done.stderr
    assert "Done: " in done.stdout and "from 3 files (3 loaded)" in done.stdout
    assert done.stderr == ""


def test_an_interrupt_during_the_load_exits_130(mixed_files, table, monkeypatch, capsys):
    """Ctrl-C cancels the load as in a notebook; the exit status says interrupted (128 + SIGINT)."""
    import _thread

    from conftest import Interceptor

    from snowload_nb import cli

    def interrupt_at_the_put(statement: str) -> None:
        if statement.split()[0].upper() == "PUT":
            _thread.interrupt_main()  # a KeyboardInterrupt on the calling thread, as Ctrl-C gives

    made = cli.loader_for

    def loader_for(args, conn):
        loader = made(args, conn)
        loader.connect = Interceptor(interrupt_at_the_put)
        return loader

    monkeypatch.setattr(cli, "loader_for", loader_for)
    status = cli.main(["load", str(mixed_files[0].path), "--table", table, "--local", "--progress", "none", "--json"])

    assert status == cli.EXIT_INTERRUPTED == 130
    assert json.loads(capsys.readouterr().out)["state"] == "cancelled"


def test_an_interrupt_before_the_load_exits_130(monkeypatch, capsys):
    from snowload_nb import cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "connect", interrupted)
    assert cli.main(["load", "x.csv", "--table", "T", "--local"]) == 130
    assert capsys.readouterr().err == "snowload: interrupted\n"
