"""Split a CSV into row-aligned parts, compressing each as it is written.

A part ends only at a row boundary: a newline outside quotes. In well-formed CSV a quote is
either a field's opening or closing quote or half of a doubled quote, so a newline is inside a
quoted field exactly when an odd number of quotes precede it in the part. Counting quotes with
bytes.count keeps the scan in C. Every part repeats the header row, since COPY skips one header
line per file.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .codec_choice import NONE, Codec, gzip_or_none
from .compress import CHUNK_SIZE, SUFFIXES, compressor
from .errors import Cancelled, NotCsvText

_QUOTE = ord('"')


@dataclass(frozen=True)
class Part:
    path: Path
    number: int
    source_bytes: int  # bytes of the source file in this part (the repeated header not counted)
    staged_bytes: int  # bytes written to `path`
    codec: Codec = NONE  # how it was written


class _RawWriter:
    """Stands in for a compressor when parts are staged uncompressed."""

    def compress(self, data: Any) -> bytes:
        return bytes(data)

    def flush(self) -> bytes:
        return b""


class _PartFile:
    def __init__(self, path: Path, number: int, header: bytes, codec: Codec) -> None:
        self.path = path
        self.number = number
        self.codec = codec
        self.source_bytes = len(header) if number == 1 else 0  # later parts repeat it
        self.staged_bytes = 0
        self._compressor: Any = _RawWriter()
        if codec.compressed and codec.level is not None:
            self._compressor = compressor(codec.name, codec.level)
        self._out = open(path, "wb")  # noqa: SIM115 - closed in finish()/abort()
        self._write(header)

    def write(self, data: memoryview) -> None:
        self.source_bytes += len(data)
        self._write(data)

    def _write(self, data: Any) -> None:
        self.staged_bytes += self._out.write(self._compressor.compress(data))

    def finish(self) -> Part:
        self.staged_bytes += self._out.write(self._compressor.flush())
        self._out.close()
        return Part(self.path, self.number, self.source_bytes, self.staged_bytes, self.codec)

    def abort(self) -> None:
        self._out.close()


def split_csv(
    source: BinaryIO,
    folder: Path,
    stem: str,
    *,
    part_size: int,
    level: int | None,
    on_chunk: Callable[[int], None] = lambda n: None,
    cancelled: Callable[[], bool] = lambda: False,
    chunk_size: int = CHUNK_SIZE,
    size: int | None = None,
    part_codec: Callable[[int], Codec] | None = None,
    part_sizes: Callable[[], int] | None = None,
) -> Iterator[Part]:
    """Yield each part of `source` once it is complete on disk.

    A new part starts once the current one holds `part_size` staged bytes and a row ends.
    `level` None stages parts uncompressed, a number as gzip at that level; `part_codec(n)`, when
    given, says instead how part n is written (auto compression follows the link as it changes);
    `part_sizes()`, when given, says each part's size in staged bytes as it starts, instead of
    `part_size` (a slow link's parts must upload within the connector's send timeout). A file with
    nothing after its header yields nothing. A `size` no larger than `part_size` means one part,
    when sizes are fixed: then quotes need no counting.
    """
    may_split = size is None or part_sizes is not None or size > part_size
    fixed = gzip_or_none(level)
    reader = _Chunks(source, chunk_size, on_chunk, cancelled)
    header = reader.take_header()
    current: _PartFile | None = None
    number = 0
    parity = 0  # quotes seen in the current part, mod 2
    try:
        for chunk in reader:
            pos = 0
            while pos < len(chunk):
                if current is None:
                    number += 1
                    codec = part_codec(number) if part_codec is not None else fixed
                    limit = part_sizes() if part_sizes is not None else part_size
                    current = _PartFile(folder / part_name(stem, number, codec), number, header, codec)
                    parity = 0
                if not may_split:
                    cut = None
                elif current.staged_bytes >= limit:  # full: end it at the next row boundary
                    cut, parity = _row_end(chunk, pos, parity)
                else:
                    cut, parity = None, parity ^ _quote_parity(chunk, pos)
                end = len(chunk) if cut is None else cut
                current.write(memoryview(chunk)[pos:end])
                pos = end
                if cut is not None:
                    yield current.finish()
                    current = None
        if current is not None:
            yield current.finish()
            current = None
    finally:
        if current is not None:
            current.abort()


def part_name(stem: str, number: int, codec: Codec) -> str:
    """Part `number` of the file `stem`, its suffix saying how it is compressed (COPY reads each
    part by its own suffix)."""
    return f"{stem}.{number:04d}.csv{SUFFIXES[codec.name]}"


def check_csv_text(
    source: BinaryIO,
    *,
    on_chunk: Callable[[int], None] = lambda n: None,
    cancelled: Callable[[], bool] = lambda: False,
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Read `source` to its end, checked as `split_csv` checks what it writes; the bytes read.

    For a file staged as it is: its text is checked here, and its PUT reads the file itself.
    """
    reader = _Chunks(source, chunk_size, on_chunk, cancelled)
    for _ in reader:
        pass
    return reader.offset


