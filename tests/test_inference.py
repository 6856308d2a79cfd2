"""The value classifier and the widening merge, without a server: the rules a new table's types follow."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest

from snowload_nb.errors import UnsupportedType
from snowload_nb.inference import NULL, VARCHAR, ColumnType, Kind, classify, from_arrow, merge, sql_columns, widen


def sql_of(*values: str | None) -> str:
    return classify(pa.array(values, pa.string())).sql()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "-22", "0"], "NUMBER(38,0)"),
        (["12.50", "3", "-0.125"], "NUMBER(38,3)"),
        (["1" * 38], "NUMBER(38,0)"),
        (["1.5e3", "2", "-3.25E-2"], "FLOAT"),
        (["true", "FALSE", "True"], "BOOLEAN"),
        (["2024-01-01", "2024-12-31"], "DATE"),
        (["2024-01-01", "2024-01-05 05:12:13"], "TIMESTAMP_NTZ"),
        (["2024-01-05T05:12:13.123456789"], "TIMESTAMP_NTZ"),
        (["2024-01-05 05:12:13Z", "2024-01-05T05:12:13+01:00"], "TIMESTAMP_TZ"),
        (["05:12:13", "23:59:59.5"], "TIME"),
        ([None, None], "VARCHAR"),
    ],
)
def test_each_shape_of_text_gets_the_type_it_loads_into_exactly(values, expected):
    assert sql_of(*values) == expected


@pytest.mark.parametrize(
    "value",
    [
        "007",  # leading zeros
        "+4915112345678",  # a leading plus
        "1" * 39,  # more digits than NUMBER holds
        "1234567890123456789012345678901234567890",
        "1" * 30 + "." + "1" * 9,  # 39 digits with a point
        "1,234",  # a thousands separator
        "1 234",
        ".5",
        "5.",
        "00.5",
        " 12",
        "",  # a quoted empty field is an empty string, not NULL
        "2024-02-30",  # not a day
        "2024-01-05 25:12:13",
        "NaN",
    ],
)
def test_text_that_would_not_come_back_as_written_stays_text(value):
    assert sql_of("1", value, None) == "VARCHAR"


def test_nulls_are_ignored_and_a_column_of_only_nulls_has_no_type_yet():
    assert classify(pa.array([None, "5", None], pa.string())) == ColumnType(Kind.NUMBER, 1, 0)
    assert classify(pa.array([None, None], pa.string())) == NULL


NUMBER_0 = ColumnType(Kind.NUMBER, 3, 0)
NUMBER_2 = ColumnType(Kind.NUMBER, 2, 2)
DATE = ColumnType(Kind.DATE)
NTZ = ColumnType(Kind.TIMESTAMP_NTZ)
TZ = ColumnType(Kind.TIMESTAMP_TZ)
FLOAT = ColumnType(Kind.FLOAT)
BOOLEAN = ColumnType(Kind.BOOLEAN)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (NUMBER_0, NUMBER_2, "NUMBER(38,2)"),
        (NUMBER_0, FLOAT, "FLOAT"),
        (NUMBER_2, FLOAT, "FLOAT"),
        (DATE, NTZ, "TIMESTAMP_NTZ"),
        (NULL, NUMBER_2, "NUMBER(38,2)"),
        (NULL, NULL, "VARCHAR"),
        (DATE, NUMBER_0, "VARCHAR"),
        (NTZ, TZ, "VARCHAR"),
        (BOOLEAN, NUMBER_0, "VARCHAR"),
        (FLOAT, VARCHAR, "VARCHAR"),
        (ColumnType(Kind.NUMBER, 30, 0), ColumnType(Kind.NUMBER, 1, 9), "VARCHAR"),  # 39 digits
        (ColumnType(Kind.NUMBER, 29, 0), ColumnType(Kind.NUMBER, 1, 9), "NUMBER(38,9)"),
    ],
)
def test_widening_never_narrows_and_is_the_same_either_way_round(a, b, expected):
    assert widen(a, b).sql() == expected
    assert widen(b, a).sql() == expected


def test_widening_is_the_same_whatever_the_order_of_the_inputs():
    kinds = [NUMBER_0, NULL, NUMBER_2, FLOAT]
    results = {widen(widen(widen(x, y), z), w) for x, y, z, w in itertools.permutations(kinds)}
    assert results == {FLOAT}


def test_columns_merge_by_name_case_insensitively_in_the_order_they_first_appear():
    merged = merge(
        [
            [("ID", NUMBER_0), ("TS", DATE), ("Note", NULL)],
            [("id", NUMBER_2), ("AMOUNT", FLOAT), ("ts", NTZ)],
            [("NOTE", NUMBER_0), ("my col", BOOLEAN)],
            [("My Col", BOOLEAN)],
        ]
    )
    assert sql_columns(merged) == [
        ("ID", "NUMBER(38,2)"),
        ("TS", "TIMESTAMP_NTZ"),
        ("Note", "NUMBER(38,0)"),
        ("AMOUNT", "FLOAT"),
        ("my col", "BOOLEAN"),
    ]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (pa.int8(), "NUMBER(38,0)"),
        (pa.uint64(), "NUMBER(38,0)"),
        (pa.float32(), "FLOAT"),
        (pa.decimal128(10, 2), "NUMBER(38,2)"),
        (pa.decimal256(60, 40), "NUMBER(38,37)"),
        (pa.string(), "VARCHAR"),
        (pa.null(), "VARCHAR"),
        (pa.date32(), "DATE"),
        (pa.timestamp("us"), "TIMESTAMP_NTZ"),
        (pa.timestamp("us", "UTC"), "TIMESTAMP_TZ"),
        (pa.time64("us"), "TIME"),
        (pa.binary(), "BINARY"),
        (pa.bool_(), "BOOLEAN"),
    ],
)
def test_typed_columns_map_to_snowflake_types(kind, expected):
    assert from_arrow(pa.field("x", kind), "f.parquet").sql() == expected


def test_parquet_schemas_widen_as_text_does():
    first = [
        ("AMOUNT", from_arrow(pa.field("AMOUNT", pa.int32()), "a")),
        ("TS", from_arrow(pa.field("TS", pa.date32()), "a")),
    ]
    second = [
        ("AMOUNT", from_arrow(pa.field("AMOUNT", pa.decimal128(12, 2)), "b")),
        ("TS", from_arrow(pa.field("TS", pa.timestamp("us")), "b")),
    ]
    assert sql_columns(merge([first, second])) == [("AMOUNT", "NUMBER(38,2)"), ("TS", "TIMESTAMP_NTZ")]
    wide = [("AMOUNT", from_arrow(pa.field("AMOUNT", pa.decimal128(38, 30)), "c"))]
    # 10 digits before the point and 30 after: no NUMBER holds both, and FLOAT would round them
    assert sql_columns(merge([first, wide])) == [("AMOUNT", "VARCHAR"), ("TS", "DATE")]


def test_a_type_with_no_snowflake_column_is_refused_naming_it():
    with pytest.raises(UnsupportedType, match=r"f.parquet: column 'x' has type list<item: int64>"):
        from_arrow(pa.field("x", pa.list_(pa.int64())), "f.parquet")


def test_the_scale_is_the_most_digits_written_after_the_point():
    assert sql_of("12.50", "12.5", "3") == "NUMBER(38,2)"
