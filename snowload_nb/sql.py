"""Every SQL statement snowload_nb sends is built here, from quoted identifiers and our own names.

No text a user gave (a table name, a column name, a file path) is ever pasted into SQL: names are
parsed and double-quoted, and files are staged under names we generate.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

STAGE_NAME = "SNOWLOAD_STAGE"
# Beside the stage: which sources each table has loaded (written in the COPY's own transaction),
# and the rows a COPY's transaction updates first, so two loads of one source take turns.
LEDGER_NAME = "SNOWLOAD_LOADS"
LOCKS_NAME = "SNOWLOAD_LOCKS"
LOCK_SLOTS = 1024
BEGIN = "BEGIN"
COMMIT = "COMMIT"
ROLLBACK = "ROLLBACK"

_UNQUOTED = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_PART = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)')
# What may appear in a stage sub-path or in a local path inside PUT's quotes.
_SAFE_PATH = re.compile(r"[A-Za-z0-9_.\-/]+")
_KEY = re.compile(r"[A-Za-z0-9_\-]+")
_STAGE_KEY = re.compile(r"[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*")
_STAGED_FILE = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")
PUT_PARALLEL = 8  # uploads at once inside one PUT of many files (Snowflake's default is 4)


def quote_identifier(name: str) -> str:
    """`name` exactly, as a Snowflake quoted identifier."""
    if not name:
        raise ValueError("an identifier cannot be empty")
    if "\x00" in name:
        raise ValueError(f"an identifier cannot contain a NUL character: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def normalise_identifier(name: str) -> str:
    """Snowflake's case rule: a name shaped like an unquoted identifier means its upper case."""
    return name.upper() if _UNQUOTED.fullmatch(name) else name


@dataclass(frozen=True)
class QualifiedName:
    """A table or stage name of one to three parts, each already resolved to its exact text."""

    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> QualifiedName:
        """`NAME`, `SCHEMA.NAME` or `DB.SCHEMA.NAME`, parts optionally double-quoted.

        Anything that is not such a dotted name (spaces, semicolons, a stray quote) is taken
        as one name, exactly as written, so it can never become more SQL than a name.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"a table name must be a non-empty string, not {text!r}")
        parts: list[str] = []
        pos = 0
        while True:
            match = _PART.match(text, pos)
            if match is None:
                break
            quoted, bare = match.groups()
            parts.append(quoted.replace('""', '"') if quoted is not None else bare.upper())
            pos = match.end()
            if pos == len(text) or text[pos] != ".":
                break
            pos += 1
        if pos == len(text) and 1 <= len(parts) <= 3:
            return cls(tuple(parts))
        return cls((text,))

    @property
    def name(self) -> str:
        return self.parts[-1]

    def sibling(self, name: str) -> QualifiedName:
        """Another object in the same database and schema."""
        return QualifiedName((*self.parts[:-1], name))

    @property
    def sql(self) -> str:
        return ".".join(quote_identifier(p) for p in self.parts)

    def __str__(self) -> str:
        return ".".join(p if _UNQUOTED.fullmatch(p) and p.isupper() else quote_identifier(p) for p in self.parts)


class FileFormat(enum.Enum):
    CSV = "csv"
    PARQUET = "parquet"


class Compression(enum.Enum):
    """How a staged file is compressed, in Snowflake's words."""

    GZIP = "GZIP"
    ZSTD = "ZSTD"
    NONE = "NONE"
    AUTO = "AUTO"  # a COPY's files differ: each is read by its suffix (never a PUT's source)


@dataclass(frozen=True)
class StagePath:
    """A folder of our own on the stage, `@stage/<key>/`: one source's, or one attempt's inside it."""

    stage: QualifiedName
    key: str

    def __post_init__(self) -> None:
        if not _STAGE_KEY.fullmatch(self.key):
            raise ValueError(f"unsafe stage key {self.key!r}")

    def child(self, name: str) -> StagePath:
        return StagePath(self.stage, f"{self.key}/{name}")

    def file(self, name: str) -> StagedFile:
        return StagedFile(self, name)

    @property
    def sql(self) -> str:
        return f"@{self.stage.sql}/{self.key}/"


