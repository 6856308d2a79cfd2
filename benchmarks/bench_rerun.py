"""The re-run of unchanged files against their first load, as a user meets it (`connect_local()`).

Run from the repository root: `.venv/bin/python benchmarks/bench_rerun.py [--repetitions N] [--runs N]`.

Each repetition loads the files of `bench_load.py` (8 CSV files, 105 MB) into a fresh table, then
loads the same paths again. The second load must end every file as already loaded and leave the
table's rows exactly as they were (checked by query), or the run stops. The figure is re-run time
over first-load time, in the same process, one after the other. Each run is a process of its own
with its own embedded server; there are `--runs` of them (2 by default), so the spread between runs
shows. Target (issue 12): the re-run takes at most 0.15x the first load. Writes its own section
of RESULTS.md.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import BenchmarkError, machine_description, repeated_main, yes

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TITLE = "## Re-run of unchanged files"
SIZES_MB = (2, 5, 8, 10, 15, 20, 20, 25)  # bench_load.py's files
WORKERS = 4
TARGET = 0.15
PACKAGES = ("snowflake-connector-python", "fakesnow", "duckdb", "snowload_nb")


def one_run(repetitions: int) -> list[dict[str, float]]:
    """`repetitions` pairs of (first load, re-run) seconds, in this process, on its own server."""
    import snowload_nb as sl
    from snowload_nb import sql
    from snowload_nb.demo import DEMO_COLUMNS, generate_files

    conn = sl.connect_local()
    pairs = []
    with tempfile.TemporaryDirectory(prefix="bench-rerun-") as folder:
        files = generate_files(Path(folder), [mb * 1_000_000 for mb in SIZES_MB])
        paths = [str(f.path) for f in files]
        rows = sum(f.rows for f in files)
        for n in range(repetitions):
            table = f"RERUN_{n}"
            conn.cursor().execute(sql.create_table(sql.QualifiedName.parse(table), DEMO_COLUMNS))
            loader = sl.Loader(conn, table, workers=WORKERS, progress="none")
            started = time.perf_counter()
            first = loader.load(paths)
            first_s = time.perf_counter() - started
            if not first.ok or [f.status for f in first.files].count("loaded") != len(files):
                raise BenchmarkError(f"the first load did not load every file: {first.files}")
            before = _facts(conn, table)
            started = time.perf_counter()
            again = loader.load(paths)
            again_s = time.perf_counter() - started
            if [f.status for f in again.files] != ["skipped"] * len(files):
                raise BenchmarkError(f"the re-run did not end every file as already loaded: {again.files}")
            if _facts(conn, table) != before or before[:2] != (rows, rows):
                raise BenchmarkError(f"the table changed or is wrong: {before} -> {_facts(conn, table)}")
            pairs.append({"first": first_s, "rerun": again_s})
    return pairs


def _facts(conn: Any, table: str) -> tuple[int, int, int]:
    """Rows, distinct ids and the sum of ids: a duplicate or a lost row changes one of them."""
    return tuple(conn.cursor().execute(f'SELECT COUNT(*), COUNT(DISTINCT "ID"), SUM("ID") FROM "{table}"').fetchone())


def main(argv: list[str] | None = None) -> int:
    return repeated_main(__file__, __doc__, argv, one_run, _section, RESULTS, TITLE, (5, "first load + re-run pairs"))


def _section(runs: list[list[dict[str, float]]], command: str) -> str:
    lines = [
        TITLE,
        "",
        f'`{command}` — {len(SIZES_MB)} CSV files ({sum(SIZES_MB)} MB), {WORKERS} workers, `progress="none"`, '
        "the embedded server from `connect_local()`; each repetition loads into a fresh table, then loads "
        "the same paths again (every file must end as already loaded, the table unchanged by query).",
        "",
        *(f"- {line}" for line in machine_description(PACKAGES)),
        "",
        "| run | first load, median s | re-run, median s | re-run / first, median | min-max |",
        "|---|---:|---:|---:|---:|",
    ]
    medians = []
    for n, pairs in enumerate(runs, 1):
        ratios = [p["rerun"] / p["first"] for p in pairs]
        medians.append(statistics.median(ratios))
        lines.append(
            f"| {n} | {statistics.median(p['first'] for p in pairs):.2f} | "
            f"{statistics.median(p['rerun'] for p in pairs):.3f} | **{medians[-1]:.3f}** | "
            f"{min(ratios):.3f} to {max(ratios):.3f} |"
        )
    worst = max(max(p["rerun"] / p["first"] for p in pairs) for pairs in runs)
    spread = max(medians) - min(medians)
    lines += [
        "",
        f"Target: re-run / first ≤ {TARGET}. Met: {yes(worst + spread <= TARGET)} (the worst repetition, "
        f"{worst:.3f}, plus the spread of the runs' medians, {spread:.3f}).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as exc:
        print(f"bench_rerun: {exc}", file=sys.stderr)
        sys.exit(1)
