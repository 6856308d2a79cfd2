"""Large files split into row-aligned parts: exact rows back, header in each part, determinism."""

from __future__ import annotations

import csv
import gzip
import io
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from conftest import Interceptor, table_facts

import snowload_nb as sl
from snowload_nb.compress import decompressing
from snowload_nb.dask_worker import _staged_files
from snowload_nb.errors import Cancelled, NotCsvText, Refused
from snowload_nb.parquet_parts import cut_parquet, repeating_columns
from snowload_nb.parts import split_csv
from snowload_nb.sql import Compression

HEADER = ["id", "file_no", "name", "amount", "at", "note"]
AWKWARD = ["plain", "a, b", 'say "hi"', "multi\nline", "crlf\r\ninside", '"', "", "ünïcødé", '""', "\n"]


def awkward_rows(count: int, seed: int = 1) -> list[list[str]]:
    rng = random.Random(seed)
    return [
        [str(i), "0", rng.choice(AWKWARD), f"{i / 4:.2f}", "2026-01-02 03:04:05", rng.choice(AWKWARD)]
        for i in range(1, count + 1)
    ]


def csv_bytes(rows: list[list[str]], line_end: str = "\r\n") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=line_end).writerows([HEADER, *rows])
    return buffer.getvalue().encode()


def read_parts(parts, compressed: bool) -> list[list[list[str]]]:
    out = []
    for part in parts:
        data = part.path.read_bytes()
        text = (gzip.decompress(data) if compressed else data).decode()
        out.append(list(csv.reader(io.StringIO(text, newline=""))))
    return out


@pytest.mark.parametrize(("part_size", "chunk_size"), [(1, 7), (500, 64), (5000, 1000), (10**9, 4096)])
def test_parts_end_at_row_boundaries_and_repeat_the_header(tmp_path, part_size, chunk_size):
    rows = awkward_rows(3000)
    data = csv_bytes(rows)
    parts = list(split_csv(io.BytesIO(data), tmp_path, "x", part_size=part_size, level=None, chunk_size=chunk_size))

    contents = read_parts(parts, compressed=False)
    assert all(part[0] == HEADER for part in contents)
    assert all(len(part) > 1 for part in contents)  # no part is only a header
    assert [row for part in contents for row in part[1:]] == rows
    assert sum(p.source_bytes for p in parts) == len(data)
    assert [p.number for p in parts] == list(range(1, len(parts) + 1))
    if part_size == 10**9:
        assert len(parts) == 1  # a file smaller than a part is one part
    else:
        assert len(parts) > 1


def test_gzip_parts_hold_the_same_rows(tmp_path):
    rows = awkward_rows(40_000)
    data = csv_bytes(rows, line_end="\n")
    parts = list(split_csv(io.BytesIO(data), tmp_path, "x", part_size=100_000, level=1))
    assert len(parts) > 1
    assert [row for part in read_parts(parts, compressed=True) for row in part[1:]] == rows


def test_same_input_gives_the_same_bytes_and_names(tmp_path):
    data = csv_bytes(awkward_rows(20_000))
    runs = []
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        parts = list(split_csv(io.BytesIO(data), folder, "events", part_size=50_000, level=1))
        runs.append([(p.path.name, p.path.read_bytes()) for p in parts])
    assert runs[0] == runs[1]
    assert runs[0][0][0] == "events.0001.csv.gz"


def test_a_file_with_only_a_header_yields_no_part(tmp_path):
    assert list(split_csv(io.BytesIO(b"id,name\n"), tmp_path, "x", part_size=1, level=1)) == []
    assert list(split_csv(io.BytesIO(b"id,name"), tmp_path, "x", part_size=1, level=1)) == []


def test_a_last_row_without_newline_is_kept(tmp_path):
    parts = list(split_csv(io.BytesIO(b'id,name\n1,"a\nb"\n2,c'), tmp_path, "x", part_size=1, level=None))
    assert [row for part in read_parts(parts, compressed=False) for row in part[1:]] == [["1", "a\nb"], ["2", "c"]]


# part_size_mb counts staged bytes: these awkward rows gzip to about an eighth of their size.
@pytest.mark.parametrize(("compression", "part_size_mb"), [("gzip", 0.05), ("none", 0.2)])
def test_a_multi_part_file_loads_exactly_its_rows(conn, table, tmp_path, compression, part_size_mb, monkeypatch):
    monkeypatch.setattr(sl.loader, "MIN_PART_SIZE_MB", 0.01)  # parts of a small file, to keep the test quick
    rows = awkward_rows(30_000)
    path = tmp_path / "awkward.csv"
    path.write_bytes(csv_bytes(rows))
    puts = []
    sessions = Interceptor(lambda statement: puts.append(statement) if statement.startswith("PUT") else None)
    loader = sl.Loader(
        conn, table, workers=2, progress="none", part_size_mb=part_size_mb, compression=compression, connect=sessions
    )
    result = loader.load([str(path)])

    assert result.ok, result.files
    assert len(puts) > 1  # really split: one PUT a part
    assert result.rows_loaded == len(rows)
    got = conn.cursor().execute(f'SELECT "ID", "NAME", "NOTE" FROM "{table}" ORDER BY "ID"').fetchall()
    assert got == [(int(r[0]), r[2] or None, r[5] or None) for r in rows]


