"""Every SQL statement snowload_nb sends is built here, from quoted identifiers and our own names.

No text a user gave (a table name, a column name, a file path) is ever pasted into SQL: names are
parsed and double-quoted, and files are staged under names we generate.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

STAGE_NAME = "SNOWLOAD_STAGE"
BEGIN = "BEGIN"
COMMIT = "COMMIT"
ROLLBACK = "ROLLBACK"

_UNQUOTED = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_PART = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)')
# What may appear in a stage sub-path or in a local path inside PUT's quotes.
_SAFE_PATH = re.compile(r"[A-Za-z0-9_.\-/]+")


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


@dataclass(frozen=True)
class StagePath:
    """A folder of our own on the stage: `@stage/<key>/`, holding one source file's parts."""

    stage: QualifiedName
    key: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", self.key):
            raise ValueError(f"unsafe stage key {self.key!r}")

    @property
    def sql(self) -> str:
        return f"@{self.stage.sql}/{self.key}/"


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


def copy_into(
    table: QualifiedName,
    source: StagePath,
    file_format: FileFormat,
    compression: Compression,
    force: bool = False,
) -> str:
    """Load every file under `source` into `table` in one statement, so a file loads all or nothing."""
    if file_format is FileFormat.CSV:
        fmt = f"TYPE = CSV SKIP_HEADER = 1 FIELD_OPTIONALLY_ENCLOSED_BY = '\"' COMPRESSION = {compression.value}"
        options = ""
    else:
        fmt = "TYPE = PARQUET"
        options = " MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE"
    force_option = " FORCE = TRUE" if force else ""
    return f"COPY INTO {table.sql} FROM {source.sql} FILE_FORMAT = ({fmt}){options} PURGE = TRUE{force_option}"