@dataclass(frozen=True)
class StagedFile:
    """One file we staged in a folder of ours: `@stage/<key>/<name>` (a batch's member)."""

    folder: StagePath
    name: str

    def __post_init__(self) -> None:
        if not _STAGED_FILE.fullmatch(self.name):
            raise ValueError(f"unsafe staged file name {self.name!r}")

    @property
    def sql(self) -> str:
        return f"{self.folder.sql}{self.name}"


def create_stage(stage: QualifiedName) -> str:
    return f"CREATE STAGE IF NOT EXISTS {stage.sql}"


def probe_table(table: QualifiedName) -> str:
    """Fails unless `table` exists and is readable; returns no rows."""
    return f"SELECT * FROM {table.sql} LIMIT 0"


def rows_per_file(table: QualifiedName) -> str:
    """The demo's check: rows per generated file, by its FILE_NO column."""
    return f'SELECT "FILE_NO", COUNT(*) FROM {table.sql} GROUP BY "FILE_NO"'


def create_table(table: QualifiedName, columns: list[tuple[str, str]]) -> str:
    """`columns` are (exact name, Snowflake type); types come from our own mapping, never a user."""
    if not columns:
        raise ValueError(f"cannot create {table} with no columns")
    for _, type_ in columns:
        if not re.fullmatch(r"[A-Z_]+(\(\d+(, ?\d+)?\))?", type_):
            raise ValueError(f"unexpected column type {type_!r}")
    body = ", ".join(f"{quote_identifier(name)} {type_}" for name, type_ in columns)
    return f"CREATE TABLE IF NOT EXISTS {table.sql} ({body})"


def put(local_file: PurePosixPath, target: StagePath, compression: Compression) -> str:
    """Upload one local file we wrote (in our private directory) to `target`, as it is."""
    text = local_file.as_posix()
    if not _SAFE_PATH.fullmatch(text):
        raise ValueError(
            f"the temporary path {text!r} has characters PUT cannot carry; "
            "point TMPDIR at a directory with a plain name"
        )
    return (
        f"PUT 'file://{text}' {target.sql} "
        f"AUTO_COMPRESS = FALSE SOURCE_COMPRESSION = {compression.value} OVERWRITE = TRUE"
    )


def put_folder(local_folder: PurePosixPath, target: StagePath, compression: Compression) -> str:
    """Upload every file in one local folder we wrote to `target`, in one statement: a batch.

    The connector expands the wildcard itself and uploads `PUT_PARALLEL` files at once.
    """
    text = local_folder.as_posix()
    if not _SAFE_PATH.fullmatch(text):
        raise ValueError(
            f"the temporary path {text!r} has characters PUT cannot carry; "
            "point TMPDIR at a directory with a plain name"
        )
    return (
        f"PUT 'file://{text}/*' {target.sql} "
        f"AUTO_COMPRESS = FALSE SOURCE_COMPRESSION = {compression.value} OVERWRITE = TRUE PARALLEL = {PUT_PARALLEL}"
    )


