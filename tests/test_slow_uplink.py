"""A slow uplink and big parts: the connector must be able to send each part within its timeout.

The connector writes a PUT's body on a socket whose timeout is its connect timeout (10 s) and
Python's sendall holds to that in total, so a part the link cannot take in time fails, and fails
again on every retry. Here that timeout is shortened to 1 s (the connector's own constant, which
snowload_nb reads too), so a 16 MB file shows it on a 20 Mbit/s link in seconds, not minutes.
"""

from __future__ import annotations

import datetime
import decimal
import gzip
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from conftest import Interceptor, expected_facts, table_facts
from snowflake.connector import storage_client
from tcp_proxy import TcpProxy

import snowload_nb as sl
from snowload_nb import loader as loader_module
from snowload_nb import sql
from snowload_nb.codec_plan import COLD_LINK, SEND_SHARE
from snowload_nb.demo import DEMO_COLUMNS, write_csv
from snowload_nb.parts import CHUNK_SIZE

SEND_TIMEOUT = 1
ROWS = 400_000  # 17 MB of Parquet: loopback buffers take a few MB of a PUT at once, so it must be big


def over_the_link(server, table: str, paths: list[str], **options) -> tuple[sl.LoadResult, list[int]]:
    """A one-worker load through a proxy at the cold link's rate, and the bytes of each file it PUT."""
    puts: list[int] = []

    def before(statement: str) -> None:
        if statement.startswith("PUT 'file://"):
            puts.append(os.path.getsize(statement.split("'")[1].removeprefix("file://")))

    proxy = TcpProxy(server.port, rate=COLD_LINK).start()
    try:
        sessions = Interceptor(before, server.connect_kwargs() | {"port": proxy.port})
        result = sl.Loader(sessions(), table, progress="none", workers=1, connect=sessions, **options).load(paths)
    finally:
        proxy.stop()
    return result, puts


@pytest.mark.parametrize("compression", ["none", "auto"])
def test_a_big_file_over_a_slow_uplink_goes_in_parts_each_sent_in_time(
    conn, server, tmp_path, monkeypatch, compression
):
    monkeypatch.setattr(storage_client, "REQUEST_CONNECTION_TIMEOUT", SEND_TIMEOUT)
    source = write_csv(tmp_path / "big.csv", 0, 1, 280_000)  # 16 MB of CSV
    table = f"UPLINK_{compression.upper()}_{os.getpid()}"
    conn.cursor().execute(sql.create_table(sql.QualifiedName.parse(table), DEMO_COLUMNS))
    result, parts = over_the_link(server, table, [str(source.path)], compression=compression)

    assert result.ok, result.summary()
    assert table_facts(conn, table) == expected_facts([source])
    largest = COLD_LINK * SEND_TIMEOUT * SEND_SHARE + CHUNK_SIZE + 1_000  # cut at the end of a chunk's row
    assert len(parts) > 1 and max(parts) <= largest, parts


def awkward_parquet(path, rows: int) -> None:
    """A Parquet file of every kind of value a slice must carry as it is: nulls, decimals, dates,
    INT96 timestamps (as Spark writes them), text that does not compress; zstd, not pyarrow's
    default codec."""
    rng = np.random.default_rng(3)
    null = rng.random(rows) < 0.1
    table = pa.table(
        {
            "ID": pa.array(np.arange(rows)),
            "AMOUNT": pa.array(rng.normal(size=rows) * 1e6, mask=null),
            "PRICE": pa.array(
                [decimal.Decimal(int(v)).scaleb(-4) for v in rng.integers(-(10**12), 10**12, rows)],
                pa.decimal128(18, 4),
            ),
            "DAY": pa.array(
                [datetime.date(2000, 1, 1) + datetime.timedelta(days=int(d)) for d in rng.integers(0, 20_000, rows)]
            ),
            "AT": pa.array(rng.integers(0, 10**18, rows).astype("datetime64[ns]")),
            "OK": pa.array(rng.random(rows) < 0.5, mask=rng.random(rows) < 0.1),
            "NOTE": pa.array(
                [None if n else f"{v:x}" for n, v in zip(null, rng.integers(0, 1 << 62, rows), strict=True)]
            ),
        }
    )
    pq.write_table(table, path, compression="zstd", use_deprecated_int96_timestamps=True)


