"""The fault soak: seeded rounds of random loads, each with a random fault, then a clean re-run;
after every round the table holds exactly the files on disk, each row once, every value intact.

Faults: a cancel in a random phase, the server going away mid-load (a proxy in front of it
drops every connection and refuses new ones), a file rewritten while it loads, the temporary
disk filling up (ENOSPC), and a second load of the same files at the same time. `make test` runs
SOAK_ROUNDS=50 with a fixed seed; `make soak` runs more with a fresh one. A failure names its seed
and round; the report (printed with -s) gives the time each fault took to end its load.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.csv as pacsv
from conftest import Interceptor, connect_with, leftover_threads
from tcp_proxy import TcpProxy

import snowload_nb as sl
import snowload_nb.local as local
from snowload_nb import parts, sql
from snowload_nb.demo import DEMO_COLUMNS, ROW_BYTES, write_csv
from snowload_nb.pipeline import stage_key

ROUNDS = int(os.environ.get("SOAK_ROUNDS", "50"))
SEED = int(os.environ.get("SOAK_SEED", "20261130"))
SIZES = (3_000, 40_000, 400_000, 1_500_000, 12_000_000)  # bytes, about
CONNECTOR_RETRIES = 60.0  # s: at most this long for an orphaned upload to give up (1+2+4+8+16 s of backoff)
FAULTS = ("cancel", "server-stop", "rewrite", "disk-full", "concurrent", "none")


@dataclass
class Version:
    """One version of a source file: what the table must hold for it, as aggregates."""

    path: Path
    facts: tuple[int, ...]


@dataclass
class Pool:
    folder: Path
    rng: random.Random
    versions: dict[int, Version] = field(default_factory=dict)
    next_id: int = 1

    def write(self, number: int) -> None:
        rows = max(1, SIZES[number] // ROW_BYTES)
        path = self.folder / f"soak_{number}.csv"
        tmp = path.with_suffix(".tmp")
        write_csv(tmp, number, self.next_id, rows, seed=self.rng.randrange(1 << 30))
        self.next_id += rows
        facts = file_facts(tmp)
        if path.exists():  # in place, as an editor or an export job rewrites a file
            path.write_bytes(tmp.read_bytes())
            tmp.unlink()
        else:
            tmp.rename(path)
        self.versions[number] = Version(path, facts)


def file_facts(path: Path) -> tuple[int, ...]:
    table = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
    )
    return (
        table.num_rows,
        table.num_rows,
        pc.sum(table["id"]).as_py(),
        pc.sum(table["file_no"]).as_py() or 0,
        pc.sum(pc.round(pc.multiply(table["amount"], 100))).as_py(),
        pc.sum(pc.utf8_length(table["name"])).as_py(),
        pc.sum(pc.utf8_length(table["note"])).as_py() or 0,
        table["note"].length() - table["note"].null_count,
    )


def table_facts(conn, table: str) -> tuple[int, ...]:
    name = sql.QualifiedName.parse(table).sql
    row = (
        conn.cursor()
        .execute(
            'SELECT COUNT(*), COUNT(DISTINCT "ID"), SUM("ID"), SUM("FILE_NO"), SUM(ROUND("AMOUNT" * 100)), '
            f'SUM(LENGTH("NAME")), SUM(LENGTH("NOTE")), COUNT("NOTE") FROM {name}'
        )
        .fetchone()
    )
    return tuple(int(v or 0) for v in row)


def summed(facts: list[tuple[int, ...]]) -> tuple[int, ...]:
    return tuple(sum(column) for column in zip(*facts, strict=True)) if facts else (0,) * 8


@contextlib.contextmanager
def disk_fills_after(nbytes: int):
    """The temporary disk is full once `nbytes` have gone into parts: every later write fails."""
    write = parts._PartFile._write
    written = [0]
    lock = threading.Lock()

    def full(self, data):
        with lock:
            written[0] += len(data)
            over = written[0] > nbytes
        if over:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(self, data)

    parts._PartFile._write = full
    try:
        yield
    finally:
        parts._PartFile._write = write


def verb(statement: str) -> str:
    return statement.split()[0].upper()


class Round:
    """One round's load, its fault, and how long the fault took to end the load."""

    def __init__(self, soak: Soak, number: int) -> None:
        self.soak = soak
        self.number = number
        rng = soak.rng
        self.rng = rng
        self.table = f"SOAK_{number}"
        self.files = sorted(rng.sample(range(len(SIZES)), rng.randint(2, len(SIZES))))
        self.fault = FAULTS[number % len(FAULTS)] if number < len(FAULTS) else rng.choice(FAULTS)
        self.fault = os.environ.get("SOAK_FAULT", self.fault)  # to dwell on one kind of fault
        self.options = {
            "workers": rng.choice([1, 2, 4]),
            "atomic": rng.random() < 0.25,
            "compression": rng.choice(["gzip", "none", "zstd", "auto"]),
            "part_size_mb": rng.choice([5, 100]),
            "retry_delay": 0.05,
            "progress": "none",
        }
        # A rewrite needs to know the file: PUT names its part, COPY its stage folder.
        self.trigger = rng.choice(["PUT", "COPY"] if self.fault == "rewrite" else ["PUT", "COPY", "COMMIT", "BEGIN"])
        self.nth = rng.randint(1, 3)
        self.fault_at: float | None = None
        self.rewritten: dict[int, Version] = {}  # the version a rewrite replaced
        self.connections: list = []

    def paths(self) -> list[str]:
        return [str(self.soak.pool.versions[n].path) for n in self.files]

    def run(self) -> None:
        soak = self.soak
        soak.setup.cursor().execute(sql.create_table(sql.QualifiedName.parse(self.table), DEMO_COLUMNS))
        seen = []
        job = None

        def before(statement: str) -> None:
            if self.fault_at is not None or verb(statement) != self.trigger:
                return
            seen.append(statement)
            if len(seen) < self.nth:
                return
            self.fault_at = time.monotonic()
            if self.fault == "cancel":
                job.cancel()
            elif self.fault == "server-stop":
                soak.proxy.stop()
            elif self.fault == "rewrite":
                number = self.file_of(statement)
                self.rewritten[number] = soak.pool.versions[number]
                soak.pool.write(number)

        loader = sl.Loader(self.connect(), self.table, connect=Interceptor(before, soak.kwargs), **self.options)
        if self.fault == "disk-full":
            with disk_fills_after(self.rng.randrange(1, 3_000_000)):
                faulted = loader.load(self.paths())
        elif self.fault == "concurrent":
            other = sl.Loader(self.connect(), self.table, connect=self.connect, **self.options)
            results: list[sl.LoadResult] = []
            go = threading.Barrier(2)

            def second() -> None:
                go.wait()
                results.append(other.load(self.paths()))

            thread = threading.Thread(target=second)
            thread.start()
            go.wait()
            faulted = loader.load(self.paths())
            thread.join()
            assert results[0].ok, self.describe(results[0])
            assert faulted.ok, self.describe(faulted)
        else:
            job = loader.start(self.paths())
            if self.fault == "cancel" and self.trigger == "BEGIN" and self.nth == 1:
                self.fault_at = time.monotonic()  # at once: files are still compressing
                job.cancel()
            faulted = job.result()
        ended = time.monotonic()
        if self.fault_at is not None and self.fault in ("cancel", "server-stop"):  # the bounds to report
            soak.times.setdefault(self.fault, []).append(ended - self.fault_at)
        if self.fault == "server-stop":
            soak.proxy.start()

        rerun = sl.Loader(self.connect(), self.table, progress="none", connect=self.connect).load(self.paths())
        for conn in self.connections:
            conn.close()
        assert rerun.ok, self.describe(rerun)
        # Each file as it is now; and a version a rewrite replaced, if it was read whole before
        # the rewrite and loaded: then the load said so.
        expected = [soak.pool.versions[n].facts for n in self.files]
        for number, old in self.rewritten.items():
            if faulted.files[self.files.index(number)].status == "loaded":
                expected.append(old.facts)
        assert table_facts(soak.setup, self.table) == summed(expected), self.describe(faulted)

    def connect(self):
        conn = connect_with(self.soak.kwargs)
        self.connections.append(conn)
        return conn

    def file_of(self, statement: str) -> int:
        """Which file a PUT (its part's name) or a COPY (its stage folder) is about."""
        for number in self.files:
            path = self.soak.pool.versions[number].path
            if f"/soak_{number}." in statement or stage_key(sl.loader.expand([str(path)])[0]) in statement:
                return number
        raise AssertionError(f"no file of this round in {statement!r}")

    def describe(self, result: sl.LoadResult) -> str:
        files = "; ".join(f"{Path(f.path).name}: {f.status} {f.error or ''}" for f in result.files)
        return (
            f"seed {self.soak.seed} round {self.number}: fault {self.fault} at {self.trigger} #{self.nth}, "
            f"{self.options}: {files}"
        )


