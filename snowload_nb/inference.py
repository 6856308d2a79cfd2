"""Column types that every input can load into: a classifier for CSV text, and the widening merge.

A new table's column must hold every file's values, so each input's types are merged by widening,
never narrowing: integer -> NUMBER(38, s) with the largest scale seen -> FLOAT -> VARCHAR, DATE ->
TIMESTAMP_NTZ, a column with no values in one input takes its type from the others, and any other
conflict becomes VARCHAR. CSV text is classified here rather than by pyarrow's inference, because
that reads `007` as 7, `12.50` as a float and a 40-digit number as a rounded float: a column is a
number only when every value would come back exactly as written.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

from .errors import UnsupportedType
from .sql import normalise_identifier

MAX_DIGITS = 38  # NUMBER's precision: more digits than this cannot load exactly as a number
MAX_SCALE = 37


class Kind(enum.Enum):
    NULL = "NULL"  # no values seen: takes its type from the other inputs (VARCHAR if none has one)
    BOOLEAN = "BOOLEAN"
    NUMBER = "NUMBER"
    FLOAT = "FLOAT"
    DATE = "DATE"
    TIMESTAMP_NTZ = "TIMESTAMP_NTZ"
    TIMESTAMP_TZ = "TIMESTAMP_TZ"
    TIME = "TIME"
    BINARY = "BINARY"
    VARCHAR = "VARCHAR"


@dataclass(frozen=True)
class ColumnType:
    """A column's type as inferred; a NUMBER knows its digits before the point, so a merge can
    tell whether NUMBER(38, s) still holds every value, not only the largest scale."""

    kind: Kind
    digits: int = 0  # NUMBER only: most digits before the point
    scale: int = 0  # NUMBER only: most digits after it

    def sql(self) -> str:
        if self.kind is Kind.NUMBER:
            return f"NUMBER(38,{self.scale})"
        if self.kind is Kind.NULL:
            return "VARCHAR"
        return self.kind.value


NULL = ColumnType(Kind.NULL)
VARCHAR = ColumnType(Kind.VARCHAR)
FLOAT = ColumnType(Kind.FLOAT)


def number(digits: int, scale: int) -> ColumnType:
    """NUMBER(38, scale), or VARCHAR when no NUMBER holds both the digits and the scale (FLOAT
    would load such values rounded, the silent loss this module exists to prevent)."""
    if digits + scale > MAX_DIGITS or scale > MAX_SCALE:
        return VARCHAR
    return ColumnType(Kind.NUMBER, digits, scale)


_WIDER = {
    frozenset({Kind.NUMBER, Kind.FLOAT}): FLOAT,
    frozenset({Kind.DATE, Kind.TIMESTAMP_NTZ}): ColumnType(Kind.TIMESTAMP_NTZ),
}


def widen(a: ColumnType, b: ColumnType) -> ColumnType:
    """The narrowest type that holds the values of both; VARCHAR when nothing else does.

    Zoned and zone-less timestamps do not merge: whether a time without a zone is local or UTC
    is not something to guess, so they stay text as written.
    """
    if a.kind is Kind.NULL:
        return b
    if b.kind is Kind.NULL or a == b:
        return a
    if a.kind is Kind.NUMBER and b.kind is Kind.NUMBER:
        return number(max(a.digits, b.digits), max(a.scale, b.scale))
    return _WIDER.get(frozenset({a.kind, b.kind}), VARCHAR)


Columns = list[tuple[str, ColumnType]]


def merge(inputs: Iterable[Columns]) -> Columns:
    """Every input's columns, matched by name as COPY matches them (case-insensitively, after
    Snowflake's rule for unquoted names), in the order each name first appears, types widened.
    The first spelling of a name is the column's."""
    names: dict[str, str] = {}
    types: dict[str, ColumnType] = {}
    for columns in inputs:
        for name, kind in columns:
            key = normalise_identifier(name).lower()
            if key not in names:
                names[key] = name
                types[key] = kind
            else:
                types[key] = widen(types[key], kind)
    return [(names[key], types[key]) for key in names]


def sql_columns(columns: Columns) -> list[tuple[str, str]]:
    """(name, Snowflake type) for CREATE TABLE: a column no input gave a value is VARCHAR."""
    return [(name, kind.sql()) for name, kind in columns]


_INTEGER_BITS = {8: 3, 16: 5, 32: 10, 64: 19}  # digits of the largest value of a signed type


