"""Child processes for the memory checks of bench_load.py and bench_dataframe.py, so a loader's peak
RSS is its own.

`load` loads one CSV into a new table on a server started by `snowload serve` (common.py's
`server_process`), in a process that does nothing else, and prints its peak RSS (VmHWM) as one JSON line.
`dataframe` builds bench_dataframe.py's frame and loads it once by one approach (write_pandas'
steps or load_dataframe), and prints its RSS after the frame and its peaks as one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import time
from typing import Any

import snowflake.connector

from snowload_nb import Loader
from snowload_nb.demo import DEMO_COLUMNS
from snowload_nb.sql import QualifiedName, create_table


def load(connect_kwargs: dict[str, Any], path: str, table_name: str, workers: int) -> dict[str, Any]:
    """Load `path` as snowload does for a real account: one connection, a session per worker."""
    conn = snowflake.connector.connect(**connect_kwargs)
    table = QualifiedName.parse(table_name)
    conn.cursor().execute(create_table(table, DEMO_COLUMNS))
    rss_before_mb = _status_kb("VmRSS") * 1024 / 1e6
    loader = Loader(
        conn,
        table_name,
        workers=workers,
        progress="none",
        connect=lambda: snowflake.connector.connect(**connect_kwargs),
    )
    start = time.perf_counter()
    result = loader.load([path])
    seconds = time.perf_counter() - start
    peak_mb = _status_kb("VmHWM") * 1024 / 1e6
    row = conn.cursor().execute(f'SELECT COUNT(*), SUM("ID") FROM {table.sql}').fetchone()
    conn.close()
    return {
        "peak_rss_mb": peak_mb,
        "rss_before_load_mb": rss_before_mb,
        "seconds": seconds,
        "ok": result.ok,
        "summary": result.summary(),
        "rows_loaded": result.rows_loaded,
        "rows_in_table": int(row[0]),
        "id_sum_in_table": int(row[1] or 0),
    }


def dataframe(
    connect_kwargs: dict[str, Any], approach: str, rows: int, table_name: str, columns: list[tuple[str, str]]
) -> dict[str, Any]:
    """Build the benchmark's frame, then load it once by `approach`, and nothing else.

    bench_dataframe (beside this file) is imported here, not at the top, so `serve` and `load`
    run exactly as they did. The write_pandas steps need their table made first: from `columns`,
    worked out by the parent, so that no pass over the frame here counts against them.
    load_dataframe creates its own table, as part of the load.
    """
    import bench_dataframe as bench

    df = bench.build_frame(rows)
    conn = snowflake.connector.connect(**connect_kwargs)
    table = QualifiedName.parse(table_name)
    if approach == "write_pandas":
        bench.create_target(conn, table, columns)
    gc.collect()
    rss_after_frame_mb = _status_kb("VmRSS") * 1024 / 1e6
    peak_before_load_kb = _status_kb("VmHWM")
    reset = _reset_peak()
    start = time.perf_counter()
    if approach == "write_pandas":
        bench.write_pandas_steps(conn, df, table)
    else:
        bench.snowload_load(
            conn, df, table, progress="widget", connect=lambda: snowflake.connector.connect(**connect_kwargs)
        )
    seconds = time.perf_counter() - start
    load_peak_kb = _status_kb("VmHWM")
    found = bench.FrameFacts.in_table(conn, table)
    conn.close()
    return {
        "rss_after_frame_mb": rss_after_frame_mb,
        "peak_rss_mb": max(peak_before_load_kb, load_peak_kb) * 1024 / 1e6,
        "load_peak_rss_mb": load_peak_kb * 1024 / 1e6 if reset else None,
        "seconds": seconds,
        "frame": dataclasses.asdict(bench.FrameFacts.of(df)),
        "table": dataclasses.asdict(found),
    }


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+), so what follows has a peak of its own."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _status_kb(field: str) -> int:
    """A kB field of /proc/self/status (VmHWM: the peak resident set size so far)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    loading = commands.add_parser("load")
    loading.add_argument("--connect-kwargs", required=True, help="JSON printed by `snowload serve`")
    loading.add_argument("--path", required=True)
    loading.add_argument("--table", required=True)
    loading.add_argument("--workers", type=int, default=4)
    frame = commands.add_parser("dataframe")
    frame.add_argument("--connect-kwargs", required=True, help="JSON printed by `snowload serve`")
    frame.add_argument("--approach", required=True, choices=("write_pandas", "load_dataframe"))
    frame.add_argument("--rows", type=int, required=True)
    frame.add_argument("--table", required=True)
    frame.add_argument("--columns", default="[]", help="JSON [[name, type], ...]: the table write_pandas loads into")
    args = parser.parse_args()
    if args.command == "load":
        outcome = load(json.loads(args.connect_kwargs), args.path, args.table, args.workers)
        print(json.dumps(outcome), flush=True)
    else:
        columns = [(name, kind) for name, kind in json.loads(args.columns)]
        outcome = dataframe(json.loads(args.connect_kwargs), args.approach, args.rows, args.table, columns)
        print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()
