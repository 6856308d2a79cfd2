"""Many small files load in batches: one PUT and one COPY per batch, every file its own result."""

from __future__ import annotations

import math

import pyarrow.csv as pacsv
import pytest
from conftest import Interceptor, expected_facts, table_facts

import snowload_nb as sl
from snowload_nb import sql
from snowload_nb.demo import DEMO_COLUMNS, GeneratedFile, generate_files, write_csv
from snowload_nb.pipeline import stage_key
from snowload_nb.sources import expand

SMALL = 500
WORKERS = 4


class Statements:
    """Counts the statements the load's sessions send, by their first word."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.connect = Interceptor(self.sent.append)

    def count(self, verb: str) -> int:
        return sum(s.split(None, 1)[0].upper() == verb for s in self.sent)


def new_table(conn, name: str) -> str:
    conn.cursor().execute(sql.create_table(sql.QualifiedName.parse(name), DEMO_COLUMNS))
    return name


def small_files(folder, count: int, first_id: int = 1) -> list[GeneratedFile]:
    """`count` CSV files of 2-9 rows each, with commas, quotes and newlines inside fields."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for n in range(count):
        rows = 2 + n % 8
        files.append(write_csv(folder / f"small_{n:04d}.csv", n, first_id, rows))
        first_id += rows
    return files


def values(conn, table: str) -> tuple:
    """What the table holds, by value: rows per file, and sums over every column."""
    name = sql.QualifiedName.parse(table).sql
    per_file = dict(conn.cursor().execute(sql.rows_per_file(sql.QualifiedName.parse(table))).fetchall())
    sums = conn.cursor().execute(
        f'SELECT SUM("ID"), ROUND(SUM("AMOUNT"), 2), SUM(LENGTH("NAME")), SUM(LENGTH("NOTE")), '
        f'COUNT("NOTE"), MIN("AT"), MAX("AT") FROM {name}'
    )
    return {int(k): int(v) for k, v in per_file.items()}, tuple(sums.fetchone())


def expected_values(files: list[GeneratedFile]) -> tuple:
    import pyarrow as pa
    import pyarrow.compute as pc

    read = pacsv.ParseOptions(newlines_in_values=True)
    empty_is_null = pacsv.ConvertOptions(strings_can_be_null=True)  # as COPY reads an empty field
    tables = [pacsv.read_csv(f.path, parse_options=read, convert_options=empty_is_null) for f in files if f.rows]
    whole = pa.concat_tables(tables)
    sums = (
        pc.sum(whole["id"]).as_py(),
        round(pc.sum(whole["amount"]).as_py(), 2),
        pc.sum(pc.utf8_length(whole["name"])).as_py(),
        pc.sum(pc.utf8_length(whole["note"])).as_py(),
        pc.count(whole["note"]).as_py(),
        pc.min(whole["at"]).as_py(),
        pc.max(whole["at"]).as_py(),
    )
    return {f.file_no: f.rows for f in files if f.rows}, sums


@pytest.fixture(scope="module")
def loaded(conn, tmp_path_factory):
    """The 500 small files loaded once with 4 workers: (files, table, result, statements)."""
    files = small_files(tmp_path_factory.mktemp("small"), SMALL)
    table = new_table(conn, f"BATCHED_{id(files)}")
    statements = Statements()
    loader = sl.Loader(conn, table, workers=WORKERS, progress="none", connect=statements.connect)
    result = loader.load([str(f.path) for f in files])
    return files, table, result, statements


def test_500_small_files_load_exactly_in_few_puts_and_copies(conn, loaded):
    files, table, result, statements = loaded

    assert result.ok, result.summary()
    assert [(f.path, f.status, f.rows_loaded) for f in result.files] == [(str(f.path), "loaded", f.rows) for f in files]
    assert result.rows_loaded == sum(f.rows for f in files)
    assert table_facts(conn, table) == expected_facts(files)
    assert values(conn, table) == expected_values(files)
    # Batches of about SMALL / WORKERS files: one PUT and one COPY each, not one per file, and
    # each batch's rows packed into one staged file.
    batches = math.ceil(SMALL / math.ceil(SMALL / WORKERS))
    assert 1 <= statements.count("PUT") <= batches
    assert 1 <= statements.count("COPY") <= batches
    assert all(".pack" in s for s in statements.sent if s.startswith(("PUT", "COPY")))


def test_a_rerun_of_the_500_sends_no_put_and_no_copy(conn, loaded):
    files, table, _, _ = loaded
    statements = Statements()

    again = sl.Loader(conn, table, workers=WORKERS, progress="none", connect=statements.connect).load(
        [str(f.path) for f in files]
    )

    assert [f.status for f in again.files] == ["skipped"] * SMALL
    assert statements.count("PUT") == statements.count("COPY") == 0
    assert table_facts(conn, table) == expected_facts(files)
    stage = sql.QualifiedName.parse(table).sibling(sql.STAGE_NAME)
    keys = {stage_key(source) for source in expand([str(f.path) for f in files])}
    staged = [name for name, *_ in conn.cursor().execute(sql.list_stage(stage)).fetchall()]
    assert [name for name in staged if any(key in name for key in keys)] == []  # nothing of theirs left staged