def from_arrow(field: pa.Field, where: str) -> ColumnType:
    """A typed column's (Parquet's, a DataFrame's) type; UnsupportedType when Snowflake has none."""
    t = field.type
    if pa.types.is_null(t):
        return NULL
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return VARCHAR
    if pa.types.is_boolean(t):
        return ColumnType(Kind.BOOLEAN)
    if pa.types.is_integer(t):
        digits = _INTEGER_BITS[t.bit_width] + (1 if pa.types.is_uint64(t) else 0)
        return ColumnType(Kind.NUMBER, digits, 0)
    if pa.types.is_floating(t):
        return FLOAT
    if pa.types.is_decimal(t):
        # Precision beyond 38 is NUMBER(38, s) all the same: frames.py checks the values fit.
        scale = min(t.scale, MAX_SCALE)
        return ColumnType(Kind.NUMBER, max(0, min(t.precision, MAX_DIGITS) - scale), scale)
    if pa.types.is_date(t):
        return ColumnType(Kind.DATE)
    if pa.types.is_time(t):
        return ColumnType(Kind.TIME)
    if pa.types.is_timestamp(t):
        return ColumnType(Kind.TIMESTAMP_TZ if t.tz else Kind.TIMESTAMP_NTZ)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return ColumnType(Kind.BINARY)
    raise UnsupportedType(
        f"{where}: column {field.name!r} has type {t}, which has no Snowflake column type to load into"
    )


# Shapes of CSV text, each a whole value (RE2 syntax, as pyarrow's regex kernels take it).
_BOOLEAN = r"(?i)^(true|false)$"
# No leading zeros, no '+', no separators, no bare '.5' or '5.': anything else is text.
_DECIMAL = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
_FLOAT = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?[eE][-+]?[0-9]{1,3}$"
_DAY = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_CLOCK = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?"
_ZONE = r"(Z|[-+]([01][0-9]|2[0-3]):?[0-5][0-9])"
_DATE = f"^{_DAY}$"
_DATE_OR_NTZ = f"^{_DAY}([ T]{_CLOCK})?$"
_TZ = f"^{_DAY}[ T]{_CLOCK}{_ZONE}$"
_TIME = f"^{_CLOCK}$"


def classify(values: pa.Array) -> ColumnType:
    """The narrowest type every value of a text column loads into exactly; nulls are ignored.

    Values are strings as COPY reads them, NULLs (empty fields, \\N) already null.
    """
    import pyarrow.compute as pc  # here: a load that creates no table never needs it

    values = pc.drop_null(values)
    if len(values) == 0:
        return NULL

    def every(pattern: str) -> bool:
        # The first values first: a column of text fails every shape there, at no cost.
        head = values.slice(0, 64)
        if not pc.all(pc.match_substring_regex(head, pattern)).as_py():
            return False
        return len(values) <= len(head) or bool(pc.all(pc.match_substring_regex(values, pattern)).as_py())

    if every(_BOOLEAN):
        return ColumnType(Kind.BOOLEAN)
    if every(_DECIMAL):
        return _number_type(values)
    if every(f"{_DECIMAL}|{_FLOAT}"):
        mantissas = pc.replace_substring_regex(values, "[eE].*$", "")
        return FLOAT if _most_digits(mantissas) <= MAX_DIGITS else VARCHAR
    if every(_DATE) and _real_days(values):
        return ColumnType(Kind.DATE)
    if every(_DATE_OR_NTZ) and _real_days(values):
        return ColumnType(Kind.TIMESTAMP_NTZ)
    if every(_TZ) and _real_days(values):
        return ColumnType(Kind.TIMESTAMP_TZ)
    if every(_TIME):
        return ColumnType(Kind.TIME)
    return VARCHAR


def _number_type(values: pa.Array) -> ColumnType:
    """NUMBER(38, s) for values shaped like _DECIMAL; VARCHAR if one has more than 38 digits."""
    import pyarrow.compute as pc

    if _most_digits(values) > MAX_DIGITS:
        return VARCHAR
    unsigned = pc.utf8_ltrim(values, characters="-")
    length = pc.utf8_length(unsigned)
    point = pc.find_substring(unsigned, ".")
    whole = pc.if_else(pc.less(point, 0), length, point)
    fraction = pc.if_else(pc.less(point, 0), 0, pc.subtract(pc.subtract(length, point), 1))
    return number(pc.max(whole).as_py(), pc.max(fraction).as_py())


def _most_digits(values: pa.Array) -> int:
    """The most digits in one value of a column of numbers written out (sign and point not counted)."""
    import pyarrow.compute as pc

    return pc.max(pc.utf8_length(pc.replace_substring_regex(values, "[-.]", ""))).as_py()


def _real_days(values: pa.Array) -> bool:
    """Whether every value's first ten characters are a day of the calendar (not 2024-02-30)."""
    import pyarrow.compute as pc

    try:
        pc.utf8_slice_codeunits(values, 0, 10).cast(pa.date32())
    except pa.ArrowInvalid:
        return False
    return True
