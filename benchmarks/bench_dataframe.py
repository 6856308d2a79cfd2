"""DataFrame benchmark: Loader.load_dataframe against write_pandas' own steps, on one embedded server.

Run from the repository root: `.venv/bin/python benchmarks/bench_dataframe.py [--quick]`.

`snowflake.connector.pandas_tools.write_pandas` cannot run against the embedded server (it stages
through a TEMPORARY stage, and creates tables with INFER_SCHEMA), so case (a) does what it does by
default, step by step, with its defaults read from its signature. Cases, interleaved per round so
drift on the machine hits them all alike, each into a fresh table whose rows are checked before its
time counts:
  (a) write_pandas' steps: the whole frame to ONE Parquet file with its default compression,
      PUT ... PARALLEL=<its default> to a named stage, one COPY ... MATCH_BY_COLUMN_NAME PURGE=TRUE;
      the table is created beforehand, untimed, with the types snowload would give it;
  (b) Loader(conn, table, workers=4, progress="widget", create_table=True).load_dataframe(df)
      (outside a kernel the widgets are built and updated, and shown nowhere);
  (c) the same with progress="none", for reference.
Then the peak RSS of (a) and (b), each in a child process that only builds the frame and loads it
once, with the server in another one. MB means 10**6 bytes throughout. The results replace this
benchmark's own section of RESULTS.md and leave the rest of the file as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import decimal
import gc
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import snowflake.connector
from common import (
    PROBE,
    BenchmarkError,
    command_line,
    expect_statuses,
    machine_description,
    round_order,
    server_process,
    yes,
)
from snowflake.connector.pandas_tools import chunk_helper, write_pandas

from snowload_nb import Loader, LoadResult, sql
from snowload_nb.frames import prepare
from snowload_nb.sql import QualifiedName

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION_TITLE = "## DataFrames: load_dataframe against write_pandas' steps"
MB = 1_000_000
WORKERS = 4
STAGE = QualifiedName.parse("BENCH_STAGE")
SEED = 20261128
PACKAGES = (
    "snowflake-connector-python",
    "fakesnow",
    "duckdb",
    "pandas",
    "numpy",
    "pyarrow",
    "ipywidgets",
    "snowload_nb",
)

FULL = {"rows": 1_000_000, "repetitions": 3}
QUICK = {"rows": 100_000, "repetitions": 1}
WARMUP_ROWS = 10_000

# write_pandas' defaults, from the installed connector itself, so (a) follows it if they change.
_WRITE_PANDAS = inspect.signature(write_pandas).parameters
WP_COMPRESSION: str = _WRITE_PANDAS["compression"].default  # handed to DataFrame.to_parquet as it is
WP_PARALLEL: int = _WRITE_PANDAS["parallel"].default  # PUT's PARALLEL
WP_CHUNK_SIZE: int | None = _WRITE_PANDAS["chunk_size"].default  # None: the whole frame in one file

CASES = ("a", "b", "c")
CASE_LABELS = {
    "a": f"(a) write_pandas' steps: {WP_COMPRESSION} Parquet, PUT, COPY",
    "b": "(b) load_dataframe, progress=widget",
    "c": "(c) load_dataframe, progress=none",
}
MEMORY_CASES = {"a": "write_pandas", "b": "load_dataframe"}  # case -> memory_probe.py's --approach
# (label, numerator, denominator, target: the ratio must not exceed it; None: shown for reference)
RATIOS: tuple[tuple[str, str, str, float | None], ...] = (
    ("b/a", "b", "a", 0.5),
    ("c/a", "c", "a", None),
    ("b/c", "b", "c", None),
)

# What each column holds, for the report; build_frame makes exactly these.
COLUMN_NOTES = {
    "id": "0 .. rows-1: the checksum column",
    "qty": "in ±10^6, 10% NA (its count and sum are checked too)",
    "amount": "log-normal, 5% NaN",
    "ok": "True or False, half each",
    "name": "str of {lengths} characters (commas, quotes, newlines, non-ASCII), a distinct object per row, 10% None",
    "country": "str, 8 distinct values",
    "day": "datetime.date, 5% None",
    "created": "naive, over 10 years, 5% NaT",
    "updated_at": "tz-aware, over 10 years",
    "price": "decimal.Decimal with 2 places in ±10^7, 5% None",
}


# ---------------------------------------------------------------------------------------------
# The frame


def build_frame(rows: int) -> pd.DataFrame:
    """The benchmark's frame: for a given `rows`, the same values in every run and every process."""
    rng = np.random.default_rng(SEED)

    def missing(share: float) -> np.ndarray:
        return rng.random(rows) < share

    qty = pd.array(rng.integers(-1_000_000, 1_000_001, rows), dtype="Int64")
    qty[missing(0.10)] = pd.NA
    amount = rng.lognormal(3.0, 1.5, rows)
    amount[missing(0.05)] = np.nan
    pool = _text_pool(rng, 1000)
    picks = rng.integers(0, len(pool), rows).tolist()
    names = np.array([f"{pool[k]} #{i}" for i, k in enumerate(picks)], dtype=object)
    names[missing(0.10)] = None
    countries = np.array(["FR", "DE", "US", "JP", "BR", "IN", "Côte d'Ivoire", "日本"], dtype=object)
    start = np.datetime64("2015-01-01T00:00:00", "ns")
    span_us = 10 * 365 * 86_400 * 1_000_000
    created = pd.Series(start + rng.integers(0, span_us, rows).astype("timedelta64[us]"))
    created[missing(0.05)] = pd.NaT
    updated = pd.Series(start + rng.integers(0, span_us, rows).astype("timedelta64[us]"))
    days = pd.Series(start + rng.integers(0, 3650, rows).astype("timedelta64[D]")).dt.date.to_numpy(copy=True)
    days[missing(0.05)] = None
    cents = rng.integers(-(10**9), 10**9, rows).tolist()
    no_price = missing(0.05).tolist()
    prices = [None if gone else decimal.Decimal(c).scaleb(-2) for c, gone in zip(cents, no_price, strict=True)]
    df = pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "qty": qty,
            "amount": amount,
            "ok": rng.random(rows) < 0.5,
            "name": names,
            "country": countries[rng.integers(0, len(countries), rows)],
            "day": days,
            "created": created.astype("datetime64[ns]"),
            "updated_at": updated.astype("datetime64[ns]").dt.tz_localize("UTC").dt.tz_convert("America/New_York"),
            "price": pd.Series(prices, dtype=object),
        }
    )
    return df


