"""DataFrames (pandas, pyarrow, polars) as Parquet chunks: each chunk is one "file" of a load.

A pandas frame is converted to Arrow one chunk at a time, against a schema taken from the whole
frame, so memory holds the frame plus the chunks being written, never a second full copy. Column
names are kept exactly; the Parquet files carry them, and COPY matches them to the table's.

Everything that would fail later is refused here, before a table is created or a chunk staged:
labels that are not names, values no chunk could carry. Labels that are not strings become
str(label), as pandas' to_sql names them (0 -> "0"); tuples (MultiIndex columns) are refused,
since there is no one obvious name for ("a", "x") and a guess would make columns nobody asked for.
"""

from __future__ import annotations

import decimal
import hashlib
import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from .errors import FrameError, UnsupportedType
from .inference import from_arrow, sql_columns
from .parquet_parts import pieces_for, repeating_columns
from .schema import name_problem
from .sql import Compression, FileFormat

# A chunk of about this much Arrow memory: small enough that several are written, uploaded and
# copied at once, large enough that per-file overhead stays small.
CHUNK_BYTES = 16_000_000
SIZE_SAMPLE_ROWS = 10_000  # rows measured to size chunks: measuring all of a big frame takes seconds
PARQUET_COMPRESSION = "snappy"
_CHECK_ROWS = 100_000  # Python objects are test-converted this many rows at a time
_INT64_MAX = 2**63 - 1


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
        """(exact name, Snowflake type) per column, for create_table=True.

        The schema is the whole frame's, and every chunk is written against it, so the chunks
        need no merge of their own: a column all None in one chunk has the type the other chunks'
        values give it, and a column with no value in any chunk is VARCHAR, as for files.
        """
        return sql_columns([(f.name, from_arrow(f, "the DataFrame")) for f in self.schema])

    def chunks(self, chunk_rows: int | None) -> list[FrameChunk]:
        step = chunk_rows or max(1, int(CHUNK_BYTES / max(self.bytes_per_row, 1.0)))
        starts = range(0, self.rows, step)
        return [FrameChunk(self, n + 1, start, min(start + step, self.rows)) for n, start in enumerate(starts)]


def is_frame(data: Any) -> bool:
    """A pandas or polars DataFrame, or a pyarrow Table."""
    return isinstance(data, pa.Table) or (
        type(data).__name__ == "DataFrame" and type(data).__module__.split(".")[0] in ("pandas", "polars")
    )


def is_dask(data: Any) -> bool:
    """A Dask DataFrame, told without importing Dask: it loads from its workers (`dask_load`)."""
    return type(data).__module__.split(".")[0] == "dask" and hasattr(data, "to_delayed") and hasattr(data, "_meta")


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
    names = _pandas_names(df.columns)
    _check_names(names)
    by_position = list(range(len(names)))  # labels may repeat or be unhashable; positions never
    fields = [pa.field(name, _arrow_type(df, k, name)) for k, name in zip(by_position, names, strict=True)]
    schema = _plain(pa.schema(fields))
    _check_types(schema)
    _check_integers(schema, lambda k: _pandas_max(df.iloc[:, k]))
    _check_decimals(schema, lambda k: _largest_magnitude(df.iloc[:, k].to_numpy(), schema.field(k).type))
    rows = len(df)
    sample = df.iloc[:SIZE_SAMPLE_ROWS]
    bytes_per_row = float(sample.memory_usage(index=False, deep=True).sum()) / len(sample) if rows else 0.0
    renamed = list(df.columns) != names

    def slice_(start: int, stop: int) -> pa.Table:
        part = df.iloc[start:stop]
        if renamed:  # this slice's own labels: the caller's frame keeps its own
            part = part.copy(deep=False)
            part.columns = names
        return pa.Table.from_pandas(part, schema=schema, preserve_index=False)

    return Frame(schema, rows, bytes_per_row, slice_)


def _pandas_names(labels: Any) -> list[str]:
    """Column names as pandas' to_sql makes them, str(label); tuples (MultiIndex) refused."""
    tuples = [label for label in labels if isinstance(label, tuple)]
    if getattr(labels, "nlevels", 1) > 1 or tuples:
        shown = ", ".join(map(repr, tuples[:3])) + (", …" if len(tuples) > 3 else "")
        raise FrameError(
            f"the DataFrame's column labels are tuples ({shown}), from MultiIndex columns: name each "
            "column with a string first, e.g. df.columns = ['_'.join(map(str, c)) for c in df.columns]"
        )
    return [str(label) for label in labels]


def _arrow_type(df: Any, position: int, name: str) -> pa.DataType:
    """A column's Arrow type: from its dtype, or for Python objects from every value.

    Column by column, and without building the whole frame: inferring the frame at once
    converted it, costing time and memory the size of the frame. Python objects are converted
    here too, a block at a time and thrown away, since values of mixed types or integers too
    large for 64 bits pass inference and would only fail once the table exists.
    """
    values = df.iloc[:, position]
    try:
        if values.dtype != object:
            return pa.Schema.from_pandas(df.iloc[:0, [position]], preserve_index=False).field(0).type
        objects = values.to_numpy()
        kind = pa.infer_type(objects, from_pandas=True)
        for start in range(0, len(objects), _CHECK_ROWS):
            pa.array(objects[start : start + _CHECK_ROWS], type=kind, from_pandas=True)
        return kind
    except (pa.ArrowException, TypeError, OverflowError) as exc:
        raise FrameError(f"the DataFrame cannot be converted to Arrow: column {name!r}: {exc}") from None


