"""The embedded server's connections: what connect_local sets up for the user."""

from __future__ import annotations

import datetime
import decimal
import gzip

import pytest
import snowflake.connector.connection as connector
from snowflake.connector.constants import FIELD_ID_TO_NAME

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


def _put_gzip_part(conn, folder):
    part = folder / "part_0001"  # a name that says nothing of what is in it
    part.write_bytes(gzip.compress(b"A,B\n1,2\n"))
    cursor = conn.cursor()
    cursor.execute('CREATE STAGE IF NOT EXISTS "PUT_ANSWERS"')
    cursor.execute(
        f"PUT 'file://{part}' @\"PUT_ANSWERS\"/x AUTO_COMPRESS = FALSE SOURCE_COMPRESSION = GZIP OVERWRITE = TRUE"
    )
    return cursor.fetchall()


def test_a_put_of_a_part_is_staged_with_the_compression_its_statement_names(conn, tmp_path):
    """Snowflake's answer to a PUT carries its options back; fakesnow's said `auto_detect`, so the
    connector guessed the compression from the file's name and staged this gzip part as NONE."""
    ((source, _, _, _, source_compression, target_compression, status, _),) = _put_gzip_part(conn, tmp_path)
    assert (source, source_compression, target_compression, status) == ("part_0001", "GZIP", "GZIP", "UPLOADED")


def test_a_put_with_overwrite_reads_its_file_once(conn, tmp_path, monkeypatch):
    """fakesnow's answer said no overwrite, so connector 4.x read every part twice for its checksum,
    once to ask whether it was on the stage already. (5.x reads files in its Rust core.)"""
    file_util = pytest.importorskip("snowflake.connector.file_util")
    reads = []
    digest = file_util.SnowflakeFileUtil.get_digest_and_size_for_file
    monkeypatch.setattr(
        file_util.SnowflakeFileUtil, "get_digest_and_size_for_file", lambda path: reads.append(path) or digest(path)
    )
    _put_gzip_part(conn, tmp_path)
    assert len(reads) == 1


EVERY_TYPE = """SELECT 1::NUMBER(38,0) AS "N", 1.25::NUMBER(10,2) AS "D", 'x' AS "S", TRUE AS "B",
    1.5::FLOAT AS "F", '2024-01-02'::DATE AS "DT", '10:11:12'::TIME AS "TM",
    '2024-01-02 03:04:05'::TIMESTAMP_NTZ AS "TS", '2024-01-02 03:04:05 +01:00'::TIMESTAMP_TZ AS "TZ",
    PARSE_JSON('{"a": 1}') AS "V", NULL AS "Z", TO_BINARY('ABCD', 'HEX') AS "BI" """


@pytest.mark.parametrize(
    ("statement", "described"),
    [
        (
            EVERY_TYPE,
            [
                ("N", "FIXED", 38, 0, int),
                ("D", "FIXED", 10, 2, decimal.Decimal),
                ("S", "TEXT", None, None, str),
                ("B", "BOOLEAN", None, None, bool),
                ("F", "REAL", None, None, float),
                ("DT", "DATE", None, None, datetime.date),
                ("TM", "TIME", 0, 9, datetime.time),
                ("TS", "TIMESTAMP_NTZ", 0, 9, datetime.datetime),
                ("TZ", "TIMESTAMP_TZ", 0, 9, datetime.datetime),
                ("V", "VARIANT", None, None, str),
                ("Z", "TEXT", None, None, type(None)),
                ("BI", "BINARY", None, None, bytearray),
            ],
        ),
        ('SELECT COUNT(*) AS "ROWS" FROM "DESCRIBED"', [("ROWS", "FIXED", 38, 0, int)]),
        (
            'UPDATE "DESCRIBED" SET "B" = \'q\' WHERE "A" = 1',
            [
                ("number of rows updated", "FIXED", 38, 0, int),
                ("number of multi-joined rows updated", "FIXED", 38, 0, int),
            ],
        ),
        ('CREATE OR REPLACE TABLE "DESCRIBED_TOO" ("A" INT)', [("status", "TEXT", None, None, str)]),
    ],
    ids=["every type", "count", "update", "create"],
)
def test_results_are_described_by_the_types_they_have(conn, statement, described):
    """The server describes a result by the types it ran with, not by running the statement
    again as DESCRIBE (a quarter of its busy time in a load); the types must be Snowflake's all the same."""
    cursor = conn.cursor()
    cursor.execute('CREATE OR REPLACE TABLE "DESCRIBED" ("A" NUMBER(38,0), "B" VARCHAR)')
    cursor.execute("INSERT INTO \"DESCRIBED\" VALUES (1, 'x'), (2, 'y')")
    (row,) = cursor.execute(statement).fetchall()
    seen = [
        (d.name, FIELD_ID_TO_NAME[d.type_code], d.precision, d.scale, type(v))
        for d, v in zip(cursor.description, row, strict=True)
    ]
    assert seen == described
