"""A slow uplink and big parts: the connector must be able to send each part within its timeout.

The connector writes a PUT's body on a socket whose timeout is its connect timeout (10 s) and
Python's sendall holds to that in total, so a part the link cannot take in time fails, and fails
again on every retry. Here that timeout is shortened to 1 s (the connector's own constant, which
snowload_nb reads too), so a 16 MB file shows it on a 20 Mbit/s link in seconds, not minutes.
"""

from __future__ import annotations

import os

import pytest
from conftest import Interceptor, expected_facts, table_facts
from snowflake.connector import storage_client
from tcp_proxy import TcpProxy

import snowload_nb as sl
from snowload_nb import sql
from snowload_nb.codec_plan import COLD_LINK, SEND_SHARE
from snowload_nb.demo import DEMO_COLUMNS, write_csv
from snowload_nb.parts import CHUNK_SIZE

SEND_TIMEOUT = 1


@pytest.mark.parametrize("compression", ["none", "auto"])
def test_a_big_file_over_a_slow_uplink_goes_in_parts_each_sent_in_time(
    conn, server, tmp_path, monkeypatch, compression
):
    monkeypatch.setattr(storage_client, "REQUEST_CONNECTION_TIMEOUT", SEND_TIMEOUT)
    source = write_csv(tmp_path / "big.csv", 0, 1, 280_000)  # 16 MB of CSV
    table = f"UPLINK_{compression.upper()}_{os.getpid()}"
    conn.cursor().execute(sql.create_table(sql.QualifiedName.parse(table), DEMO_COLUMNS))
    parts: list[int] = []

    def before(statement: str) -> None:
        if statement.startswith("PUT 'file://"):
            parts.append(os.path.getsize(statement.split("'")[1].removeprefix("file://")))

    proxy = TcpProxy(server.port, rate=COLD_LINK).start()
    try:
        sessions = Interceptor(before, server.connect_kwargs() | {"port": proxy.port})
        result = sl.Loader(
            sessions(), table, progress="none", workers=1, connect=sessions, compression=compression
        ).load([str(source.path)])
    finally:
        proxy.stop()

    assert result.ok, result.summary()
    assert table_facts(conn, table) == expected_facts([source])
    largest = COLD_LINK * SEND_TIMEOUT * SEND_SHARE + CHUNK_SIZE + 1_000  # cut at the end of a chunk's row
    assert len(parts) > 1 and max(parts) <= largest, parts