def copy_into(
    table: QualifiedName,
    source: StagePath | StagedFile,
    file_format: FileFormat,
    compression: Compression,
    force: bool = False,
    fields: Sequence[tuple[str, int]] | None = None,
    purge: bool = True,
    bytes_as_text: bool = True,
) -> str:
    """Load every file under `source` into `table` in one statement, so a file loads all or nothing.

    A CSV is read by position. `fields`, (table column, the file's 1-based column number) pairs,
    load a CSV whose header is not the table's columns in order: a COPY with a transformation,
    `COPY INTO t ("A", "B") FROM (SELECT $2, $1 FROM @stage/...)`, which Snowflake documents for
    CSV (it then ignores ERROR_ON_COLUMN_COUNT_MISMATCH); the embedded server runs it once
    `embedded_fixes` reads `$n` as the file's n-th column. Parquet is matched by name by COPY itself.
    """
    # Each value as written, where Snowflake's defaults would change it: an unquoted field's
    # backslash escapes the next character (`C:\new` loads a line break, and a field ending in one
    # joins its row to the next). Parquet bytes with no logical type are read as UTF-8 text, which
    # a BINARY column then takes as hex: `bytes_as_text=False` (the table has BINARY columns the
    # files load into) reads them as bytes, as the connector's write_pandas does for tables it
    # makes; a VARCHAR column still takes text some writers store as such bytes. The embedded
    # server reads all of these as written either way.
    if file_format is FileFormat.CSV:
        fmt = (
            "TYPE = CSV SKIP_HEADER = 1 FIELD_OPTIONALLY_ENCLOSED_BY = '\"' ESCAPE_UNENCLOSED_FIELD = NONE "
            f"COMPRESSION = {compression.value}"
        )
        options = ""
    else:
        fmt = "TYPE = PARQUET" + ("" if bytes_as_text else " BINARY_AS_TEXT = FALSE")
        options = " MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE"
    origin = source.sql
    into = table.sql
    if fields is not None:
        if file_format is not FileFormat.CSV or not fields:
            raise ValueError("a column list is for CSV files, with at least one column")
        numbers = [int(n) for _, n in fields]
        if any(n < 1 for n in numbers):
            raise ValueError(f"column numbers start at 1: {numbers}")
        into += " (" + ", ".join(quote_identifier(name) for name, _ in fields) + ")"
        origin = "(SELECT " + ", ".join(f"${n}" for n in numbers) + f" FROM {source.sql})"
    # PURGE removes the files it loaded, even when the transaction then rolls back (the embedded
    # server deletes them at once): a rolled-back attempt is staged again, never copied again.
    # A batch copies without it: the embedded server would purge the files loaded before a bad
    # one in a COPY that then fails, and the batch is copied again without the bad one.
    purge_option = " PURGE = TRUE" if purge else ""
    force_option = " FORCE = TRUE" if force else ""
    return f"COPY INTO {into} FROM {origin} FILE_FORMAT = ({fmt}){options}{purge_option}{force_option}"


def describe_table(table: QualifiedName) -> str:
    """One row per column: its name, type, kind and whether it takes NULL (`null?`: Y or N)."""
    return f"DESCRIBE TABLE {table.sql}"


def list_stage(stage: QualifiedName) -> str:
    return f"LIST @{stage.sql}"


def remove(folder: StagePath | StagedFile) -> str:
    """Delete every staged file under `folder` (or the one file)."""
    return f"REMOVE {folder.sql}"


def _literal_key(key: str) -> str:
    """A key we generated (hex digits), as a string literal; anything else is a bug, not data."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"unsafe key {key!r}")
    return f"'{key}'"


def _literal_keys(keys: Sequence[str]) -> str:
    """Keys as the list of an `IN (…)`; NULL for none, which matches nothing."""
    return ", ".join(_literal_key(k) for k in keys) or "NULL"


def create_ledger(ledger: QualifiedName) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {ledger.sql} "
        '("TABLE_KEY" VARCHAR, "SOURCE_KEY" VARCHAR, "ATTEMPT" VARCHAR, "ROWS_LOADED" NUMBER(38,0), '
        '"LOADED_AT" TIMESTAMP_NTZ)'
    )


def create_locks(locks: QualifiedName) -> str:
    return f'CREATE TABLE IF NOT EXISTS {locks.sql} ("SLOT" NUMBER(38,0), "HOLDER" VARCHAR)'


def ledger_ready(ledger: QualifiedName, locks: QualifiedName) -> str:
    """Fails unless both tables exist; the lock slots' count."""
    return f"SELECT (SELECT COUNT(*) FROM {locks.sql}), (SELECT COUNT(*) FROM {ledger.sql} WHERE FALSE)"