def test_a_bad_row_in_a_late_part_leaves_the_table_untouched(conn, table, tmp_path, monkeypatch):
    monkeypatch.setattr(sl.loader, "MIN_PART_SIZE_MB", 0.01)  # parts of a small file, to keep the test quick
    rows = awkward_rows(30_000)
    rows[-5][0] = "not-a-number"
    path = tmp_path / "late-bad.csv"
    path.write_bytes(csv_bytes(rows))
    puts = []
    sessions = Interceptor(lambda statement: puts.append(statement) if statement.startswith("PUT") else None)
    loader = sl.Loader(conn, table, progress="none", part_size_mb=0.2, compression="none", connect=sessions)
    result = loader.load([str(path)])

    assert len(puts) > 1  # the bad row is in a later part than the first
    assert [f.status for f in result.files] == ["failed"]
    assert "not-a-number" in result.files[0].error
    assert table_facts(conn, table) == (0, 0, 0)  # all or nothing


def test_compressed_inputs_are_staged_as_they_are(conn, table, tmp_path):
    rows = awkward_rows(2000)
    gz = tmp_path / "rows.csv.gz"
    gz.write_bytes(gzip.compress(csv_bytes(rows), mtime=0))
    parquet = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"id": [int(r[0]) + 10_000 for r in rows], "name": [r[2] for r in rows]}), parquet)

    result = sl.Loader(conn, table, progress="none").load([str(gz), str(parquet)])

    # each went up byte for byte: its staged size is its size on disk
    assert [(f.status, f.rows_loaded, f.staged_bytes) for f in result.files] == [
        ("loaded", len(rows), gz.stat().st_size),
        ("loaded", len(rows), parquet.stat().st_size),
    ]
    got = conn.cursor().execute(f'SELECT "ID", "NAME", "NOTE" FROM "{table}" ORDER BY "ID"').fetchall()
    from_csv = [(int(r[0]), r[2] or None, r[5] or None) for r in rows]
    from_parquet = [(int(r[0]) + 10_000, r[2], None) for r in rows]  # matched by name; NOTE is not in it
    assert got == from_csv + from_parquet


