"""The embedded server's connections: what connect_local sets up for the user."""

from __future__ import annotations

import pytest
import snowflake.connector.connection as connector

import snowload_nb as sl


def test_the_current_database_and_schema_are_ready(conn):
    row = conn.cursor().execute("SELECT CURRENT_DATABASE(), CURRENT_SCHEMA()").fetchone()
    assert row == ("SNOWLOAD", "PUBLIC")


def test_connections_to_loopback_do_not_probe_cloud_metadata(conn):
    """Each probe of AWS, GCP and Azure costs a connect about 65 ms, and the first one 10 MB."""
    if "platform_detection_timeout_seconds" not in connector.DEFAULT_CONFIGURATION:
        pytest.skip("this connector has no platform_detection_timeout_seconds: no cloud probes to turn off")
    session = sl.connect_local()
    try:
        assert conn.platform_detection_timeout_seconds == 0.0
        assert session.platform_detection_timeout_seconds == 0.0
    finally:
        session.close()


def test_a_null_timestamp_reads_back_as_null(conn):
    """fakesnow alone sends it as 1970-01-01 to connector 4.x, and as a result 5.x rejects outright."""
    cursor = conn.cursor()
    cursor.execute('CREATE OR REPLACE TABLE "NULL_TIMES" ("N" TIMESTAMP_NTZ, "Z" TIMESTAMP_TZ, "K" INT)')
    moment = "'2026-01-02 03:04:05'"
    cursor.execute(f'INSERT INTO "NULL_TIMES" VALUES (NULL, NULL, 1), ({moment}, {moment}, 2)')
    rows = cursor.execute('SELECT "N", "Z" FROM "NULL_TIMES" ORDER BY "K"').fetchall()
    assert rows[0] == (None, None)
    assert rows[1][0].isoformat() == "2026-01-02T03:04:05"
    assert rows[1][1].isoformat() == "2026-01-02T03:04:05+00:00"