def count_lock_slots(locks: QualifiedName) -> str:
    return f"SELECT COUNT(*) FROM {locks.sql}"


def fill_lock_slots(locks: QualifiedName) -> str:
    """One row per slot. Two loads filling at once leave each slot twice, which locks the same."""
    values = ", ".join(f"({slot})" for slot in range(LOCK_SLOTS))
    return f'INSERT INTO {locks.sql} ("SLOT") VALUES {values}'


def claim_slot(locks: QualifiedName, slot: int, attempt: str) -> str:
    """Taken first in a COPY's transaction: a second transaction on the slot waits (Snowflake) or
    fails at once (the embedded server) until the first ends."""
    if not 0 <= slot < LOCK_SLOTS:
        raise ValueError(f"no lock slot {slot}")
    return f'UPDATE {locks.sql} SET "HOLDER" = {_literal_key(attempt)} WHERE "SLOT" = {slot}'


def claim_slots(locks: QualifiedName, slots: Sequence[int], attempt: str) -> str:
    """`claim_slot` for several slots in one statement: a batch claims all its sources at once."""
    if not slots or not all(0 <= slot < LOCK_SLOTS for slot in slots):
        raise ValueError(f"no such lock slots: {list(slots)}")
    listed = ", ".join(str(int(slot)) for slot in sorted(set(slots)))
    return f'UPDATE {locks.sql} SET "HOLDER" = {_literal_key(attempt)} WHERE "SLOT" IN ({listed})'


def loaded_sources(ledger: QualifiedName, table_key: str, source_keys: list[str]) -> str:
    """Which of `source_keys` the table has loaded, by the ledger."""
    keys = _literal_keys(source_keys)
    return (
        f'SELECT DISTINCT "SOURCE_KEY" FROM {ledger.sql} '
        f'WHERE "TABLE_KEY" = {_literal_key(table_key)} AND "SOURCE_KEY" IN ({keys})'
    )


def loaded_sources_held(ledger: QualifiedName, table_key: str, source_keys: list[str], table: QualifiedName) -> str:
    """`loaded_sources` with the rows each recorded and whether `table` has any row now (1 or 0):
    a record of rows the table no longer has any of is not to be trusted."""
    keys = _literal_keys(source_keys)
    return (
        f'SELECT "SOURCE_KEY", SUM("ROWS_LOADED"), (SELECT COUNT(*) FROM (SELECT 1 FROM {table.sql} LIMIT 1)) '
        f'FROM {ledger.sql} WHERE "TABLE_KEY" = {_literal_key(table_key)} AND "SOURCE_KEY" IN ({keys}) '
        'GROUP BY "SOURCE_KEY"'
    )


def forget_if_emptied(ledger: QualifiedName, table_key: str, source_keys: list[str], table: QualifiedName) -> str:
    """Deletes the sources' records while `table` has no row: a table dropped and made again, or
    emptied, holds none of what they say it loaded."""
    keys = _literal_keys(source_keys)
    return (
        f'DELETE FROM {ledger.sql} WHERE "TABLE_KEY" = {_literal_key(table_key)} AND "SOURCE_KEY" IN ({keys}) '
        f"AND NOT EXISTS (SELECT 1 FROM {table.sql})"
    )


def record_load(ledger: QualifiedName, table_key: str, source_key: str, attempt: str, rows: int) -> str:
    """Inserts one row, or none when the source is recorded already (by a load that went first)."""
    table, source = _literal_key(table_key), _literal_key(source_key)
    return (
        f'INSERT INTO {ledger.sql} ("TABLE_KEY", "SOURCE_KEY", "ATTEMPT", "ROWS_LOADED", "LOADED_AT") '
        f"SELECT {table}, {source}, {_literal_key(attempt)}, {int(rows)}, CURRENT_TIMESTAMP() "
        f'WHERE NOT EXISTS (SELECT 1 FROM {ledger.sql} WHERE "TABLE_KEY" = {table} AND "SOURCE_KEY" = {source})'
    )