def _quote_parity(chunk: bytes, pos: int) -> int:
    """Quotes in chunk[pos:], mod 2. numpy counts bytes four times faster than bytes.count."""
    return int(np.count_nonzero(np.frombuffer(chunk, np.uint8, offset=pos) == _QUOTE)) & 1


def _row_end(chunk: bytes, pos: int, parity: int) -> tuple[int | None, int]:
    """The index just past the first newline at or after `pos` that ends a row, and the parity there."""
    while True:
        newline = chunk.find(b"\n", pos)
        if newline < 0:
            return None, parity ^ (chunk.count(_QUOTE, pos) & 1)
        parity ^= chunk.count(_QUOTE, pos, newline) & 1
        if parity == 0:
            return newline + 1, 0
        pos = newline + 1


def check_text(data: bytes) -> None:
    """A whole (small) file's bytes, checked as `split_csv` checks a stream: UTF-8 text, no NUL."""
    nul = data.find(b"\0")
    if nul >= 0:
        raise NotCsvText(_nul_byte(data.count(b"\n", 0, nul) + 1))
    if data.isascii():
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotCsvText(_not_utf8(data.count(b"\n", 0, exc.start) + 1, data[exc.start], exc.start)) from None


def _nul_byte(line: int) -> str:
    return f"line {line}: a NUL byte, so this is binary data, not CSV text"


def _not_utf8(line: int, byte: int, at: int) -> str:
    return (
        f"line {line}: bytes that are not UTF-8 (0x{byte:02x} at byte {at:,}); "
        "COPY reads CSV as UTF-8, so convert the file first"
    )


class _Chunks:
    """The source in chunks, checked to be UTF-8 text, with the header row taken off first.

    COPY reads CSV as UTF-8. Catching anything else here gives the user the line at fault, and
    keeps such bytes away from the embedded server, which fails on them without answering.
    """

    def __init__(
        self, source: BinaryIO, size: int, on_chunk: Callable[[int], None], cancelled: Callable[[], bool]
    ) -> None:
        self._source = source
        self._size = size
        self._on_chunk = on_chunk
        self._cancelled = cancelled
        self._pending = b""
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0  # bytes read so far

    def _read(self) -> bytes:
        if self._cancelled():
            raise Cancelled
        data = self._source.read(self._size)
        self._check_text(data)
        self._offset += len(data)
        self._on_chunk(len(data))
        return data

    def _check_text(self, data: bytes) -> None:
        nul = data.find(b"\0")
        if nul >= 0:
            raise NotCsvText(_nul_byte(self._line_at(self._offset + nul)))
        pending, _ = self._decoder.getstate()  # the start of a character split across chunks
        if data and data.isascii() and not pending:  # the common case, checked at memory speed
            return
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:  # its positions count from the pending bytes on
            at = self._offset - len(pending) + exc.start
            byte = (pending + data)[exc.start]
            raise NotCsvText(_not_utf8(self._line_at(at), byte, at)) from None

    @property
    def offset(self) -> int:
        """Bytes read so far."""
        return self._offset

    def _line_at(self, offset: int) -> int:
        """The physical line of a byte: counted only on the way to an error, by reading again."""
        self._source.seek(0)
        lines = 1
        while offset > 0:
            block = self._source.read(min(self._size, offset))
            if not block:
                break
            lines += block.count(b"\n")
            offset -= len(block)
        return lines

    def take_header(self) -> bytes:
        buffer = b""
        searched = 0
        parity = 0
        while True:
            cut, parity = _row_end(buffer, searched, parity)
            if cut is not None:
                self._pending = buffer[cut:]
                return buffer[:cut]
            searched = len(buffer)
            data = self._read()
            if not data:  # no newline at all: the whole file is its header
                return buffer
            buffer += data

    def __iter__(self) -> Iterator[bytes]:
        if self._pending:
            yield self._pending
            self._pending = b""
        while data := self._read():
            yield data