def test_a_parquet_file_cut_in_slices_holds_its_rows_schema_and_size(tmp_path):
    """Read back in order, the slices are the file: same schema (its pandas metadata too), same
    rows; each slice counts its share of the file's bytes, and the shares add up to the file."""
    table = pa.table({"n": list(range(50_000)), "s": [f"v{i * 7919 % 10007}" for i in range(50_000)]})
    table = table.replace_schema_metadata({b"pandas": b"{}"})
    source = tmp_path / "f.parquet"
    pq.write_table(table, source, compression="gzip")
    out = tmp_path / "out"
    out.mkdir()

    parts = list(cut_parquet(source, out, "f", max_bytes=lambda: source.stat().st_size // 4))

    assert len(parts) >= 4 and [p.number for p in parts] == list(range(1, len(parts) + 1))
    assert sum(p.source_bytes for p in parts) == source.stat().st_size
    slices = [pq.read_table(p.path) for p in parts]
    assert pa.concat_tables(slices).equals(table) and slices[0].schema.metadata == table.schema.metadata
    assert pq.ParquetFile(parts[0].path).metadata.row_group(0).column(0).compression == "GZIP"


def test_a_parquet_file_that_fits_goes_whole_and_one_that_cannot_be_read_is_refused(tmp_path):
    source = tmp_path / "f.parquet"
    pq.write_table(pa.table({"n": [1, 2, 3]}), source)
    assert [p.path for p in cut_parquet(source, tmp_path, "f", max_bytes=lambda: 1 << 20)] == [source]

    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(Refused, match="cannot read it as Parquet"):
        list(cut_parquet(broken, tmp_path, "broken", max_bytes=lambda: 4))


def test_cutting_a_parquet_file_stops_when_the_load_is_cancelled(tmp_path):
    source = tmp_path / "f.parquet"
    pq.write_table(pa.table({"n": list(range(10_000))}), source)
    with pytest.raises(Cancelled):
        list(cut_parquet(source, tmp_path, "f", max_bytes=lambda: 1_000, cancelled=lambda: True))


def packed(data: bytes, compression: Compression) -> bytes:
    """`data` in two gzip members or zstd frames, as parallel compressors write it."""
    half = len(data) // 2
    if compression is Compression.GZIP:
        return gzip.compress(data[:half]) + gzip.compress(data[half:])
    return zstandard.ZstdCompressor().compress(data[:half]) + zstandard.ZstdCompressor().compress(data[half:])


@pytest.mark.parametrize("compression", [Compression.GZIP, Compression.ZSTD])
def test_a_compressed_csv_is_read_as_written_every_member_and_frame(compression):
    data = b"id,name\n" + b"".join(b"%d,row %d\n" % (i, i) for i in range(20_000))
    raw = io.BytesIO(packed(data, compression))
    with decompressing(raw, compression) as stream:
        assert b"".join(iter(lambda: stream.read(1000), b"")) == data
    assert raw.tell() == len(raw.getvalue())  # read to its end: progress counts the file's own bytes


@pytest.mark.parametrize("compression", [Compression.GZIP, Compression.ZSTD])
def test_a_bad_byte_in_a_compressed_csv_is_named_by_its_line(tmp_path, compression):
    lines = [b"id,name\n"] + [b"%d,row %d\n" % (i, i) for i in range(30_000)]
    lines[25_000] = b"25000,caf\xe9\n"  # Latin-1, in the second member or frame
    raw = io.BytesIO(packed(b"".join(lines), compression))
    with (
        decompressing(raw, compression) as stream,
        pytest.raises(NotCsvText, match=r"^line 25001: bytes that are not UTF-8"),
    ):
        list(split_csv(stream, tmp_path, "f", part_size=1 << 20, level=1, chunk_size=4096))


def test_slices_of_mostly_distinct_values_carry_no_dictionary_and_stay_the_files_size(tmp_path):
    """Each slice would pay again for a dictionary that a column of distinct values fills and
    abandons (dictionary everywhere, these slices held 11% more than the file): only a column
    whose values repeat keeps one, and the slices together are no bigger than the file."""
    rows = 200_000
    ids = list(range(rows))
    table = pa.table(
        {"ID": ids, "NOTE": [f"{i * 2654435761 % 2**32:x}" for i in ids], "NAME": [f"name {i % 1000}" for i in ids]}
    )
    assert repeating_columns(table) == ["NAME"]
    source = tmp_path / "f.parquet"
    pq.write_table(table, source)
    out = tmp_path / "out"
    out.mkdir()

    parts = list(cut_parquet(source, out, "f", max_bytes=lambda: source.stat().st_size // 8))

    assert len(parts) >= 8 and sum(p.staged_bytes for p in parts) <= source.stat().st_size
    assert pa.concat_tables(pq.read_table(p.path) for p in parts).equals(table)


def test_slices_grow_when_the_link_turns_out_faster(tmp_path):
    """The slice size is asked as each slice starts: once a PUT has shown a fast link, the rest of
    the file goes in fewer, bigger slices instead of the cold guess's many small ones."""
    source = tmp_path / "f.parquet"
    pq.write_table(pa.table({"n": list(range(100_000))}), source)
    size = source.stat().st_size
    asked = iter([size // 10, size // 10, size // 10])  # cold: a tenth each, then the link is fast

    parts = list(cut_parquet(source, tmp_path, "f", max_bytes=lambda: next(asked, size * 2)))

    assert len(parts) == 3, [p.staged_bytes for p in parts]
    assert pa.concat_tables(pq.read_table(p.path) for p in parts).column("n").to_pylist() == list(range(100_000))


def test_a_dask_workers_chunks_go_whole_or_in_slices_by_the_link(tmp_path):
    """A chunk one PUT can carry, or any for a server on the notebook's machine (None), goes up
    as it is; a bigger one in slices of its rows, each numbered after its chunk."""
    small, big = tmp_path / "chunk_00000.parquet", tmp_path / "chunk_00001.parquet"
    pq.write_table(pa.table({"n": list(range(100))}), small)
    pq.write_table(pa.table({"n": [i * 7919 for i in range(200_000)]}), big)

    assert [p.path for p in _staged_files([small, big], tmp_path, None)] == [small, big]
    pieces = list(_staged_files([small, big], tmp_path, big.stat().st_size // 3))
    assert pieces[0].path == small and len(pieces) >= 4
    assert all(p.path.name.startswith("chunk_00001.") for p in pieces[1:])
    assert pa.concat_tables(pq.read_table(p.path) for p in pieces[1:]).column("n").to_pylist() == [
        i * 7919 for i in range(200_000)
    ]