def record_loads(ledger: QualifiedName, table_key: str, loads: Sequence[tuple[str, int]], attempt: str) -> str:
    """`record_load` for several (source key, rows) in one statement; its row count says how many
    went in (a source recorded already, by a load that went first, adds none)."""
    if not loads:
        raise ValueError("no loads to record")
    table = _literal_key(table_key)
    values = ", ".join(f"({_literal_key(key)}, {int(rows)})" for key, rows in loads)
    return (
        f'INSERT INTO {ledger.sql} ("TABLE_KEY", "SOURCE_KEY", "ATTEMPT", "ROWS_LOADED", "LOADED_AT") '
        f'SELECT {table}, v."SOURCE_KEY", {_literal_key(attempt)}, v."ROWS_LOADED", CURRENT_TIMESTAMP() '
        f'FROM (VALUES {values}) AS v ("SOURCE_KEY", "ROWS_LOADED") '
        f'WHERE NOT EXISTS (SELECT 1 FROM {ledger.sql} WHERE "TABLE_KEY" = {table} AND "SOURCE_KEY" = v."SOURCE_KEY")'
    )


# Replacing a table's contents (mode="truncate" | "overwrite"), all or nothing.


def delete_rows(table: QualifiedName) -> str:
    """Every row of `table`, inside the load's transaction.

    DELETE, not TRUNCATE: both are DML in a Snowflake transaction, but the embedded server runs
    TRUNCATE as DDL, and DELETE answers with the count of rows it replaced.
    """
    return f"DELETE FROM {table.sql}"


def count_rows(table: QualifiedName) -> str:
    return f"SELECT COUNT(*) FROM {table.sql}"


def swap_tables(table: QualifiedName, other: QualifiedName) -> str:
    """Each takes the other's name, at once: readers see the old table or the new one, never none.

    Snowflake runs it as DDL, its own transaction (committing the one open before it);
    the embedded server has no SWAP and runs it as three renames in the open transaction
    (`embedded_fixes`).
    """
    if table.parts[:-1] != other.parts[:-1]:
        raise ValueError(f"{table} and {other} are not in the same schema")
    return f"ALTER TABLE {table.sql} SWAP WITH {other.sql}"


def drop_table(table: QualifiedName) -> str:
    return f"DROP TABLE IF EXISTS {table.sql}"


def forget_loads(ledger: QualifiedName, table_key: str) -> str:
    """The ledger's record of what a table held: gone with the contents it describes."""
    return f'DELETE FROM {ledger.sql} WHERE "TABLE_KEY" = {_literal_key(table_key)}'


def swap_loads(ledger: QualifiedName, table_key: str, other_key: str) -> str:
    """The ledger rows of two tables change places, as `swap_tables` swaps the tables.

    Its own inverse: run again, it puts them back.
    """
    one, two = _literal_key(table_key), _literal_key(other_key)
    return (
        f'UPDATE {ledger.sql} SET "TABLE_KEY" = CASE WHEN "TABLE_KEY" = {one} THEN {two} ELSE {one} END '
        f'WHERE "TABLE_KEY" IN ({one}, {two})'
    )


def loads_of_attempt(ledger: QualifiedName, table_key: str, attempt: str) -> str:
    """How many ledger rows this attempt recorded under `table_key`."""
    return (
        f"SELECT COUNT(*) FROM {ledger.sql} "
        f'WHERE "TABLE_KEY" = {_literal_key(table_key)} AND "ATTEMPT" = {_literal_key(attempt)}'
    )
