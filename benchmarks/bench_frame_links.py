"""A DataFrame on slow uplinks: its chunks cut to the connector's send timeout, and not cut.

Run from the repository root: `.venv/bin/python benchmarks/bench_frame_links.py [--repetitions N] [--runs N]`.

The embedded server runs in a process of its own behind the throttling proxy (tests/tcp_proxy.py)
and is taken for a server elsewhere, as a real account is: `load_dataframe` then cuts each chunk's
Parquet into files a PUT can send within the connector's send timeout (10 s) at a worker's share
of the link. "not cut" is the same load with the server taken as local, where nothing is cut, as
every chunk was before 85ac947. The frame: 1.5 M rows, about 88 MB in memory, 6 chunks of about
8.5 MB of Parquet; 4 workers. Each load goes into a fresh table and is checked by value (count and
sum of ids). At 8 Mbit/s only the cut case runs: not cut, every chunk failed all its retries (6 min
43 s, 403 MB sent for 47 MB, by hand at 2da5e3a).

Each run is a process of its own with its own server. Writes its own section of RESULTS.md.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

from common import BenchmarkError, machine_description, repeated_main, round_order, server_process

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from tcp_proxy import TcpProxy  # the test suite's proxy: one throttle for both

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TITLE = "## DataFrames on slow links: chunks cut to the send timeout"
ROWS = 1_500_000
WORKERS = 4
CASES = {  # (link, case): (bytes per second, the server taken as remote, so chunks are cut)
    ("20 Mbit/s", "cut"): (20e6 / 8, True),
    ("20 Mbit/s", "not cut"): (20e6 / 8, False),
    ("8 Mbit/s", "cut"): (8e6 / 8, True),
}
PACKAGES = ("snowflake-connector-python", "fakesnow", "pyarrow", "pandas", "snowload_nb")


def _frame() -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "ID": np.arange(ROWS),
            "AMOUNT": rng.random(ROWS),
            "NOTE": rng.integers(0, 1 << 62, ROWS).astype(str),
            "NAME": [f"name {i % 1000}" for i in range(ROWS)],
        }
    )


def one_run(repetitions: int) -> dict[str, Any]:
    """Per case: seconds, MB sent through the proxy, and the files staged."""
    import snowload_nb as sl
    from snowload_nb import loader as loader_module
    from snowload_nb.local import embedded_session

    frame = _frame()
    expected = (ROWS, ROWS * (ROWS - 1) // 2)
    names = [f"{link}, {case}" for link, case in CASES]
    out: dict[str, Any] = {name: {"s": [], "mb": [], "files": []} for name in names}
    with server_process() as kwargs:
        setup = embedded_session(kwargs)
        for repetition in range(repetitions):
            for number, name in enumerate(round_order(names, repetition)):
                link, case = name.split(", ")
                rate, remote = CASES[(link, case)]
                loader_module.is_loopback = lambda host, remote=remote: not remote
                table = f"FRAME_LINKS_{repetition}_{number}"
                proxy = TcpProxy(kwargs["port"], rate=rate).start()
                through = kwargs | {"port": proxy.port}
                conn = embedded_session(through)
                try:
                    loader = sl.Loader(
                        conn,
                        table,
                        workers=WORKERS,
                        progress="none",
                        create_table=True,
                        connect=lambda through=through: embedded_session(through),
                    )
                    started = time.perf_counter()
                    result = loader.load_dataframe(frame)
                    seconds = time.perf_counter() - started
                    sent = proxy.sent[0]
                finally:
                    conn.close()
                    proxy.stop()
                facts = setup.cursor().execute(f'SELECT COUNT(*), SUM("ID") FROM "{table}"').fetchone()
                if not result.ok or tuple(int(v or 0) for v in facts) != expected:
                    raise BenchmarkError(f"{name}: {result.summary()}; table holds {facts}")
                setup.cursor().execute(f'DROP TABLE "{table}"')
                out[name]["s"].append(seconds)
                out[name]["mb"].append(sent / 1e6)
                out[name]["files"].append(sum(f.staged_bytes for f in result.files) / 1e6)
    return out


def main(argv: list[str] | None = None) -> int:
    return repeated_main(__file__, __doc__, argv, one_run, _section, RESULTS, TITLE, (2, "loads of each case"))


def _section(runs: list[dict[str, Any]], command: str) -> str:
    lines = [
        TITLE,
        "",
        f"`{command}` — a pandas DataFrame of {ROWS:,} rows (about 88 MB in memory, 6 chunks), "
        f"{WORKERS} workers, the server in its own process behind a token-bucket proxy on loopback; "
        "each load checked by value. Seconds are medians over one run's repetitions; MB sent is what "
        "the client sent through the proxy, MB staged the Parquet files' bytes.",
        "",
        *[f"- {fact}" for fact in machine_description(PACKAGES)],
        "",
        "| case | run | median s | runs (s) | MB sent | MB staged |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for name in runs[0]:
        for number, run in enumerate(runs, 1):
            case = run[name]
            times = ", ".join(f"{s:.1f}" for s in case["s"])
            lines.append(
                f"| {name} | {number} | {statistics.median(case['s']):.1f} | {times} | "
                f"{statistics.median(case['mb']):.1f} | {statistics.median(case['files']):.1f} |"
            )
    ratios = [
        statistics.median(run["20 Mbit/s, cut"]["s"]) / statistics.median(run["20 Mbit/s, not cut"]["s"])
        for run in runs
    ]
    lines += ["", f"At 20 Mbit/s, cut / not cut: {', '.join(f'{r:.2f}' for r in ratios)} (per run)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