def _text_pool(rng: np.random.Generator, size: int) -> list[str]:
    """Strings of mixed lengths (geometric, mean about 30), with what CSV and encodings find hard."""
    alphabet = "abcdefghijklmnopqrstuvwxyz     ABCDEFGHIJ0123456789,,\"'\n-üéß日本語🙂"
    lengths = np.minimum(rng.geometric(1 / 30, size), 290)
    return ["".join(alphabet[j] for j in rng.integers(0, len(alphabet), n)) for n in lengths]


@dataclass(frozen=True)
class FrameFacts:
    """What a correct load puts in the table: rows, the sum of `id`, and `qty`'s count and sum."""

    rows: int
    id_sum: int
    qty_count: int
    qty_sum: int

    @classmethod
    def of(cls, df: pd.DataFrame) -> FrameFacts:
        return cls(len(df), int(df["id"].sum()), int(df["qty"].count()), int(df["qty"].sum()))

    @classmethod
    def in_table(cls, conn: Any, table: QualifiedName) -> FrameFacts:
        # The server may hand sums back as floats; here they stay far below 2**53, so they are exact.
        ((rows, id_sum, qty_count, qty_sum),) = execute(
            conn, f'SELECT COUNT(*), SUM("id"), COUNT("qty"), SUM("qty") FROM {table.sql}'
        )
        return cls(int(rows), int(id_sum or 0), int(qty_count), int(qty_sum or 0))


def frame_mb(df: pd.DataFrame) -> float:
    return float(df.memory_usage(index=False, deep=True).sum()) / MB


# ---------------------------------------------------------------------------------------------
# The approaches (also run by memory_probe.py's `dataframe` subcommand, in a process of their own)


