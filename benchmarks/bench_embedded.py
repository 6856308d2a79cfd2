"""The embedded default as a user meets it: the server in the notebook's process, or in its own.

Each run is a fresh Python process doing what a notebook does: import snowload_nb, connect_local(),
load a set of CSV files with the defaults (tqdm progress, to a stderr nobody reads), and exit. The
two ways of running the server alternate (ABBA), so drift on the machine falls on both alike.
Every load is checked by value (rows, sum of ids) before its time counts.

Also measured: `snowload --help` and `import snowload_nb`, each in a fresh process.

    .venv/bin/python benchmarks/bench_embedded.py [--repetitions N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from common import REPO, command_line, machine_description  # beside this file

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "## Embedded server: in the notebook's process or its own"
MODES = {"thread": "in-process (the old default: a thread of the notebook)", "process": "own process (the default)"}
SIZES = (40_000_000, 25_000_000, 20_000_000, 15_000_000, 12_000_000, 10_000_000, 8_000_000, 20_000_000)  # bytes
QUICK_SIZES = (3_000_000, 1_000_000)
PACKAGES = ("snowflake-connector-python", "fakesnow", "duckdb", "uvicorn", "pyarrow", "snowload_nb")


def one_run(mode: str, folder: str) -> dict[str, Any]:
    """In a fresh process: connect and load as a notebook would, and say how long each part took."""
    start = time.perf_counter()
    import snowload_nb as sl
    import snowload_nb.local as local

    local.IN_PROCESS = mode == "thread"
    paths = sorted(str(p) for p in Path(folder).glob("*.csv"))
    conn = sl.connect_local()
    connected = time.perf_counter()
    result = sl.Loader(conn, "BENCH", create_table=True, progress="tqdm").load(paths)
    loaded = time.perf_counter()
    rows, id_sum = conn.cursor().execute('SELECT COUNT(*), SUM("ID") FROM "BENCH"').fetchone()
    conn.close()
    return {
        "ok": result.ok,
        "rows": int(rows),
        "id_sum": int(id_sum),
        "connect_s": connected - start,
        "load_s": loaded - connected,
    }


def timed_run(mode: str, folder: Path) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--one", mode, str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        timeout=900,
        check=True,
    )
    figures = json.loads(done.stdout.splitlines()[-1])
    figures["total_s"] = time.perf_counter() - started  # start to exit, the server's shutdown included
    return figures


def wall_seconds(command: list[str], repetitions: int) -> list[float]:
    times = []
    for _ in range(repetitions):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return times


def spread(values: Sequence[float]) -> float:
    """Interquartile range over median."""
    if len(values) < 4:
        return (max(values) - min(values)) / statistics.median(values)
    q1, _, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / statistics.median(values)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repetitions", type=int, default=8, help="runs of each mode (default 8)")
    parser.add_argument("--quick", action="store_true", help="small files, 2 runs each: a smoke run")
    parser.add_argument("--one", nargs=2, metavar=("MODE", "FOLDER"), help=argparse.SUPPRESS)
    given = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(given)
    if args.one:
        print(json.dumps(one_run(*args.one)))
        return 0

    from snowload_nb.demo import generate_files

    repetitions = 2 if args.quick else args.repetitions
    with tempfile.TemporaryDirectory(prefix="bench-embedded-") as tmp:
        files = generate_files(Path(tmp), QUICK_SIZES if args.quick else SIZES)
        expected = (sum(f.rows for f in files), sum(f.id_sum for f in files))
        megabytes = sum(f.path.stat().st_size for f in files) / 1e6
        print(f"{len(files)} CSV files, {megabytes:.0f} MB, {expected[0]:,} rows")
        timed_run("process", Path(tmp))  # warm-up: page cache, bytecode
        runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        for rep in range(repetitions):
            order = list(MODES) if rep % 2 == 0 else list(reversed(MODES))
            for mode in order:
                figures = timed_run(mode, Path(tmp))
                if not figures["ok"] or (figures["rows"], figures["id_sum"]) != expected:
                    raise SystemExit(f"{mode}: the load did not load what was generated: {figures}")
                runs[mode].append(figures)
                print(
                    f"  {rep + 1:2}  {mode:<7}  connect {figures['connect_s']:5.2f} s  "
                    f"load {figures['load_s']:5.2f} s  total {figures['total_s']:5.2f} s",
                    flush=True,
                )

    snowload = str(Path(sys.executable).with_name("snowload"))
    help_times = wall_seconds([snowload, "--help"], 10)
    import_times = wall_seconds([sys.executable, "-c", "import snowload_nb"], 10)
    bare_times = wall_seconds([sys.executable, "-c", "pass"], 10)

    lines = [HEADER, ""]
    lines.append(f"Command (from the repository root): `{command_line(__file__, given)}` (part of `make bench`)")
    lines.append("")
    lines.append(f"Date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}")
    lines.append("")
    lines += [f"- {fact}" for fact in machine_description(PACKAGES)]
    lines.append("")
    lines.append(
        f"Each run is a fresh process: import, `connect_local()`, load {len(files)} CSV files "
        f"({megabytes:.0f} MB, {expected[0]:,} rows) with the defaults and tqdm progress, exit. "
        f"{repetitions} runs of each, alternating ABBA after one warm-up; every load checked by value. "
        "*connect* is import plus `connect_local()` (the server's start included); *total* is process "
        "start to exit. Spread is the interquartile range over the median."
    )
    lines.append("")
    lines.append(
        "What changed: `connect_local()` used to serve fakesnow from a thread of the caller's process "
        "(a notebook's kernel), where the server's Python (HTTP, SQL translation) took turns on one GIL "
        "with compression and the progress views, and a crash of it was a crash of the kernel. It now "
        "runs `snowload serve` as a child process: the child imports fakesnow while the caller imports "
        "the connector, and at exit the caller closes a pipe and the child cleans up and leaves at once. "
        "The in-process row is that old default, still reachable as `snowload_nb.local.IN_PROCESS = True`."
    )
    lines.append("")
    lines.append("| embedded server | connect s | load s | total s | load spread | runs: load s |")
    lines.append("|---|---|---|---|---|---|")
    medians = {}
    for mode, label in MODES.items():
        mine = runs[mode]
        load = [r["load_s"] for r in mine]
        medians[mode] = {k: statistics.median(r[k] for r in mine) for k in ("connect_s", "load_s", "total_s")}
        m = medians[mode]
        lines.append(
            f"| {label} | {m['connect_s']:.2f} | {m['load_s']:.2f} | {m['total_s']:.2f} | "
            f"{spread(load):.0%} | {' '.join(f'{t:.2f}' for t in load)} |"
        )
    ratio = medians["process"]["total_s"] / medians["thread"]["total_s"]
    load_ratio = medians["process"]["load_s"] / medians["thread"]["load_s"]
    # Each repetition ran both, back to back: their ratio cancels most of the machine's drift.
    paired = sorted(p["total_s"] / t["total_s"] for p, t in zip(runs["process"], runs["thread"], strict=True))
    lines.append("")
    lines.append(
        f"Own process over in-process, medians: load {load_ratio:.2f}, end to end {ratio:.2f} "
        f"({'not slower' if ratio <= 1.0 else 'slower'} end to end). End to end within each repetition "
        f"(own / in-process): median {statistics.median(paired):.2f}, from {paired[0]:.2f} to {paired[-1]:.2f}."
    )
    lines.append("")
    lines.append("| embedded server | runs: total s |")
    lines.append("|---|---|")
    for mode, label in MODES.items():
        totals = " ".join(f"{r['total_s']:.2f}" for r in runs[mode])
        lines.append(f"| {label} | {totals} |")
    lines.append("")
    load_average = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    lines.append(f"Load average when the runs ended: {load_average} (1 / 5 / 15 min).")
    lines.append("")
    lines.append("| command (fresh process, median of 10) | seconds |")
    lines.append("|---|---|")
    lines.append(f"| `snowload --help` | {statistics.median(help_times):.3f} |")
    lines.append(f"| `python -c 'import snowload_nb'` | {statistics.median(import_times):.3f} |")
    lines.append(f"| `python -c 'pass'` (the interpreter alone) | {statistics.median(bare_times):.3f} |")
    section = "\n".join(lines) + "\n"
    print("\n" + section)

    document = RESULTS.read_text() if RESULTS.exists() else ""
    RESULTS.write_text(_replace_section(document, section))
    print(f"Wrote {os.path.relpath(RESULTS, REPO)}")
    return 0


def _replace_section(document: str, section: str) -> str:
    """`document` with this benchmark's section replaced (or appended); the rest untouched."""
    start = document.find(HEADER)
    if start < 0:
        return document.rstrip("\n") + "\n\n" + section if document.strip() else section
    end = document.find("\n## ", start + len(HEADER))
    rest = document[end + 1 :] if end >= 0 else ""
    return document[:start] + section + ("\n" + rest if rest else "")


if __name__ == "__main__":
    sys.exit(main())
