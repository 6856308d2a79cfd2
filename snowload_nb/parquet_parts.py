"""A Parquet file cut by rows into files a slow link can take, each PUT within the send timeout.

A Parquet file is staged as it is wherever one PUT can carry it. Over a slow uplink it cannot: a
PUT's body must go out within the connector's send timeout (codec_plan), so four 12 MB files at
20 Mbit/s failed every retry and sent 906 MB for 48. Cut, each slice is written again with the
file's own schema (its Arrow metadata too), column compression and INT96 timestamps, so COPY
reads the same values by the same names. The file's key stays the hash of its own bytes
(sources), so a re-run that cuts it otherwise still finds it loaded.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from .errors import Cancelled, Refused
from .parts import Part

if TYPE_CHECKING:
    import pyarrow.parquet as pq

SLACK = 1.1  # a slice's file is a little over its share of the whole: its own footer and dictionaries
MOSTLY_DISTINCT = 0.5  # a column whose values are mostly distinct gains nothing from a dictionary
BATCH_ROWS = 65_536  # rows decoded at a time: memory follows this, not the file
# Parquet's names for its codecs, as pyarrow's writer takes them
_WRITER_CODECS = {
    "UNCOMPRESSED": "none",
    "SNAPPY": "snappy",
    "GZIP": "gzip",
    "BROTLI": "brotli",
    "ZSTD": "zstd",
    "LZ4": "lz4",
    "LZ4_RAW": "lz4",
}


def pieces_for(size: int, rows: int, max_bytes: int) -> int:
    """How many slices keep each near `max_bytes`: at least one, at most one a row."""
    return max(1, min(rows, math.ceil(size * SLACK / max_bytes)))


def cut_parquet(
    path: Path,
    folder: Path,
    stem: str,
    max_bytes: Callable[[], int],
    cancelled: Callable[[], bool] = lambda: False,
) -> Iterator[Part]:
    """Yield the file's slices, each once it is complete on disk; the file whole if it fits.

    `max_bytes()` is asked as each slice starts, as a CSV's part size is: the link is measured
    as the load goes, so a fast one's later slices grow. A part's `source_bytes` is its share of
    the file's size by rows, so progress stays in the file's own bytes.
    """
    import pyarrow.parquet as pq  # here, not above: libparquet costs a CSV-only process 10 MB

    size = path.stat().st_size
    try:
        source = pq.ParquetFile(path)
    except pa.ArrowException as exc:
        raise Refused(f"cannot read it as Parquet to cut it for the link: {exc}") from None
    with source:
        rows = source.metadata.num_rows
        if pieces_for(size, rows, max_bytes()) == 1:
            yield Part(path, 1, size, size)
            return

        def slice_rows() -> int:
            return math.ceil(rows / pieces_for(size, rows, max_bytes()))

        done = 0  # rows in the slices finished so far
        for number, (out, written) in enumerate(_write_slices(source, folder, stem, slice_rows, cancelled), 1):
            before, done = done, done + written
            yield Part(out, number, size * done // rows - size * before // rows, out.stat().st_size)


def _write_slices(
    source: pq.ParquetFile,
    folder: Path,
    stem: str,
    slice_rows: Callable[[], int],
    cancelled: Callable[[], bool],
) -> Iterator[tuple[Path, int]]:
    """Each slice's file and rows, once it is written: `slice_rows()` rows (asked as it starts),
    streamed a batch at a time, so memory holds a batch and never a whole slice. A slice keeps a
    dictionary for the columns whose values repeat in the batch it starts with."""
    import pyarrow.parquet as pq

    options = _writer_options(source)
    writer: pq.ParquetWriter | None = None
    out, held, wanted, number = folder, 0, slice_rows(), 0
    try:
        for batch in source.iter_batches(batch_size=BATCH_ROWS, use_threads=False):
            offset = 0
            while offset < batch.num_rows:
                if cancelled():
                    raise Cancelled
                if writer is None:
                    number += 1
                    out = folder / f"{stem}.{number:04d}.parquet"
                    dictionary = repeating_columns(pa.Table.from_batches([batch]))
                    writer = pq.ParquetWriter(out, source.schema_arrow, use_dictionary=dictionary, **options)
                take = min(wanted - held, batch.num_rows - offset)
                writer.write_batch(batch.slice(offset, take))
                held += take
                offset += take
                if held == wanted:
                    writer.close()
                    writer = None
                    yield out, held
                    held, wanted = 0, slice_rows()
        if writer is not None:
            writer.close()
            writer = None
            yield out, held
    except pa.ArrowException as exc:
        raise Refused(f"cannot read it as Parquet to cut it for the link: {exc}") from None
    finally:
        if writer is not None:
            writer.close()


def repeating_columns(table: pa.Table) -> list[str] | bool:
    """The columns of a slice worth a dictionary: those whose values repeat (True: every one).

    Parquet starts every column on a dictionary and falls back to plain values once its page is
    full, so a slice of mostly distinct values (ids, measurements, hashes) pays for the dictionary
    and its indices again in every file: the slices of bench_frame_links held 7% (Parquet files)
    and 9% (DataFrame chunks) more bytes than the whole, and the link took that much longer.
    Nested columns keep theirs: their Parquet column names are not the table's.
    """
    import pyarrow.compute as pc

    if any(pa.types.is_nested(field.type) for field in table.schema):
        return True
    kept = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        try:
            distinct = pc.count_distinct(column).as_py()
        except pa.ArrowNotImplementedError:
            distinct = 0
        if distinct <= MOSTLY_DISTINCT * len(column):
            kept.append(name)
    return kept


def _writer_options(source: pq.ParquetFile) -> dict[str, object]:
    """The source's own encoding choices where they decide what COPY reads or how big it is."""
    meta = source.metadata
    codecs: Counter[str] = Counter()
    if meta.num_row_groups:
        group = meta.row_group(0)
        codecs.update(group.column(i).compression for i in range(group.num_columns))
    codec = _WRITER_CODECS.get(codecs.most_common(1)[0][0], "snappy") if codecs else "snappy"
    int96 = any(source.schema.column(i).physical_type == "INT96" for i in range(len(source.schema)))
    return {"compression": codec, "use_deprecated_int96_timestamps": int96}
