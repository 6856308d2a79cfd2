"""Column types for `create_table=True`, inferred from a file the way pyarrow reads it.

pyarrow's csv and parquet modules are imported when first needed: most loads never infer a
schema, and every megabyte counts against a load's memory budget.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from .sources import SourceFile
from .sql import FileFormat, normalise_identifier

SAMPLE_BYTES = 1 << 20


class UnsupportedType(ValueError):
    """A column whose type has no Snowflake counterpart we can load into."""


def infer_columns(source: SourceFile) -> list[tuple[str, str]]:
    """(column name, Snowflake type) for the file's columns, from a sample of its first rows."""
    if source.format is FileFormat.CSV:
        schema = _csv_schema(source.path)
    else:
        import pyarrow.parquet as pq

        schema = pq.read_schema(source.path)
    return [(normalise_identifier(field.name), snowflake_type(field, source.name)) for field in schema]


def snowflake_type(field: pa.Field, where: str) -> str:
    t = field.type
    if pa.types.is_null(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        return "VARCHAR"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return "NUMBER(38,0)"
    if pa.types.is_floating(t):
        return "FLOAT"
    if pa.types.is_decimal(t):
        # The scale is the data's; the precision Snowflake's widest, or later, larger values would not fit.
        return f"NUMBER(38,{min(t.scale, 37)})"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_time(t):
        return "TIME"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP_TZ" if t.tz else "TIMESTAMP_NTZ"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "BINARY"
    raise UnsupportedType(
        f"{where}: column {field.name!r} has type {t}, which has no Snowflake column type to load into"
    )


def _csv_schema(path: Path) -> pa.Schema:
    import pyarrow.csv as pacsv

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=SAMPLE_BYTES),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
    )
    try:
        return reader.schema
    finally:
        reader.close()