@pytest.mark.parametrize("route", ["packed", "file-by-file", "file-by-file-named"])
def test_a_bad_file_in_a_batch_fails_alone_with_its_line(conn, table, tmp_path, monkeypatch, route):
    """Packed, a rejected COPY is split in halves down to the bad file, which fails alone with its
    own line: a few COPYs, not one per file. File by file (compressed or Parquet files), the batch
    is copied again without the file the COPY's error names (Snowflake's errors name it: simulated
    here, as the embedded server's do not) or, when it names none, every file on its own."""
    import snowload_nb.batches as batches

    if route != "packed":
        monkeypatch.setattr(batches.Batch, "packed", property(lambda self: False))
    if route == "file-by-file-named":
        monkeypatch.setattr(
            batches, "_named", lambda error, members: next((m for m in members if m.source.path == bad), None)
        )
    good = small_files(tmp_path / "files", 30)
    bad = tmp_path / "files" / "bad.csv"
    row = "{},99,plain,1.5,2026-01-01 00:00:00,alpha\n"
    header = '"id","file_no","name","amount","at","note"\n'
    bad.write_text(header + row.format(9001) + row.format(9002) + row.replace("{}", "abc") + row.format(9003))
    files = [*good[:17], bad, *good[17:]]  # in the middle of its batch
    statements = Statements()

    result = sl.Loader(conn, table, workers=2, progress="none", connect=statements.connect).load(
        [str(getattr(f, "path", f)) for f in files]
    )

    statuses = {f.path: (f.status, f.rows_loaded) for f in result.files}
    assert statuses.pop(str(bad))[0] == "failed"
    assert statuses == {str(f.path): ("loaded", f.rows) for f in good}
    (failed,) = result.failed
    assert "line 4" in failed.error and "abc" in failed.error
    assert table_facts(conn, table) == expected_facts(good)
    assert values(conn, table) == expected_values(good)
    if route == "packed":  # two batches of ~16: the good one once, the bad one halved 4 times
        assert statements.count("COPY") <= 2 + 2 * math.ceil(math.log2(len(files)))
    elif route == "file-by-file-named":  # the batch, then the batch without the named file
        assert statements.count("COPY") == 3


def test_two_loads_of_the_same_small_files_at_once_load_each_file_once(table, tmp_path):
    """Two loads pack the same files at once: the second to claim their ledger slots finds them
    recorded by the first, loads nothing of them twice, and says which load had them."""
    import threading

    files = small_files(tmp_path / "files", 120)
    connections = [sl.connect_local(), sl.connect_local()]
    start = threading.Barrier(2)
    results = [None, None]

    def load(k):
        start.wait()
        results[k] = sl.Loader(connections[k], table, workers=3, progress="none").load([str(f.path) for f in files])

    threads = [threading.Thread(target=load, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert all(r.ok for r in results), [r.summary() for r in results]
    for n, f in enumerate(files):
        outcomes = sorted((r.files[n].status, r.files[n].rows_loaded) for r in results)
        assert outcomes == [("loaded", f.rows), ("skipped", 0)], (f.path.name, outcomes)
    assert table_facts(connections[0], table) == expected_facts(files)
    assert values(connections[0], table) == expected_values(files)


def test_a_packed_batch_whose_rows_do_not_add_up_loads_file_by_file(conn, table, tmp_path, monkeypatch):
    """The packed COPY's row count is checked against the files' own: when they differ, nothing of
    the packed COPY is kept and every file loads from its own staged file, exactly once."""
    import snowload_nb.batches as batches

    files = small_files(tmp_path / "files", 40)
    miscount = files[7].path.read_bytes().split(b"\n", 1)[1]
    real = batches.count_rows
    monkeypatch.setattr(batches, "count_rows", lambda text: real(text) + (text == miscount))
    statements = Statements()

    result = sl.Loader(conn, table, workers=1, progress="none", connect=statements.connect).load(
        [str(f.path) for f in files]
    )

    assert [(f.status, f.rows_loaded) for f in result.files] == [("loaded", f.rows) for f in files]
    assert table_facts(conn, table) == expected_facts(files)
    assert values(conn, table) == expected_values(files)
    puts = [s for s in statements.sent if s.startswith("PUT")]
    assert [".pack" in s for s in puts] == [True, False]  # the packed file, then each file of the batch


def test_big_files_go_in_parts_while_small_ones_share_batches(conn, table, tmp_path):
    big = generate_files(tmp_path / "big", (11_000_000, 9_000_000), prefix="big")
    first_id = sum(f.rows for f in big) + 1
    small = small_files(tmp_path / "small", 60, first_id=first_id)
    statements = Statements()
    everything = [*big, *small]

    result = sl.Loader(
        conn, table, workers=3, progress="none", part_size_mb=5, compression="none", connect=statements.connect
    ).load([str(f.path) for f in everything])

    assert result.ok, result.summary()
    assert [(f.status, f.rows_loaded) for f in result.files] == [("loaded", f.rows) for f in everything]
    assert table_facts(conn, table) == expected_facts(everything)
    puts = [s for s in statements.sent if s.startswith("PUT")]
    batch_puts = [s for s in puts if ".pack" in s]
    part_puts = [s for s in puts if ".pack" not in s]
    # Each big file in parts of at most 5 MB staged (uncompressed here), one PUT each; the 60
    # small files in batches.
    assert len(part_puts) >= sum(math.ceil(f.path.stat().st_size / 5_000_000) for f in big) >= 2 * len(big)
    assert 1 <= len(batch_puts) <= 3
    assert statements.count("COPY") == len(big) + len(batch_puts)
