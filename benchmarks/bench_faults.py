"""How long faults take to end a load, with the defaults a user has (`connect_local()` sessions).

- a dead server: the server process is killed (SIGKILL) in the middle of a load; seconds from
  its death to `load()` returning. Target: within 60 s.
- a cancel while statements wait on a server that hangs (SIGSTOP: it accepts, never answers, so
  no refusal trips the breaker): seconds from `cancel()` to the result. Target: within 2 s.
- `workers=400` against `workers=4` on a 2-row file: sessions are opened only for files that
  can use them.

Each case runs `--repeat` times (2 by default), and the table of every run is checked by value
before a time counts. Writes its own section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import BenchmarkError, command_line, machine_description, yes

import snowload_nb as sl
from snowload_nb import local, sql
from snowload_nb.demo import DEMO_COLUMNS, ROW_BYTES, write_csv

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "## Faults: how long they take to end a load"


def fresh_server() -> tuple[local._ServerProcess, dict]:
    server = local._ServerProcess(None)
    server.start()
    return server, server.connect_kwargs()


def loader(kwargs: dict, table: str, **options) -> sl.Loader:
    conn = local.embedded_session(kwargs)
    conn.cursor().execute(sql.create_table(sql.QualifiedName.parse(table), DEMO_COLUMNS))
    return sl.Loader(conn, table, progress="none", connect=lambda: local.embedded_session(kwargs), **options)


def when_copying(job_model_files, predicate_seconds: float = 60.0) -> None:
    deadline = time.monotonic() + predicate_seconds
    while not job_model_files():
        if time.monotonic() > deadline:
            raise BenchmarkError("the load never reached its COPYs")
        time.sleep(0.01)


def dead_server(paths: list[str]) -> float:
    """Kill the server once the first file has loaded; seconds from its death to the result."""
    server, kwargs = fresh_server()
    try:
        run = loader(kwargs, "DEAD", workers=2)._begin(paths, background=True)
        box: dict = {}
        thread = threading.Thread(target=lambda: box.setdefault("result", run.execute()))
        thread.start()
        when_copying(lambda: any(f.state.value == "loaded" for f in run.model.files()))
        server.kill()
        died = time.monotonic()
        thread.join()
        took = time.monotonic() - died
        result = box["result"]
        if not any(f.status == "loaded" for f in result.files) or result.ok:
            raise BenchmarkError(f"expected a partial load: {result.summary()}")
        return took
    finally:
        server.stop()


def cancel_on_a_hung_server(paths: list[str]) -> float:
    """Freeze the server while files copy, then cancel; seconds from cancel() to the result."""
    server, kwargs = fresh_server()
    try:
        job = loader(kwargs, "HUNG", workers=2).start(paths)
        run = job._run
        when_copying(lambda: any(f.state.value == "copying" for f in run.model.files()))
        os.kill(server.pid, signal.SIGSTOP)
        time.sleep(1.5)  # let the statements in flight wait on it: the case being measured
        cancelled = time.monotonic()
        job.cancel()
        result = job.result()
        took = time.monotonic() - cancelled
        if not result.cancelled:
            raise BenchmarkError(f"expected a cancelled load: {result.summary()}")
        return took
    finally:
        if server.pid is not None:
            os.kill(server.pid, signal.SIGCONT)
        server.stop()


def tiny_with_workers(path: str, workers: int) -> float:
    server, kwargs = fresh_server()
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load = loader(kwargs, f"TINY_{workers}", workers=workers)
        started = time.monotonic()
        result = load.load([path])
        took = time.monotonic() - started
        if not result.ok or result.rows_loaded != 2:
            raise BenchmarkError(f"the 2-row file did not load: {result.summary()}")
        return took
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as folder:
        files = [write_csv(Path(folder) / f"f{k}.csv", k, 1 + k * 10**7, 20_000_000 // ROW_BYTES) for k in range(6)]
        paths = [str(f.path) for f in files]
        tiny = write_csv(Path(folder) / "tiny.csv", 9, 10**9, 2)
        times: dict[str, list[float]] = {"dead": [], "cancel": [], "w400": [], "w4": []}
        for n in range(args.repeat):
            times["dead"].append(dead_server(paths))
            times["cancel"].append(cancel_on_a_hung_server(paths))
            times["w400"].append(tiny_with_workers(str(tiny.path), 400))
            times["w4"].append(tiny_with_workers(str(tiny.path), 4))
            print(f"run {n + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} ({', '.join(f'{v:.2f}' for v in values)})"

    lines = [
        HEADER,
        "",
        f"Command: `{command_line(__file__, sys.argv[1:])}`, {args.repeat} runs of each case (median, then each run).",
        "",
        *(f"- {line}" for line in machine_description(["snowflake-connector-python", "fakesnow"])),
        "",
        "| case | seconds | target | met |",
        "|---|---:|---|---|",
        f"| server killed mid-load → `load()` returns | {cell(times['dead'])} | ≤ 60 | "
        f"{yes(max(times['dead']) <= 60)} |",
        f"| `cancel()` while statements wait on a hung server → result | {cell(times['cancel'])} | ≤ 2 | "
        f"{yes(max(times['cancel']) <= 2)} |",
        f"| 2-row file, `workers=400` | {cell(times['w400'])} | - | - |",
        f"| 2-row file, `workers=4` | {cell(times['w4'])} | - | - |",
    ]
    section = "\n".join(lines) + "\n"
    print("\n" + section)
    document = RESULTS.read_text() if RESULTS.exists() else ""
    start = document.find(HEADER)
    if start < 0:
        document = document.rstrip("\n") + "\n\n" + section
    else:
        end = document.find("\n## ", start + len(HEADER))
        document = document[:start] + section + (document[end:] if end >= 0 else "")
    RESULTS.write_text(document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
