"""DataFrames: exact round trips through the embedded server, table creation, chunking, bad frames."""

from __future__ import annotations

import datetime
import decimal
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import Interceptor, leftover_threads

import snowload_nb as sl
from snowload_nb import loader as loader_module
from snowload_nb.frames import FrameError

AWKWARD_TEXT = ["plain", 'say "hi", then go', "multi\nline\r\nend", "ünïcødé 日本語 🙂", "", None]


def every_type(rows: int) -> pd.DataFrame:
    """One column per type load_dataframe supports, each with nulls, and awkward names."""
    rng = np.random.default_rng(1)
    null = rng.random(rows) < 0.2
    ints = pd.array(rng.integers(-(10**12), 10**12, rows), dtype="Int64")
    ints[null] = pd.NA
    flags = pd.array(rng.random(rows) < 0.5, dtype="boolean")
    flags[rng.random(rows) < 0.2] = pd.NA
    floats = rng.normal(size=rows) * 1e6
    floats[rng.random(rows) < 0.2] = np.nan
    when = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 10**15, rows), unit="us")
    return pd.DataFrame(
        {
            "row": np.arange(rows),  # plain int64, to sort what comes back
            "Mixed Case Count": ints,
            "ratio": floats,
            "is_ok": flags,
            "Note Text": [AWKWARD_TEXT[i % len(AWKWARD_TEXT)] for i in range(rows)],
            "day": [
                None if n else datetime.date(2000, 1, 1) + datetime.timedelta(days=int(d))
                for n, d in zip(null, rng.integers(0, 9000, rows), strict=True)
            ],
            "naive_ts": pd.Series(when).where(~null),
            "aware_ts": pd.Series(when.tz_localize("UTC").tz_convert("America/New_York")).where(~null),
            "price": [
                None if n else decimal.Decimal(int(v)).scaleb(-2)
                for n, v in zip(null, rng.integers(-(10**9), 10**9, rows), strict=True)
            ],
            "payload": [None if n else bytes(rng.integers(0, 256, 5, dtype=np.uint8)) for n in null],
            "ÅNGSTRÖM": [f"値{i}" for i in range(rows)],
        }
    )