class Soak:
    def __init__(self, seed: int, folder: Path) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.pool = Pool(folder, self.rng)
        for number in range(len(SIZES)):
            self.pool.write(number)
        server = local.embedded_server()
        self.proxy = TcpProxy(server.port).start()
        self.kwargs = server.connect_kwargs() | {"port": self.proxy.port}
        self.setup = connect_with(server.connect_kwargs())  # not through the proxy: always answers
        self.times: dict[str, list[float]] = {}

    def report(self) -> str:
        lines = [f"soak: seed {self.seed}, {ROUNDS} rounds, all exact; seconds from the fault to the load's end:"]
        for fault, times in sorted(self.times.items()):
            lines.append(
                f"  {fault:12} n={len(times):3}  median {statistics.median(times):6.2f}  max {max(times):6.2f}"
            )
        return "\n".join(lines)


def test_every_round_leaves_each_file_in_the_table_exactly_once(conn, tmp_path, private_tmp, capsys):
    # `conn` first: the embedded server is up before the temporary folder is watched.
    soak = Soak(SEED, tmp_path)
    try:
        for number in range(ROUNDS):
            this = Round(soak, number)
            started = time.monotonic()
            this.run()
            if os.environ.get("SOAK_VERBOSE"):
                with capsys.disabled():
                    took = time.monotonic() - started
                    print(f"round {number}: {this.fault} at {this.trigger} #{this.nth}: {took:.1f} s")
    finally:
        soak.proxy.stop()
        with capsys.disabled():
            print("\n" + soak.report())
    # An upload the server died under goes on in the connector's own thread after the load has
    # ended: its backoff between retries adds up to 31 s, and it removes its temporary folder when
    # it gives up. Wait for those threads to end, then nothing may be left.
    leftover_threads(grace=CONNECTOR_RETRIES)
    assert list(private_tmp.iterdir()) == []  # no temporary folder left by any round
