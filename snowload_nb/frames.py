"""DataFrames (pandas, pyarrow, polars) as Parquet chunks: each chunk is one "file" of a load.

A pandas frame is converted to Arrow one chunk at a time, against a schema taken from the whole
frame, so memory holds the frame plus the chunks being written, never a second full copy. Column
names are kept exactly; the Parquet files carry them, and COPY matches them to the table's.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from .schema import UnsupportedType, snowflake_type
from .sql import Compression, FileFormat

# A chunk of about this much Arrow memory: small enough that several are written, uploaded and
# copied at once, large enough that per-file overhead stays small.
CHUNK_BYTES = 16_000_000
SIZE_SAMPLE_ROWS = 10_000  # rows measured to size chunks: measuring all of a big frame takes seconds
PARQUET_COMPRESSION = "snappy"


class FrameError(ValueError):
    """A frame that cannot be loaded as it is: no columns, duplicate names, an unsupported type."""


@dataclass(frozen=True)
class Frame:
    """A validated frame, able to hand out its rows in Arrow slices."""

    schema: pa.Schema
    rows: int
    bytes_per_row: float
    slice: Callable[[int, int], pa.Table] = field(repr=False)
    # Converting is CPU work: more chunks at once than cores only hold more memory.
    converting: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(os.cpu_count() or 1), repr=False, compare=False
    )

    def columns(self) -> list[tuple[str, str]]:
        """(exact name, Snowflake type) per column, for create_table=True."""
        return [(f.name, snowflake_type(f, "the DataFrame")) for f in self.schema]

    def chunks(self, chunk_rows: int | None) -> list[FrameChunk]:
        step = chunk_rows or max(1, int(CHUNK_BYTES / max(self.bytes_per_row, 1.0)))
        starts = range(0, self.rows, step)
        return [FrameChunk(self, n + 1, start, min(start + step, self.rows)) for n, start in enumerate(starts)]


def is_frame(data: Any) -> bool:
    """A pandas or polars DataFrame, or a pyarrow Table."""
    return isinstance(data, pa.Table) or (
        type(data).__name__ == "DataFrame" and type(data).__module__.split(".")[0] in ("pandas", "polars")
    )


def prepare(data: Any) -> Frame:
    """Check a pandas DataFrame, pyarrow Table or polars DataFrame and describe it as a Frame."""
    if isinstance(data, pa.Table):
        return _from_arrow(data)
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return _from_pandas(data)
    if module == "polars" and hasattr(data, "to_arrow"):
        return _from_arrow(data.to_arrow())
    raise FrameError(
        f"load_dataframe takes a pandas DataFrame, a pyarrow Table or a polars DataFrame, not {type(data)}"
    )


def _from_pandas(df: Any) -> Frame:
    names = [str(c) for c in df.columns]
    _check_names(names)
    fields = [pa.field(name, _arrow_type(df, column)) for name, column in zip(names, df.columns, strict=True)]
    schema = _plain(pa.schema(fields))
    _check_types(schema)
    rows = len(df)
    sample = df.iloc[:SIZE_SAMPLE_ROWS]
    bytes_per_row = float(sample.memory_usage(index=False, deep=True).sum()) / len(sample) if rows else 0.0

    def slice_(start: int, stop: int) -> pa.Table:
        part = df.iloc[start:stop]
        return pa.Table.from_pandas(part, schema=schema, preserve_index=False)

    return Frame(schema, rows, bytes_per_row, slice_)


def _arrow_type(df: Any, column: Any) -> pa.DataType:
    """A column's Arrow type: from its dtype, or for Python objects from every value.

    Column by column, and without building the arrays: inferring the whole frame at once
    converted it, costing time and memory the size of the frame.
    """
    values = df[column]
    try:
        if values.dtype == object:
            return pa.infer_type(values.to_numpy(), from_pandas=True)
        return pa.Schema.from_pandas(df[[column]].iloc[:0], preserve_index=False).field(0).type
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise FrameError(f"the DataFrame cannot be converted to Arrow: column {str(column)!r}: {exc}") from None


def _from_arrow(table: pa.Table) -> Frame:
    _check_names(table.column_names)
    table = table.cast(_plain(table.schema))
    _check_types(table.schema)
    rows = table.num_rows
    return Frame(table.schema, rows, table.nbytes / rows if rows else 0.0, table.slice)


def _check_names(names: list[str]) -> None:
    if not names:
        raise FrameError("the DataFrame has no columns: there is nothing to load")
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise FrameError(f"the DataFrame has duplicate column names: {', '.join(map(repr, duplicates))}")


def _check_types(schema: pa.Schema) -> None:
    for column in schema:
        try:
            snowflake_type(column, "the DataFrame")
        except UnsupportedType as exc:
            raise FrameError(str(exc)) from None


def _plain(schema: pa.Schema) -> pa.Schema:
    """Categories become their values: Snowflake has no dictionary type; names lose pandas metadata."""
    fields = []
    for f in schema:
        kind = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        fields.append(pa.field(f.name, kind, nullable=True))
    return pa.schema(fields)


@dataclass
class FrameChunk:
    """Rows [start, stop) of a frame: a "file" of the load, written as Parquet when its turn comes."""

    frame: Frame
    number: int
    start: int
    stop: int
    key: str = ""  # set by write(): a hash of the file, so the same rows stage under the same name

    format = FileFormat.PARQUET
    compression = Compression.NONE

    @property
    def name(self) -> str:
        return f"rows {self.start + 1:,}-{self.stop:,}"

    @property
    def given(self) -> str:
        return f"DataFrame[{self.start}:{self.stop}]"

    @property
    def size(self) -> int:
        """Estimated in memory: the unit of the bars, known before the chunk is written."""
        return max(1, round(self.frame.bytes_per_row * (self.stop - self.start)))

    def write(self, folder: Path) -> Path:
        import pyarrow.parquet as pq  # here, not above: libparquet costs a CSV-only process 10 MB

        path = folder / f"chunk_{self.number:05d}.parquet"
        with self.frame.converting:
            pq.write_table(self.frame.slice(self.start, self.stop), path, compression=PARQUET_COMPRESSION)
            # Arrow's allocator keeps what a conversion freed, per thread: measured at about 45 MB a
            # worker after one chunk, so four workers held more than converting the whole frame.
            pa.default_memory_pool().release_unused()
        digest = hashlib.blake2b(digest_size=10)
        digest.update(f"{self.number}\0".encode())
        with open(path, "rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
        self.key = digest.hexdigest()
        return path
