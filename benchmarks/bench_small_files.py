"""Many small files: snowload_nb's batches against the connector's wildcard PUT + one COPY.

Run from the repository root: `.venv/bin/python benchmarks/bench_small_files.py [--files N] [--runs R]`.

Both cases load the same N CSV files of ~100 bytes (10 rows each) into a fresh table on one
embedded server (`connect_local()`), interleaved per run, and check the table by value before a
time counts:
  connector: PUT 'file://dir/*' @stage/<run>/ AUTO_COMPRESS=TRUE PARALLEL=8, then one COPY;
  snowload:  Loader(workers=8, progress="none").load(dir), every file's result checked.
Prints each run's seconds and the ratio snowload / connector of the medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import snowload_nb as sl

ROWS = 10


def write_files(folder: Path, count: int) -> int:
    """`count` CSV files of ROWS rows (~100 bytes each); the sum of their ids."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        ids = range(n * ROWS + 1, (n + 1) * ROWS + 1)
        (folder / f"part_{n:05d}.csv").write_text("ID,NAME\n" + "".join(f"{i},n{i % 7}\n" for i in ids))
    return sum(range(1, count * ROWS + 1))


def fresh_table(conn: object, name: str) -> str:
    conn.cursor().execute(f'CREATE OR REPLACE TABLE "{name}" ("ID" NUMBER(38,0), "NAME" VARCHAR)')  # type: ignore[attr-defined]
    return name


def check(conn: object, table: str, count: int, id_sum: int) -> None:
    rows, total = conn.cursor().execute(f'SELECT COUNT(*), SUM("ID") FROM "{table}"').fetchone()  # type: ignore[attr-defined]
    if (int(rows), int(total)) != (count * ROWS, id_sum):
        raise SystemExit(f"{table}: {rows} rows summing {total}, expected {count * ROWS} summing {id_sum}")


def connector(conn: object, folder: Path, table: str, run: int) -> float:
    cursor = conn.cursor()  # type: ignore[attr-defined]
    stage = f"BENCH_SMALL_{run}"
    cursor.execute(f'CREATE OR REPLACE STAGE "{stage}"')
    start = time.perf_counter()
    cursor.execute(f"PUT 'file://{folder}/*' @\"{stage}\"/files/ AUTO_COMPRESS=TRUE PARALLEL=8")
    cursor.execute(
        f'COPY INTO "{table}" FROM @"{stage}"/files/ '
        "FILE_FORMAT = (TYPE = CSV SKIP_HEADER = 1 FIELD_OPTIONALLY_ENCLOSED_BY = '\"' COMPRESSION = GZIP)"
    )
    return time.perf_counter() - start


def snowload(conn: object, folder: Path, table: str, count: int) -> float:
    start = time.perf_counter()
    result = sl.Loader(conn, table, workers=8, progress="none").load([str(folder)])
    seconds = time.perf_counter() - start
    if len(result.files) != count or any(f.status != "loaded" or f.rows_loaded != ROWS for f in result.files):
        raise SystemExit(f"snowload: {result.summary()}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    conn = sl.connect_local()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "small"
        id_sum = write_files(folder, args.files)
        times: dict[str, list[float]] = {"connector": [], "snowload": []}
        for run in range(args.runs):
            table = fresh_table(conn, f"BENCH_CONNECTOR_{run}")
            times["connector"].append(connector(conn, folder, table, run))
            check(conn, table, args.files, id_sum)
            table = fresh_table(conn, f"BENCH_SNOWLOAD_{run}")
            times["snowload"].append(snowload(conn, folder, table, args.files))
            check(conn, table, args.files, id_sum)
            print(f"run {run + 1}: connector {times['connector'][-1]:.2f} s, snowload {times['snowload'][-1]:.2f} s")
    ratio = statistics.median(times["snowload"]) / statistics.median(times["connector"])
    print(f"{args.files} files of ~100 bytes: snowload / connector = {ratio:.2f} (medians of {args.runs})")


if __name__ == "__main__":
    main()
