"""Dask benchmark: a Dask DataFrame loaded from its workers, against compute() + load_dataframe.

Run from the repository root: `.venv/bin/python benchmarks/bench_dask.py [--quick]`.

One embedded server (`snowload serve`, a process of its own) and one LocalCluster (two worker
processes, one thread each), shared by both cases. The frame is made on the workers by `dd.from_map`,
the same values every run. Each load runs in a child process of its own that plays the notebook: it
connects a Client to the cluster, loads, and reports its time and its peak RSS (VmHWM), so a
case's peak is its own. Cases, in alternating order each round, each into a fresh table whose
count and id sum are checked before its time counts:
  (d) distributed: Loader(...).load_dataframe(ddf): each partition staged by its worker;
  (p) ddf.compute() onto the notebook, then Loader(..., workers=4).load_dataframe(df).
The frame's size is its pandas memory (deep), summed over the partitions on the cluster.
MB means 10**6 bytes. The results replace this benchmark's own section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import BenchmarkError, command_line, machine_description, server_process, yes

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION_TITLE = "## Dask DataFrames: from the workers against compute() + load_dataframe"
MB = 1_000_000
FULL = {"rows": 4_000_000, "partitions": 20, "rounds": 2}
QUICK = {"rows": 400_000, "partitions": 20, "rounds": 1}
CASES = ("d", "p")
LABELS = {
    "d": "(d) load_dataframe(ddf): staged on the workers",
    "p": "(p) ddf.compute() + load_dataframe(df), workers=4",
}
PACKAGES = ("dask", "distributed", "snowflake-connector-python", "fakesnow", "pandas", "pyarrow", "snowload_nb")
REGIONS = np.array(["north", "south", "east", "west", "naïve café 日本語", "Côte d'Ivoire"], dtype=object)


def orders(n: int, rows: int) -> pd.DataFrame:
    """Partition `n` of the frame: `rows` orders, seeded by its number."""
    rng = np.random.default_rng(n)
    first = n * rows
    return pd.DataFrame(
        {
            "id": np.arange(first, first + rows, dtype=np.int64),
            "customer": rng.integers(1, 50_000, rows),
            "amount": rng.lognormal(3.0, 1.5, rows),
            "region": REGIONS[rng.integers(0, len(REGIONS), rows)],
            "note": [f"order {first + i} · {'x' * int(k)}" for i, k in enumerate(rng.integers(0, 40, rows))],
            "at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 366 * 86_400, rows), unit="s"),
        }
    )


def the_frame(rows: int, partitions: int) -> Any:
    import dask.dataframe as dd

    each = rows // partitions
    return dd.from_map(orders, range(partitions), rows=each)


def _status_kb(name: str) -> int:
    with open("/proc/self/status") as lines:
        for line in lines:
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    raise BenchmarkError(f"no {name} in /proc/self/status")


def child(args: argparse.Namespace) -> dict[str, Any]:
    """The notebook's side of one load, in a process that does nothing else."""
    from distributed import Client

    import snowload_nb as sl
    from snowload_nb.local import SessionOpener

    kwargs = json.loads(args.server)
    connect = SessionOpener(kwargs)  # a factory that pickles, as functools.partial(connect, ...) would
    conn = connect()
    with Client(args.scheduler) as client:
        ddf = the_frame(args.rows, args.partitions)
        client.wait_for_workers(2)
        rss_before_mb = _status_kb("VmRSS") * 1024 / MB
        start = time.perf_counter()
        if args.child == "d":
            loader = sl.Loader(conn, args.table, create_table=True, progress="none", connect=connect)
            result = loader.load_dataframe(ddf)
        else:
            df = ddf.compute()
            loader = sl.Loader(conn, args.table, create_table=True, progress="none", connect=connect, workers=4)
            result = loader.load_dataframe(df)
            del df
        seconds = time.perf_counter() - start
    peak_mb = _status_kb("VmHWM") * 1024 / MB
    count, id_sum = conn.cursor().execute(f'SELECT COUNT(*), SUM("id") FROM {args.table}').fetchone()
    conn.close()
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_mb,
        "rss_before_mb": rss_before_mb,
        "ok": result.ok,
        "summary": result.summary(),
        "rows": int(count),
        "id_sum": int(id_sum or 0),
    }