def _from_arrow(table: pa.Table) -> Frame:
    _check_names(table.column_names)
    table = table.cast(_plain(table.schema))
    _check_types(table.schema)
    import pyarrow.compute as pc  # here, not above: only Arrow tables need it

    _check_integers(table.schema, lambda k: pc.max(table.column(k)).as_py())
    _check_decimals(table.schema, lambda k: _magnitude(pc.min_max(table.column(k))))
    rows = table.num_rows
    return Frame(table.schema, rows, table.nbytes / rows if rows else 0.0, table.slice)


def _check_names(names: list[str]) -> None:
    if not names:
        raise FrameError("the DataFrame has no columns: there is nothing to load")
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise FrameError(f"the DataFrame has duplicate column names: {', '.join(map(repr, duplicates))}")
    problem = name_problem(names)
    if problem is not None:
        raise FrameError(f"the DataFrame's column names cannot be loaded: {problem}")


def _check_integers(schema: pa.Schema, column_max: Callable[[int], Any]) -> None:
    """Unsigned 64-bit values above the signed range: the server casts them to a signed 64-bit
    integer and fails once the table exists; found here by the column's maximum."""
    for k, f in enumerate(schema):
        if pa.types.is_uint64(f.type):
            largest = _as_int(column_max(k))
            if largest is not None and largest > _INT64_MAX:
                raise FrameError(
                    f"the DataFrame's column {f.name!r} holds {largest}, above {_INT64_MAX}, the largest "
                    "integer a load carries: convert the column to strings (or floats) to load it"
                )


def _check_types(schema: pa.Schema) -> None:
    for column in schema:
        try:
            from_arrow(column, "the DataFrame")
        except UnsupportedType as exc:
            raise FrameError(str(exc)) from None


def _check_decimals(schema: pa.Schema, largest_magnitude: Callable[[int], Any]) -> None:
    """Decimals wider than NUMBER(38): the table's column is NUMBER(38, scale), so a value with
    more digits before the point than it holds fails once the table exists; found here."""
    for k, f in enumerate(schema):
        if pa.types.is_decimal(f.type) and f.type.precision > 38:
            digits = 38 - min(f.type.scale, 37)
            largest = largest_magnitude(k)
            if largest is not None and largest >= decimal.Decimal(10) ** digits:
                raise FrameError(
                    f"the DataFrame's column {f.name!r} holds {largest}, more than the {digits} digits "
                    f"before the point that NUMBER(38,{min(f.type.scale, 37)}) holds"
                )


def _largest_magnitude(values: Any, kind: pa.DataType) -> Any:
    """The largest absolute value of a pandas column of decimals, converted a block at a time."""
    import pyarrow.compute as pc

    found = []
    for start in range(0, len(values), _CHECK_ROWS):
        block = pa.array(values[start : start + _CHECK_ROWS], type=kind, from_pandas=True)
        found.append(_magnitude(pc.min_max(block)))
    return max((m for m in found if m is not None), default=None)


def _magnitude(min_max: Any) -> Any:
    """max(|min|, |max|), None for no values; copy_abs, since abs() rounds to 28 digits."""
    low, high = min_max["min"].as_py(), min_max["max"].as_py()
    return None if low is None else max(low.copy_abs(), high.copy_abs())


def _pandas_max(values: Any) -> Any:
    """A column's largest value; of a categorical, its largest category (max() needs an order)."""
    if getattr(values.dtype, "name", None) == "category":
        return values.cat.categories.max() if len(values.cat.categories) else None
    return values.max()


def _as_int(value: Any) -> int | None:
    """An integer, or None for a column with no values (None, NaN, pandas' NA)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


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
        """Estimated in memory, known before the chunk is written; the load counts its Parquet size after."""
        return max(1, round(self.frame.bytes_per_row * (self.stop - self.start)))

    def _write_rows(self, path: Path, start: int, stop: int, whole: bool = True) -> None:
        """Rows as Parquet; the whole chunk always the same way, as its key is its bytes' hash."""
        import pyarrow.parquet as pq  # here, not above: libparquet costs a CSV-only process 10 MB

        with self.frame.converting:
            table = self.frame.slice(start, stop)
            dictionary = True if whole else repeating_columns(table)
            pq.write_table(table, path, compression=PARQUET_COMPRESSION, use_dictionary=dictionary)
            # Arrow's allocator keeps what a conversion freed, per thread: measured at about 45 MB a
            # worker after one chunk, so four workers held more than converting the whole frame.
            pa.default_memory_pool().release_unused()

    def write(self, folder: Path) -> Path:
        path = folder / f"chunk_{self.number:05d}.parquet"
        self._write_rows(path, self.start, self.stop)
        digest = hashlib.blake2b(digest_size=10)
        digest.update(f"{self.number}\0".encode())
        with open(path, "rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
        self.key = digest.hexdigest()
        return path

    def write_parts(self, folder: Path, max_bytes: int | None) -> list[Path]:
        """The chunk as Parquet, in as many files as keep each near `max_bytes` (None: one file).

        On a slow uplink a file's PUT must go out within the connector's send timeout, as a CSV
        part's must: an 8.5 MB chunk at 8 Mbit/s with four workers failed every retry. The whole
        chunk is written first, so its key is the same however the link cuts it (a re-run on
        another link still finds it loaded); only a chunk over the size is written again in slices.
        """
        whole = self.write(folder)
        rows = self.stop - self.start
        pieces = 1 if max_bytes is None else pieces_for(whole.stat().st_size, rows, max_bytes)
        if pieces == 1:
            return [whole]
        bounds = [self.start + rows * k // pieces for k in range(pieces + 1)]
        paths = [folder / f"chunk_{self.number:05d}.{k + 1:04d}.parquet" for k in range(pieces)]
        for k, path in enumerate(paths):
            self._write_rows(path, bounds[k], bounds[k + 1], whole=False)
        whole.unlink()
        return paths
