"""Child processes for the memory check of bench_load.py, so the loader's peak RSS is its own.

`serve` starts the embedded server, prints its connect keyword arguments as one JSON line and
serves until its stdin closes. `load` loads one CSV into a new table on a server started by
`serve`, in a process that does nothing else, and prints its peak RSS (VmHWM) as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import snowflake.connector

from snowload_nb import Loader
from snowload_nb.demo import DEMO_COLUMNS
from snowload_nb.local import embedded_server
from snowload_nb.sql import QualifiedName, create_table


def serve() -> None:
    """Serve until the parent closes our stdin; the server's memory never counts as the loader's."""
    server = embedded_server()
    print(json.dumps(server.connect_kwargs()), flush=True)
    sys.stdin.read()


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
    commands.add_parser("serve")
    loading = commands.add_parser("load")
    loading.add_argument("--connect-kwargs", required=True, help="JSON printed by `serve`")
    loading.add_argument("--path", required=True)
    loading.add_argument("--table", required=True)
    loading.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    if args.command == "serve":
        serve()
    else:
        outcome = load(json.loads(args.connect_kwargs), args.path, args.table, args.workers)
        print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()
