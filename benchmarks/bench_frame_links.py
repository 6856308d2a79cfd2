"""DataFrames and files on slow uplinks: cut to the connector's send timeout, and not cut.

Run from the repository root: `.venv/bin/python benchmarks/bench_frame_links.py [--repetitions N] [--runs N]`.

The embedded server runs in a process of its own behind the throttling proxy (tests/tcp_proxy.py)
and is taken for a server elsewhere, as a real account is: a load then cuts what it stages into
files a PUT can send within the connector's send timeout (10 s) at a worker's share of the link:
a DataFrame chunk's Parquet, a Parquet file (by rows), a compressed CSV (read as written, split
and compressed again). "not cut" is the same load with the server taken as local, where none of
them is cut, as before 85ac947 (DataFrames) and a759ef7/a81a508 (files). The rows: 1.5 M, about
88 MB as a pandas frame (6 chunks of about 8.5 MB of Parquet); as files, the same rows in 8
Parquet files of about 6.0 MB, or in 8 gzip CSV files of about 4.6 MB (level 6). 4 workers. Each
load goes into a fresh table and is checked by value (count and sum of ids). Not cut, bigger
files failed every retry, by hand: the frame at 8 Mbit/s (6 chunks: 6 min 43 s, 403 MB sent for
47 MB, 2da5e3a), four 12 MB Parquet files at 20 Mbit/s (6 min 35 s, 906 MB sent for 48 MB,
a58dc95); those cases run cut only.

Each run is a process of its own with its own server. Writes its own section of RESULTS.md.
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import BenchmarkError, machine_description, repeated_main, round_order, server_process

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from tcp_proxy import TcpProxy  # the test suite's proxy: one throttle for both

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TITLE = "## Slow links: DataFrames and files cut to the send timeout"
ROWS = 1_500_000
WORKERS = 4
FILES = 8
CASES = {  # (what, link, case): (bytes per second, the server taken as remote, so what is staged is cut)
    ("DataFrame", "20 Mbit/s", "cut"): (20e6 / 8, True),
    ("DataFrame", "20 Mbit/s", "not cut"): (20e6 / 8, False),
    ("DataFrame", "8 Mbit/s", "cut"): (8e6 / 8, True),
    ("Parquet files", "20 Mbit/s", "cut"): (20e6 / 8, True),
    ("Parquet files", "20 Mbit/s", "not cut"): (20e6 / 8, False),
    ("gzip CSV files", "20 Mbit/s", "cut"): (20e6 / 8, True),
    ("gzip CSV files", "20 Mbit/s", "not cut"): (20e6 / 8, False),
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


def _files(frame: Any, folder: Path) -> dict[str, list[str]]:
    """The frame's rows in FILES Parquet files and FILES gzip CSV files, by kind."""
    import gzip

    paths: dict[str, list[str]] = {"Parquet files": [], "gzip CSV files": []}
    step = math.ceil(len(frame) / FILES)
    for number, start in enumerate(range(0, len(frame), step)):
        piece = frame.iloc[start : start + step]
        parquet, csv = folder / f"rows_{number}.parquet", folder / f"rows_{number}.csv.gz"
        piece.to_parquet(parquet, index=False)
        with gzip.open(csv, "wt", compresslevel=6, newline="") as out:
            piece.to_csv(out, index=False)
        paths["Parquet files"].append(str(parquet))
        paths["gzip CSV files"].append(str(csv))
    return paths


def one_run(repetitions: int) -> dict[str, Any]:
    """Per case: seconds, MB sent through the proxy, and the files staged."""
    import snowload_nb as sl
    from snowload_nb import loader as loader_module
    from snowload_nb.local import embedded_session

    frame = _frame()
    expected = (ROWS, ROWS * (ROWS - 1) // 2)
    names = [", ".join(key) for key in CASES]
    out: dict[str, Any] = {name: {"s": [], "mb": [], "files": []} for name in names}
    with tempfile.TemporaryDirectory() as folder, server_process() as kwargs:
        files = _files(frame, Path(folder))
        out["sizes"] = {kind: [Path(p).stat().st_size / 1e6 for p in paths] for kind, paths in files.items()}
        setup = embedded_session(kwargs)
        for repetition in range(repetitions):
            for number, name in enumerate(round_order(names, repetition)):
                what, link, case = name.split(", ")
                rate, remote = CASES[(what, link, case)]
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
                    result = loader.load_dataframe(frame) if what == "DataFrame" else loader.load(files[what])
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


def _sizes(sizes: dict[str, list[float]]) -> str:
    return "; ".join(f"{kind} {min(mb):.1f}-{max(mb):.1f} MB each" for kind, mb in sizes.items())


def _section(runs: list[dict[str, Any]], command: str) -> str:
    lines = [
        TITLE,
        "",
        f"`{command}` — {ROWS:,} rows as a pandas DataFrame (about 88 MB in memory, 6 chunks) and "
        f"as {FILES} Parquet files or {FILES} gzip CSV files ({_sizes(runs[0]['sizes'])}), {WORKERS} "
        "workers, the server in its own process behind a token-bucket proxy on loopback and taken as "
        "remote (not cut: as local); each load checked by value. Seconds are medians over one run's "
        "repetitions; MB sent is what the client sent through the proxy, MB staged the staged files' bytes.",
        "",
        *[f"- {fact}" for fact in machine_description(PACKAGES)],
        "",
        "| case | run | median s | runs (s) | MB sent | MB staged |",
        "|---|---:|---:|---|---:|---:|",
    ]
    cases = [name for name in runs[0] if name != "sizes"]
    for name in cases:
        for number, run in enumerate(runs, 1):
            case = run[name]
            times = ", ".join(f"{s:.1f}" for s in case["s"])
            lines.append(
                f"| {name} | {number} | {statistics.median(case['s']):.1f} | {times} | "
                f"{statistics.median(case['mb']):.1f} | {statistics.median(case['files']):.1f} |"
            )
    lines.append("")
    for what in dict.fromkeys(name.split(", ")[0] for name in cases):
        cut, whole = f"{what}, 20 Mbit/s, cut", f"{what}, 20 Mbit/s, not cut"
        ratios = [statistics.median(run[cut]["s"]) / statistics.median(run[whole]["s"]) for run in runs]
        lines.append(f"- {what} at 20 Mbit/s, cut / not cut: {', '.join(f'{r:.2f}' for r in ratios)} (per run).")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