def test_a_parquet_file_over_a_slow_uplink_goes_in_slices_with_every_value_as_written(
    conn, server, tmp_path, monkeypatch
):
    """Staged whole, the file's PUT could not go out within the send timeout and would fail on
    every retry: it goes in slices of rows instead. What they load equals what the file loads
    whole, value for value, and a re-run that sends the file whole finds it already loaded."""
    monkeypatch.setattr(storage_client, "REQUEST_CONNECTION_TIMEOUT", SEND_TIMEOUT)
    monkeypatch.setattr(loader_module, "is_loopback", lambda host: False)  # behind a link, as a real server is
    source = tmp_path / "awkward.parquet"
    awkward_parquet(source, ROWS)
    assert source.stat().st_size > 5 * COLD_LINK * SEND_TIMEOUT  # whole, its PUT fails every retry
    cut, whole = f"SLICED_{os.getpid()}", f"WHOLE_{os.getpid()}"
    result, parts = over_the_link(server, cut, [str(source)], create_table=True)

    assert result.ok, result.summary()
    assert len(parts) > 1 and max(parts) <= COLD_LINK * SEND_TIMEOUT * SEND_SHARE * 1.2, parts
    monkeypatch.undo()  # the embedded server as it is: on these cores, so the file goes whole
    assert sl.Loader(conn, whole, progress="none", create_table=True).load([str(source)]).ok
    names = [sql.QualifiedName.parse(t).sql for t in (cut, whole)]
    cursor = conn.cursor()
    for a, b in (names, names[::-1]):
        assert cursor.execute(f"SELECT COUNT(*) FROM (SELECT * FROM {a} EXCEPT SELECT * FROM {b})").fetchone() == (0,)
    assert cursor.execute(f'SELECT COUNT(*), SUM("ID") FROM {names[0]}').fetchone() == (ROWS, sum(range(ROWS)))

    again = sl.Loader(conn, cut, progress="none").load([str(source)])
    assert [f.status for f in again.files] == ["skipped"] and again.rows_loaded == 0, again.files
    assert cursor.execute(f"SELECT COUNT(*) FROM {names[0]}").fetchone() == (ROWS,)


def compressed_copy(source, path, codec: str) -> None:
    """`source` compressed in two gzip members or zstd frames (as parallel compressors write),
    barely compressed, so that whole the file is too big for the link."""
    data = source.read_bytes()
    half = len(data) // 2
    if codec == "gzip":
        pieces = [gzip.compress(data[:half], compresslevel=0), gzip.compress(data[half:], compresslevel=0)]
    else:
        packer = zstandard.ZstdCompressor(level=-50)
        pieces = [packer.compress(data[:half]), packer.compress(data[half:])]
    path.write_bytes(b"".join(pieces))


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
def test_a_compressed_csv_over_a_slow_uplink_is_read_as_written_and_goes_in_parts(
    conn, server, tmp_path, monkeypatch, codec
):
    """Staged whole, the compressed file's PUT could not go out within the send timeout: it is
    decompressed, split at row ends and compressed again part by part, every member or frame of
    it loaded; a re-run that stages it whole finds it already loaded."""
    monkeypatch.setattr(storage_client, "REQUEST_CONNECTION_TIMEOUT", SEND_TIMEOUT)
    monkeypatch.setattr(loader_module, "is_loopback", lambda host: False)  # behind a link, as a real server is
    generated = write_csv(tmp_path / "big.csv", 0, 1, 280_000)  # 16 MB of CSV
    source = tmp_path / f"big.csv.{'gz' if codec == 'gzip' else 'zst'}"
    compressed_copy(generated.path, source, codec)
    assert source.stat().st_size > 5 * COLD_LINK * SEND_TIMEOUT  # whole, its PUT fails every retry
    table = f"PACKED_{codec.upper()}_{os.getpid()}"
    conn.cursor().execute(sql.create_table(sql.QualifiedName.parse(table), DEMO_COLUMNS))
    result, parts = over_the_link(server, table, [str(source)])

    assert result.ok, result.summary()
    assert table_facts(conn, table) == expected_facts([generated])
    assert len(parts) > 1 and max(parts) <= COLD_LINK * SEND_TIMEOUT * SEND_SHARE + CHUNK_SIZE + 1_000, parts
    monkeypatch.undo()
    again = sl.Loader(conn, table, progress="none").load([str(source)])
    assert [f.status for f in again.files] == ["skipped"] and again.rows_loaded == 0, again.files
    assert table_facts(conn, table) == expected_facts([generated])


def test_small_files_over_a_slow_uplink_are_packed_no_bigger_than_a_put_can_carry(conn, server, tmp_path, monkeypatch):
    """Small CSV files share packed batches, one staged file each; over a slow link a batch holds
    no more than one PUT can send within the send timeout (130 files of 100 KB, plain: one
    13 MB pack before, which failed every retry)."""
    monkeypatch.setattr(storage_client, "REQUEST_CONNECTION_TIMEOUT", SEND_TIMEOUT)
    monkeypatch.setattr(loader_module, "is_loopback", lambda host: False)  # behind a link, as a real server is
    files = [write_csv(tmp_path / f"small_{n:03d}.csv", n, n * 1_750, 1_750) for n in range(130)]
    assert sum(f.path.stat().st_size for f in files) > 5 * COLD_LINK * SEND_TIMEOUT
    table = f"PACKS_{os.getpid()}"
    conn.cursor().execute(sql.create_table(sql.QualifiedName.parse(table), DEMO_COLUMNS))
    result, puts = over_the_link(server, table, [str(f.path) for f in files], compression="none")

    assert result.ok, result.summary()
    assert table_facts(conn, table) == expected_facts(files)
    assert 1 < len(puts) < len(files) and max(puts) <= COLD_LINK * SEND_TIMEOUT * SEND_SHARE, puts