def plain(value):
    """A value as Python sees it, with every kind of missing value as None, instants in UTC."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC").to_pydatetime() if value.tzinfo else value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def column_values(frame: pd.DataFrame, name: str) -> list:
    return [plain(v) for v in frame[name].astype(object)]


def test_every_type_round_trips_exactly(conn):
    df = every_type(3000)
    result = sl.Loader(conn, "ROUND_TRIP", progress="none", create_table=True).load_dataframe(df, chunk_rows=700)

    assert result.ok and result.rows_loaded == len(df)
    assert len(result.files) == 5
    back = conn.cursor().execute('SELECT * FROM "ROUND_TRIP" ORDER BY "row"').fetch_pandas_all()
    assert list(back.columns) == list(df.columns)  # names exactly: case, spaces, non-ASCII
    # The embedded server hands a NULL timestamp back as 1970-01-01 (its result conversion, not the
    # load: IS NULL holds in the table). Where it says NULL, take its word.
    nulls = (
        conn.cursor()
        .execute('SELECT "naive_ts" IS NULL, "aware_ts" IS NULL FROM "ROUND_TRIP" ORDER BY "row"')
        .fetchall()
    )
    for k, name in enumerate(("naive_ts", "aware_ts")):
        back[name] = back[name].astype(object).where([not row[k] for row in nulls], None)
    for name in df.columns:
        assert column_values(back, name) == column_values(df, name), name


def test_the_table_is_created_with_the_frames_types():
    conn = sl.connect_local()
    df = every_type(10)
    sl.Loader(conn, "TYPED", progress="none", create_table=True).load_dataframe(df)
    described = {row[0]: row[1] for row in conn.cursor().execute('DESCRIBE TABLE "TYPED"').fetchall()}
    assert {name: kind.split("(")[0] for name, kind in described.items()} == {
        "row": "NUMBER", "Mixed Case Count": "NUMBER", "ratio": "FLOAT", "is_ok": "BOOLEAN",
        "Note Text": "VARCHAR", "day": "DATE", "naive_ts": "TIMESTAMP_NTZ", "aware_ts": "TIMESTAMP_TZ",
        "price": "NUMBER", "payload": "BINARY", "ÅNGSTRÖM": "VARCHAR",
    }  # fmt: skip


def test_an_arrow_table_loads_like_a_frame(conn):
    table = pa.table({"k": pa.array([1, 2, None]), "v": pa.array(["x", None, "z"])})
    result = sl.Loader(conn, "FROM_ARROW", progress="none", create_table=True).load_dataframe(table)
    assert result.ok
    rows = conn.cursor().execute('SELECT "k", "v" FROM "FROM_ARROW" ORDER BY "k" NULLS LAST').fetchall()
    assert rows == [(1, "x"), (2, None), (None, "z")]


def test_an_empty_frame_is_a_clear_result_not_an_error(conn):
    df = every_type(5).iloc[0:0]
    result = sl.Loader(conn, "EMPTY_FRAME", progress="none", create_table=True).load_dataframe(df)
    assert result.ok and result.rows_loaded == 0 and result.files == []
    assert result.summary().startswith("Done: 0 rows into EMPTY_FRAME")
    assert conn.cursor().execute('SELECT COUNT(*) FROM "EMPTY_FRAME"').fetchone() == (0,)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame(), "the DataFrame has no columns"),
        (pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"]), "duplicate column names: 'a'"),
        (pd.DataFrame({"ok": [1], "wait": pd.to_timedelta([1], unit="s")}), "column 'wait' has type duration"),
        (pd.DataFrame({"ok": [1], "tags": [[1, 2]]}), "column 'tags' has type list"),
        (pd.DataFrame({"ok": [1], "mixed": [object()]}), "column 'mixed'"),
    ],
)
def test_frames_that_cannot_load_are_refused_before_any_work(conn, frame, message, private_tmp):
    with pytest.raises(FrameError, match=message):
        sl.Loader(conn, "NEVER", progress="none", create_table=True).load_dataframe(frame)
    assert list(private_tmp.iterdir()) == []


def test_chunks_load_all_or_nothing(conn, private_tmp):
    conn.cursor().execute('CREATE TABLE "CHUNKED" ("n" NUMBER(38,0), "label" VARCHAR)')
    good = pd.DataFrame({"n": [str(i) for i in range(1000)], "label": ["x"] * 1000})
    bad = good.copy()
    bad.loc[870, "n"] = "not-a-number"  # in the ninth of ten chunks

    failed = sl.Loader(conn, "CHUNKED", progress="none", workers=3).load_dataframe(bad, chunk_rows=100)

    assert len(failed.files) == 10 and not failed.ok
    assert [f.status for f in failed.files] == ["failed"] * 10
    assert "not-a-number" in failed.files[8].error
    assert all("rolled back" in f.error for i, f in enumerate(failed.files) if i != 8)
    assert conn.cursor().execute('SELECT COUNT(*) FROM "CHUNKED"').fetchone() == (0,)

    loaded = sl.Loader(conn, "CHUNKED", progress="none", workers=3).load_dataframe(good, chunk_rows=100)
    assert loaded.ok and [f.rows_loaded for f in loaded.files] == [100] * 10
    assert conn.cursor().execute('SELECT COUNT(*), SUM("n") FROM "CHUNKED"').fetchone() == (1000, sum(range(1000)))
    assert list(private_tmp.iterdir()) == []
    assert leftover_threads() == []


def test_the_same_frame_again_is_already_loaded_unless_forced(conn):
    df = pd.DataFrame({"n": range(50)})
    loader = sl.Loader(conn, "AGAIN", progress="none", create_table=True)
    assert loader.load_dataframe(df, chunk_rows=20).rows_loaded == 50
    again = loader.load_dataframe(df, chunk_rows=20)
    assert [f.status for f in again.files] == ["skipped"] * 3 and again.rows_loaded == 0
    forced = sl.Loader(conn, "AGAIN", progress="none", force=True).load_dataframe(df, chunk_rows=20)
    assert forced.rows_loaded == 50
    assert conn.cursor().execute('SELECT COUNT(*) FROM "AGAIN"').fetchone() == (100,)


def test_a_one_chunk_frame_again_is_already_loaded_not_failed(conn):
    """A frame under one chunk (most frames a notebook loads) run again: its key is known only
    once written, so the ledger's own check inside the COPY's transaction finds it; that is
    "already loaded", as for a frame of several chunks, not a failure."""
    df = pd.DataFrame({"n": range(50)})
    loader = sl.Loader(conn, "AGAIN_ONE", progress="none", create_table=True)
    assert loader.load_dataframe(df).rows_loaded == 50

    again = loader.load_dataframe(df)

    assert again.ok and [f.status for f in again.files] == ["skipped"] and again.rows_loaded == 0
    assert conn.cursor().execute('SELECT COUNT(*) FROM "AGAIN_ONE"').fetchone() == (50,)


def test_a_chunk_over_what_the_link_takes_is_staged_in_parts_and_loads_once(conn, monkeypatch):
    """A chunk's Parquet over the part size a link allows (a PUT's body must go out within the
    connector's send timeout) goes up as several files and loads exactly its rows; a re-run cut
    another way finds it already loaded. The server is taken to be elsewhere, behind a link: one
    on these cores has none to cut for."""
    monkeypatch.setattr(sl.loader, "MIN_PART_SIZE_MB", 0.01)  # parts of a small frame, to keep the test quick
    monkeypatch.setattr(loader_module, "is_loopback", lambda host: False)
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"n": range(60_000), "x": rng.random(60_000), "s": rng.integers(0, 1 << 60, 60_000).astype(str)})
    puts: list[str] = []
    sessions = Interceptor(lambda statement: puts.append(statement) if statement.startswith("PUT") else None)

    def load(part_size_mb: float) -> sl.LoadResult:
        loader = sl.Loader(
            sessions(), "CUT", progress="none", part_size_mb=part_size_mb, create_table=True, connect=sessions
        )
        return loader.load_dataframe(df, chunk_rows=len(df))

    first = load(0.3)
    assert first.ok, first.summary()
    assert len(puts) >= 4  # about 1.6 MB of Parquet in files of at most 0.3 MB
    assert conn.cursor().execute('SELECT COUNT(*), SUM("n") FROM "CUT"').fetchone() == (60_000, sum(range(60_000)))

    again = load(0.7)
    assert [f.status for f in again.files] == ["skipped"] and again.rows_loaded == 0, again.files
    assert conn.cursor().execute('SELECT COUNT(*) FROM "CUT"').fetchone() == (60_000,)


def test_chunk_rows_must_be_positive(conn):
    with pytest.raises(ValueError, match="chunk_rows must be an integer >= 1"):
        sl.Loader(conn, "T", progress="none").load_dataframe(pd.DataFrame({"a": [1]}), chunk_rows=0)