def run_case(case: str, table: str, server: dict[str, Any], scheduler: str, size: dict[str, int]) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        case,
        "--server",
        json.dumps(server),
        "--scheduler",
        scheduler,
        "--table",
        table,
        "--rows",
        str(size["rows"]),
        "--partitions",
        str(size["partitions"]),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise BenchmarkError(f"case {case} failed: {done.stderr[-2000:]}")
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    rows = size["rows"] // size["partitions"] * size["partitions"]
    if not outcome["ok"] or outcome["rows"] != rows or outcome["id_sum"] != rows * (rows - 1) // 2:
        raise BenchmarkError(f"case {case} did not load the frame exactly: {outcome}")
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", choices=CASES)
    parser.add_argument("--server")
    parser.add_argument("--scheduler")
    parser.add_argument("--table")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--partitions", type=int)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    size = QUICK if args.quick else FULL
    from distributed import Client, LocalCluster

    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in CASES}
    with server_process() as server, LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    ) as cluster, Client(cluster) as client:  # fmt: skip
        ddf = the_frame(size["rows"], size["partitions"])
        frame_mb = float(ddf.memory_usage(deep=True, index=False).sum().compute()) / MB
        for round_index in range(size["rounds"]):
            order = CASES if round_index % 2 == 0 else tuple(reversed(CASES))
            for case in order:
                table = f"BENCH_DASK_{case.upper()}_{round_index}"
                outcome = run_case(case, table, server, cluster.scheduler_address, size)
                runs[case].append(outcome)
                print(f"round {round_index + 1} {LABELS[case]}: {outcome['seconds']:.1f} s, "
                      f"peak RSS {outcome['peak_rss_mb']:.0f} MB", flush=True)  # fmt: skip
        del client
    section = report(size, frame_mb, runs, sys.argv[1:])
    from common import replace_titled_section

    RESULTS.write_text(replace_titled_section(RESULTS.read_text(), SECTION_TITLE, section))
    print(section)
    peak = max(r["peak_rss_mb"] for r in runs["d"])
    # The promise: the rows never come to the notebook (--quick: a frame too small to tell).
    if not args.quick and peak >= frame_mb:
        raise BenchmarkError(f"the notebook's peak RSS ({peak:.0f} MB) reached the frame's size ({frame_mb:.0f} MB)")


def _spread(values: list[float]) -> str:
    if len(values) < 2:
        return "one run"
    return f"{min(values):.1f}-{max(values):.1f}"


def report(size: dict[str, int], frame_mb: float, runs: dict[str, list[dict[str, Any]]], given: list[str]) -> str:
    lines = [
        SECTION_TITLE,
        "",
        f"Command: `{command_line(__file__, given)}`",
        "",
        *(f"- {fact}" for fact in machine_description(PACKAGES)),
        "",
        f"The frame: {size['rows']:,} rows in {size['partitions']} partitions (id, customer, amount, region, "
        f"note, at), made on the workers by `dd.from_map`; {frame_mb:,.0f} MB of pandas memory (deep). "
        "A LocalCluster of 2 worker processes, 1 thread each, and the embedded server in a process of its "
        f"own, shared by both cases; each load in a fresh process playing the notebook; {size['rounds']} "
        "rounds, the cases' order reversed each round. Times are medians; the spread is min-max.",
        "",
        "| case | seconds (median) | spread | notebook peak RSS MB (median) | spread | RSS before the load MB |",
        "|---|---|---|---|---|---|",
    ]
    for case in CASES:
        seconds = [r["seconds"] for r in runs[case]]
        peaks = [r["peak_rss_mb"] for r in runs[case]]
        before = statistics.median(r["rss_before_mb"] for r in runs[case])
        lines.append(
            f"| {LABELS[case]} | {statistics.median(seconds):.1f} | {_spread(seconds)} | "
            f"{statistics.median(peaks):.0f} | {_spread(peaks)} | {before:.0f} |"
        )
    peak_d = max(r["peak_rss_mb"] for r in runs["d"])
    time_ratio = statistics.median(r["seconds"] for r in runs["d"]) / statistics.median(r["seconds"] for r in runs["p"])
    lines += [
        "",
        f"- The notebook's peak RSS in (d), at most {peak_d:.0f} MB, below the whole frame's {frame_mb:,.0f} MB: "
        f"{yes(peak_d < frame_mb)}; its growth during the load, peak minus RSS before it: "
        f"{statistics.median(r['peak_rss_mb'] - r['rss_before_mb'] for r in runs['d']):.0f} MB against "
        f"{statistics.median(r['peak_rss_mb'] - r['rss_before_mb'] for r in runs['p']):.0f} MB for (p).",
        f"- Time (d)/(p): {time_ratio:.2f}, of medians. On this shared 2-core machine (other loads ran beside "
        "it) times swing between rounds: read the spread. Both cases end on the same embedded server, whose "
        "COPY of the rows takes much of either time; what (d) saves for certain is the notebook's memory.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
