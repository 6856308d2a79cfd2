"""Which table column each of a file's columns loads into: by name, the same rule for every input.

A CSV's header, a Parquet file's schema and a DataFrame's columns are matched to the table's
columns case-insensitively (as COPY's MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE matches Parquet),
decided before anything is compressed or sent, from names alone:

- a table column the file lacks loads as NULL if it is nullable, and the file says so; if it is
  NOT NULL, the file fails naming it;
- a file column the table lacks fails the file naming it, unless the load was told
  `extra_columns="ignore"`; then it is left out, and the file says so.

A value never lands in another column, and nothing is left out or filled with NULL silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import sql
from .errors import Fix, Refused
from .sql import QualifiedName

# What a file refused for columns the table lacks says would load it; the CLI words it as a flag.
IGNORE_EXTRA = Fix("extra_columns", "ignore", "to load the file without them")

EXTRA_COLUMNS = ("fail", "ignore")


@dataclass(frozen=True)
class TableColumn:
    name: str  # exactly as the table has it
    nullable: bool
    binary: bool = False  # BINARY: Parquet bytes load into it only as bytes (sql.copy_into)


@dataclass(frozen=True)
class ColumnPlan:
    """How one file's columns go into the table's.

    `fields` is None when the file's columns are the table's, in order (case aside): a plain
    positional COPY loads it. Otherwise it lists (table column, the file's 1-based column
    number) for each column loaded, in the table's order; the other table columns load NULL.
    """

    fields: tuple[tuple[str, int], ...] | None = None
    null_columns: tuple[str, ...] = ()  # table columns the file lacks: NULL in its rows
    ignored_columns: tuple[str, ...] = ()  # file columns the table lacks: not loaded
    binary: bool = False  # a column of the file loads into a BINARY column

    @property
    def positional(self) -> bool:
        return self.fields is None


def read_table_columns(cursor: Any, table: QualifiedName) -> list[TableColumn]:
    """The table's loadable columns and whether each takes NULL, by DESCRIBE TABLE.

    Not `SELECT * ... LIMIT 0`: the embedded server reports every column of that as nullable.
    """
    cursor.execute(sql.describe_table(table))
    names = [str(d[0]).lower() for d in cursor.description or ()]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return [
        TableColumn(
            str(r["name"]),
            str(r.get("null?", "Y")).upper() != "N",
            binary=str(r.get("type", "")).upper().startswith(("BINARY", "VARBINARY")),
        )
        for r in rows
        if str(r.get("kind", "COLUMN")).upper() == "COLUMN"  # a virtual column takes no values
    ]


def plan_columns(names: Sequence[str], table: Sequence[TableColumn], extra_columns: str = "fail") -> ColumnPlan:
    """Match a file's column names to the table's; Refused, naming the columns, if it cannot load.

    `names` passed `schema.name_problem` already: none is empty and none repeats, case aside.
    """
    if len(names) == len(table) and all(_key(n) == _key(c.name) for n, c in zip(names, table, strict=True)):
        return ColumnPlan(binary=any(c.binary for c in table))  # the fast path: a plain COPY, by position
    by_key: dict[str, list[TableColumn]] = {}
    for column in table:
        by_key.setdefault(_key(column.name), []).append(column)
    fields: dict[str, int] = {}
    extra: list[str] = []
    for number, name in enumerate(names, 1):
        matches = by_key.get(_key(name), [])
        if len(matches) > 1:
            both = _names(c.name for c in matches)
            raise Refused(f"its column {name!r} matches the table's columns {both}, which differ only in case")
        if matches:
            fields[matches[0].name] = number
        else:
            extra.append(name)
    if not fields:
        raise Refused(f"none of its columns ({_names(names)}) is a column of the table")
    missing = [c for c in table if c.name not in fields]
    required = [c.name for c in missing if not c.nullable]
    if required:
        raise Refused(
            f"the table's NOT NULL {_columns(required)} {'is' if len(required) == 1 else 'are'} not in the file"
        )
    if extra and extra_columns != "ignore":
        raise Refused(
            f"its {_columns(extra)} {'is' if len(extra) == 1 else 'are'} not in the table ({IGNORE_EXTRA.python()})"
        )
    return ColumnPlan(
        fields=tuple((c.name, fields[c.name]) for c in table if c.name in fields),
        null_columns=tuple(c.name for c in missing),
        ignored_columns=tuple(extra),
        binary=any(c.binary for c in table if c.name in fields),
    )


def _key(name: str) -> str:
    return name.upper()


def _names(names: Any) -> str:
    return ", ".join(repr(n) for n in names)


def _columns(names: Sequence[str], word: str = "column") -> str:
    return f"{word}{'' if len(names) == 1 else 's'} {_names(names)}"