def execute(conn: Any, statement: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(conn.cursor()) as cursor:
        cursor.execute(statement)
        return list(cursor.fetchall())


def create_target(conn: Any, table: QualifiedName, columns: list[tuple[str, str]]) -> None:
    """(a)'s untimed set-up: the stage, and the table with the columns snowload would create."""
    execute(conn, sql.create_stage(STAGE))
    execute(conn, sql.create_table(table, columns))


@dataclass(frozen=True)
class Steps:
    """(a)'s wall time in all, and by step; the total also covers the temporary folder."""

    total: float
    parquet: float
    put: float
    copy: float
    files: int
    parquet_bytes: int


def write_pandas_steps(conn: Any, df: pd.DataFrame, table: QualifiedName) -> Steps:
    """(a) What write_pandas(conn, df, table) does by default, but into a named stage.

    Like write_pandas: chunks from the connector's own chunk_helper (one, the whole frame, unless
    chunk_size is set), each written with `to_parquet(path, compression=...)` as `file<i>.txt` in a
    temporary folder, PUT with PARALLEL, then removed; then one COPY of the stage folder, PURGE=TRUE.
    """
    location = f"@{STAGE.sql}/{table.name.lower()}/"
    parquet = put = 0.0
    files = size = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for i, chunk in chunk_helper(df, WP_CHUNK_SIZE or len(df)):
            path = os.path.join(folder, f"file{i}.txt")
            began = time.perf_counter()
            chunk.to_parquet(path, compression=WP_COMPRESSION)
            parquet += time.perf_counter() - began
            size += os.path.getsize(path)
            files += 1
            quoted = path.replace("\\", "\\\\").replace("'", "\\'")  # as write_pandas quotes it
            began = time.perf_counter()
            uploaded = execute(conn, f"PUT 'file://{quoted}' {location} PARALLEL={WP_PARALLEL}")
            put += time.perf_counter() - began
            expect_statuses("PUT", uploaded, 6, {"UPLOADED"}, 1)
            os.remove(path)
    began = time.perf_counter()
    copied = execute(
        conn,
        f"COPY INTO {table.sql} FROM {location} FILE_FORMAT=(TYPE=PARQUET) "
        "MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE PURGE=TRUE",
    )
    end = time.perf_counter()
    expect_statuses("COPY", copied, 1, {"LOADED"}, files)
    return Steps(end - start, parquet, put, end - began, files, size)


def snowload_load(
    conn: Any, df: pd.DataFrame, table: QualifiedName, progress: str, connect: Callable[[], Any] | None = None
) -> tuple[float, LoadResult]:
    """(b), (c): the public API, as a user calls it; (seconds, result), the result checked."""
    start = time.perf_counter()
    result = Loader(
        conn, str(table), workers=WORKERS, progress=progress, create_table=True, connect=connect
    ).load_dataframe(df)
    elapsed = time.perf_counter() - start
    if not result.ok or result.rows_loaded != len(df):
        problems = "; ".join(f"{f.path}: {f.status} {f.error or ''}" for f in result.files if f.status != "loaded")
        raise BenchmarkError(f"load_dataframe progress={progress}: {result.summary()} {problems}")
    return elapsed, result


# ---------------------------------------------------------------------------------------------
# Timed loads, on one embedded server in a process of its own


@dataclass(frozen=True)
class CaseRun:
    seconds: float
    steps: Steps | None = None  # (a)
    chunks: int = 0  # (b), (c): the Parquet chunks load_dataframe made


@dataclass(frozen=True)
class Frame:
    """A frame with what is known of it up front: the expected facts and the table's columns."""

    df: pd.DataFrame
    facts: FrameFacts
    columns: list[tuple[str, str]]

    @classmethod
    def build(cls, rows: int) -> Frame:
        df = build_frame(rows)
        return cls(df, FrameFacts.of(df), prepare(df).columns())


def check_and_drop(conn: Any, table: QualifiedName, expected: FrameFacts, case: str) -> None:
    """The table holds the frame exactly once (count, sum of ids, qty's count and sum), then drop it."""
    found = FrameFacts.in_table(conn, table)
    if found != expected:
        raise BenchmarkError(f"{CASE_LABELS[case]}: {table} holds {found}, expected {expected}")
    execute(conn, f"DROP TABLE {table.sql}")


def run_case(conn: Any, case: str, frame: Frame, table_name: str, connect: Callable[[], Any]) -> CaseRun:
    """Time one case into a fresh table, then check the rows (untimed) and drop the table."""
    table = QualifiedName.parse(table_name)
    gc.collect()  # the previous case's garbage is not this one's to collect
    if case == "a":
        create_target(conn, table, frame.columns)
        steps = write_pandas_steps(conn, frame.df, table)
        run = CaseRun(steps.total, steps=steps)
    else:
        seconds, result = snowload_load(conn, frame.df, table, {"b": "widget", "c": "none"}[case], connect)
        run = CaseRun(seconds, chunks=len(result.files))
    check_and_drop(conn, table, frame.facts, case)
    return run


def benchmark_loads(frame: Frame, warmup: Frame, repetitions: int) -> dict[str, list[CaseRun]]:
    """Every case once on a small frame (imports, first connections), then the timed rounds."""
    with server_process() as connect_kwargs:
        return _benchmark_loads(connect_kwargs, frame, warmup, repetitions)


def _benchmark_loads(
    connect_kwargs: dict[str, Any], frame: Frame, warmup: Frame, repetitions: int
) -> dict[str, list[CaseRun]]:
    def connect() -> Any:
        return snowflake.connector.connect(**connect_kwargs)

    conn = connect()
    runs: dict[str, list[CaseRun]] = {case: [] for case in CASES}
    try:
        for case in CASES:
            run_case(conn, case, warmup, f"DF_WARMUP_{case.upper()}", connect)
        for rep in range(1, repetitions + 1):
            for case in round_order(CASES, rep - 1):
                run = run_case(conn, case, frame, f"DF_BENCH_{case.upper()}_{rep}", connect)
                runs[case].append(run)
                print(f"  round {rep}  {CASE_LABELS[case]:<48} {run.seconds:7.2f} s", flush=True)
    finally:
        with contextlib.suppress(Exception):
            conn.close()
    return runs


# ---------------------------------------------------------------------------------------------
# Peak RSS: one child process per approach, the server in another


@dataclass(frozen=True)
class MemoryResult:
    rss_after_frame_mb: float
    peak_rss_mb: float  # VmHWM of the whole process: building the frame included
    load_peak_rss_mb: float | None  # VmHWM reset just before the load; None where it cannot be
    seconds: float


def benchmark_memory(frame: Frame) -> dict[str, MemoryResult]:
    """(a) and (b) each in a fresh process; each builds the frame itself, which must match ours.

    (a)'s table is made from our columns, so its process makes no pass over the frame but its load.
    """
    rows, expected = frame.facts.rows, frame.facts
    results = {}
    with server_process() as connect_kwargs:
        for case, approach in MEMORY_CASES.items():
            arguments = ["--approach", approach, "--rows", str(rows), "--table", f"DF_MEMORY_{case.upper()}"]
            arguments += ["--columns", json.dumps(frame.columns)]
            loaded = subprocess.run(
                [*PROBE, "dataframe", "--connect-kwargs", json.dumps(connect_kwargs), *arguments],
                stdout=subprocess.PIPE,
                text=True,
                check=True,
            )
            outcome = json.loads(loaded.stdout.strip().splitlines()[-1])
            for what in ("frame", "table"):
                found = FrameFacts(**outcome[what])
                if found != expected:
                    raise BenchmarkError(f"memory check, {approach}: the child's {what} holds {found}, not {expected}")
            results[case] = MemoryResult(
                outcome["rss_after_frame_mb"], outcome["peak_rss_mb"], outcome["load_peak_rss_mb"], outcome["seconds"]
            )
            print(f"  {CASE_LABELS[case]:<48} peak {results[case].peak_rss_mb:6.0f} MB", flush=True)
    return results


# ---------------------------------------------------------------------------------------------
# Report


@dataclass(frozen=True)
class Report:
    command: str
    started: str
    load_average: tuple[float, float, float]  # when the run started: other work on the machine
    load_average_end: tuple[float, float, float]
    quick: bool
    df: pd.DataFrame = field(repr=False)
    columns: list[tuple[str, str]]
    frame_mb: float
    build_seconds: float
    repetitions: int
    runs: dict[str, list[CaseRun]]
    memory: dict[str, MemoryResult]

    @property
    def medians(self) -> dict[str, float]:
        return {case: statistics.median(r.seconds for r in runs) for case, runs in self.runs.items()}

    def ratio_rows(self) -> list[tuple[str, float, str, str]]:
        """(ratio, value, target, met) for each ratio of medians."""
        rows = []
        for label, numerator, denominator, limit in RATIOS:
            value = self.medians[numerator] / self.medians[denominator]
            if limit is None:
                rows.append((label, value, "(reference)", "-"))
            else:
                rows.append((label, value, f"<= {limit:g}", yes(value <= limit)))
        return rows

    def memory_met(self) -> bool:
        return self.memory["b"].peak_rss_mb <= self.memory["a"].peak_rss_mb

    def step_medians(self) -> tuple[float, float, float, float]:
        """(a)'s steps: median to_parquet, PUT and COPY seconds, and the median Parquet MB."""
        steps = [r.steps for r in self.runs["a"] if r.steps is not None]
        return (
            statistics.median(s.parquet for s in steps),
            statistics.median(s.put for s in steps),
            statistics.median(s.copy for s in steps),
            statistics.median(s.parquet_bytes for s in steps) / MB,
        )

    def chunks(self) -> str:
        counts = sorted({r.chunks for case in ("b", "c") for r in self.runs[case]})
        return " or ".join(str(n) for n in counts)

    def frame_line(self) -> str:
        return (
            f"{len(self.df):,} rows, {len(self.df.columns)} columns, {self.frame_mb:,.1f} MB in pandas "
            "(memory_usage deep)"
        )

    def console(self) -> str:
        lines = [f"\nMedian of {self.repetitions} ({self.frame_line()})"]
        lines.append(f"  {'case':<48} {'median s':>9}   runs")
        for case in CASES:
            runs = " ".join(f"{r.seconds:.2f}" for r in self.runs[case])
            lines.append(f"  {CASE_LABELS[case]:<48} {self.medians[case]:9.2f}   {runs}")
        parquet, put, copy, size = self.step_medians()
        lines.append(
            f"\n  (a) by step, median: to_parquet {parquet:.2f} s, PUT {put:.2f} s, COPY {copy:.2f} s "
            f"(one {size:,.1f} MB file)"
        )
        lines.append(f"  (b), (c): {self.chunks()} Parquet chunks, {WORKERS} workers")
        lines.append(f"\n  {'ratio':<6} {'value':>7}  {'target':<12} met")
        for label, value, target, met in self.ratio_rows():
            lines.append(f"  {label:<6} {value:7.3f}  {target:<12} {met}")
        lines.append("\nPeak RSS (one child process per approach, which only builds the frame and loads it once)")
        lines.append(f"  {'approach':<48} {'after frame':>12} {'peak':>8} {'in load':>8} {'load s':>8}")
        for case in MEMORY_CASES:
            m = self.memory[case]
            in_load = "n/a" if m.load_peak_rss_mb is None else f"{m.load_peak_rss_mb:.0f}"
            lines.append(
                f"  {CASE_LABELS[case]:<48} {m.rss_after_frame_mb:9.0f} MB {m.peak_rss_mb:5.0f} MB "
                f"{in_load:>5} MB {m.seconds:8.1f}"
            )
        lines.append("\nTargets")
        b_over_a = next(row for row in self.ratio_rows() if row[0] == "b/a")
        lines.append(f"  {'time (b)/(a)':<24} {b_over_a[1]:.3f}  {b_over_a[2]:<10} {b_over_a[3]}")
        peaks = f"{self.memory['b'].peak_rss_mb:.0f} vs {self.memory['a'].peak_rss_mb:.0f} MB"
        lines.append(f"  {'peak RSS (b) vs (a)':<24} {peaks}  {'b <= a':<10} {yes(self.memory_met())}")
        return "\n".join(lines)

    def markdown(self) -> str:
        """This benchmark's section of RESULTS.md; its subsections are ### so it ends at the next ##."""
        parquet, put, copy, size = self.step_medians()
        lengths = self.df["name"].str.len()
        spread = f"{lengths.min():.0f}-{lengths.max():.0f} (median {lengths.median():.0f})"
        notes = [
            (name, str(dtype), COLUMN_NOTES[name].format(lengths=spread)) for name, dtype in self.df.dtypes.items()
        ]
        types = dict(self.columns)
        out = [
            SECTION_TITLE,
            "",
            f"Command (from the repository root): `{self.command}`",
            "",
            f"Date: {self.started}",
            "",
            *(["A `--quick` smoke run: a small frame, one repetition.", ""] if self.quick else []),
            "### Machine",
            "",
            *[f"- {line}" for line in machine_description(PACKAGES)],
            f"- Load average (1, 5, 15 min) when the run started: {_triple(self.load_average)}; "
            f"when it ended: {_triple(self.load_average_end)}",
            "",
            "### Frame",
            "",
            f"- {self.frame_line()}; built in {self.build_seconds:.1f} s by `build_frame` in "
            f"`benchmarks/bench_dataframe.py` (numpy seed {SEED}: the same values every run), RangeIndex.",
            "- MB = 10^6 bytes.",
            "",
            "| column | pandas dtype | values | Snowflake type (both approaches) |",
            "|---|---|---|---|",
            *[f"| {name} | {dtype} | {note} | {types[name]} |" for name, dtype, note in notes],
            "",
            "### Set-up",
            "",
            "- One embedded server (fakesnow, in a child process of its own, as a real server is never in "
            "the client's process) reached over HTTP by snowflake-connector-python; every case loads into "
            "a fresh table, and the table's row count, sum "
            "of `id`, and count and sum of `qty` are checked against the frame before the time is kept; then "
            "the table is dropped.",
            f"- {self.repetitions} repetition(s), cases interleaved in each round in the order of a Williams "
            "design (`benchmarks/common.py: round_order`: in 6 rounds each case would follow each other "
            "twice; 3 rounds make it varied, not balanced); one untimed warm-up of every case on a "
            f"{WARMUP_ROWS:,}-row frame first. A garbage "
            "collection (untimed) before each case. Times are wall-clock seconds.",
            "- (a) `write_pandas` itself cannot run here (it needs a TEMPORARY stage, and INFER_SCHEMA to "
            "create a table), so its default steps are timed together: the connector's `chunk_helper` with "
            f"`chunk_size={WP_CHUNK_SIZE}` (one chunk, the whole frame), `chunk.to_parquet(path, "
            f"compression={WP_COMPRESSION!r})` into a temporary folder, `PUT 'file://<path>' "
            f"@BENCH_STAGE/<subpath>/ PARALLEL={WP_PARALLEL}` (a named stage instead of its temporary one), "
            "then `COPY INTO <table> FROM @BENCH_STAGE/<subpath>/ FILE_FORMAT=(TYPE=PARQUET) "
            "MATCH_BY_COLUMN_NAME=CASE_INSENSITIVE PURGE=TRUE`. Its table is created beforehand, untimed, "
            "with `snowload_nb.sql.create_table` and `snowload_nb.frames.prepare(df).columns()`.",
            f'- (b) `Loader(conn, table, workers={WORKERS}, progress="widget", create_table=True)'
            ".load_dataframe(df)` (outside a kernel: the ipywidgets are built and updated, and shown "
            'nowhere); (c) the same with `progress="none"`. Both create their table (inside the timed call), '
            "and their workers open sessions of their own (`connect=`).",
            "",
            "### Load times",
            "",
            "| case | median s | runs (s) |",
            "|---|---:|---|",
            *[
                f"| {CASE_LABELS[c]} | {self.medians[c]:.2f} | {', '.join(f'{r.seconds:.2f}' for r in self.runs[c])} |"
                for c in CASES
            ],
            "",
            f"(a) by step, median: `to_parquet` {parquet:.2f} s, PUT {put:.2f} s, COPY {copy:.2f} s; one "
            f"{size:,.1f} MB Parquet file. (b) and (c) staged {self.chunks()} snappy Parquet chunks each.",
            "",
            "| ratio of medians | value | target | met |",
            "|---|---:|---|---|",
            *[f"| {label} | {value:.3f} | {target} | {met} |" for label, value, target, met in self.ratio_rows()],
            "",
            "### Peak RSS",
            "",
            "Each approach in a child process of its own (`benchmarks/memory_probe.py dataframe`) that builds "
            "the frame, then loads it once into a fresh table, with the server in another process "
            "(`snowload serve`). (a)'s table is created first, from column types the parent "
            "process worked out, so its process makes no pass over the frame but the load; (b) creates its "
            "table itself, inside the load, and gives its workers sessions of their own (`connect=`), as "
            "in the timed run. RSS after the frame is read once it is built and "
            "garbage-collected; the peak is the process's VmHWM at the end, building the frame included; "
            "the peak during the load is VmHWM after resetting it (`/proc/self/clear_refs`) just before the "
            "load.",
            "",
            "| approach | RSS after the frame MB | peak RSS (VmHWM) MB | peak during the load MB | load s |",
            "|---|---:|---:|---:|---:|",
            *[
                f"| {CASE_LABELS[c]} | {m.rss_after_frame_mb:.0f} | {m.peak_rss_mb:.0f} | "
                f"{'n/a' if m.load_peak_rss_mb is None else f'{m.load_peak_rss_mb:.0f}'} | {m.seconds:.1f} |"
                for c, m in self.memory.items()
            ],
            "",
            "### Targets",
            "",
            "| what | measured | target | met |",
            "|---|---|---|---|",
            *[
                f"| time, (b) / (a), medians | {value:.3f} | {target} | {met} |"
                for label, value, target, met in self.ratio_rows()
                if label == "b/a"
            ],
            f"| peak RSS, (b) vs (a) | {self.memory['b'].peak_rss_mb:.0f} MB vs {self.memory['a'].peak_rss_mb:.0f} "
            f"MB | (b) <= (a) | {yes(self.memory_met())} |",
            "",
        ]
        return "\n".join(out)


def _triple(values: Sequence[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in values)


# ---------------------------------------------------------------------------------------------
# RESULTS.md: this section only


def _section_span(lines: list[str]) -> tuple[int, int] | None:
    """[start, end) of our section: from its title to the next # or ## heading, or the end."""
    for start, line in enumerate(lines):
        if line.rstrip("\r\n") == SECTION_TITLE:
            for end in range(start + 1, len(lines)):
                if lines[end].startswith(("# ", "## ")):
                    return start, end
            return start, len(lines)
    return None


def extract_section(document: str) -> str | None:
    """Our section of `document` as it stands (bench_load.py can carry it into the file it rewrites)."""
    lines = document.splitlines(keepends=True)
    span = _section_span(lines)
    return None if span is None else "".join(lines[span[0] : span[1]]).rstrip("\n") + "\n"


def replace_section(document: str, section: str) -> str:
    """`document` with our section replaced by `section`, or with it appended; the rest untouched."""
    lines = document.splitlines(keepends=True)
    body = section.rstrip("\n") + "\n"
    span = _section_span(lines)
    if span is None:
        head = document.rstrip("\n")
        return f"{head}\n\n{body}" if head else body
    before, after = "".join(lines[: span[0]]), "".join(lines[span[1] :])
    return before + body + (f"\n{after}" if after else "")


# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 100,000-row frame and one repetition: a smoke run")
    given = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(given)
    config = QUICK if args.quick else FULL
    command = command_line(__file__, given)
    started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    load_average = os.getloadavg()
    print(f"Load average at start: {_triple(load_average)}", flush=True)

    print(f"Building the frame ({config['rows']:,} rows) ...", flush=True)
    began = time.perf_counter()
    frame = Frame.build(config["rows"])
    build_seconds = time.perf_counter() - began
    size = frame_mb(frame.df)
    print(f"  {len(frame.df.columns)} columns, {size:,.1f} MB in pandas, {build_seconds:.1f} s", flush=True)
    warmup = Frame.build(WARMUP_ROWS)

    print(f"\nLoads ({config['repetitions']} repetition(s), after an untimed warm-up)", flush=True)
    runs = benchmark_loads(frame, warmup, config["repetitions"])
    print("\nPeak RSS, one child process per approach ...", flush=True)
    memory = benchmark_memory(frame)

    report = Report(
        command=command,
        started=started,
        load_average=load_average,
        load_average_end=os.getloadavg(),
        quick=args.quick,
        df=frame.df,
        columns=frame.columns,
        frame_mb=size,
        build_seconds=build_seconds,
        repetitions=config["repetitions"],
        runs=runs,
        memory=memory,
    )
    print(report.console())
    existing = RESULTS.read_text() if RESULTS.exists() else ""
    RESULTS.write_text(replace_section(existing, report.markdown()))
    print(f"\nWrote the section {SECTION_TITLE[3:]!r} of {os.path.relpath(RESULTS, Path.cwd())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
