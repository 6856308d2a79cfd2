"""Streaming compressors for staged CSV parts (the chunking lives in parts.py).

gzip goes through python-isal (Intel's ISA-L), several times faster than zlib at similar
ratios, for the levels it has (0-3), and zlib above them. zstd (the `zstandard` package) gives
a higher ratio per CPU second than gzip from level 1 up: on a slow link its bytes saved are time
saved. Every one releases the GIL, so worker threads compress in parallel, and none writes a
name or a time into its output, so the same input always gives the same staged bytes.
"""

from __future__ import annotations

import contextlib
import gzip as _gzip
import io
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import zstandard

from .sql import Compression

try:
    from isal import igzip as _igzip
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - exercised where isal has no wheel
    _isal_zlib = None
    _igzip = None

BACKEND = "isal" if _isal_zlib is not None else "zlib"
DEFAULT_LEVEL = 1
CHUNK_SIZE = 1 << 20
_GZIP_WBITS = 31  # 16 + 15: a gzip wrapper around a full window
ZSTD_LEVELS = range(1, 20)
ZSTD_DEFAULT_LEVEL = 3  # zstd's own default
SUFFIXES = {"gzip": ".gz", "zstd": ".zst", "none": ""}  # what a staged part's name ends with


def level_range() -> range:
    return range(0, 4) if _isal_zlib is not None else range(0, 10)


def levels(codec: str) -> range:
    """The levels `compression_level` may force for `codec`."""
    return ZSTD_LEVELS if codec == "zstd" else level_range()


def gzip_compressor(level: int) -> Any:
    """A streaming gzip compressor: isal where available, zlib otherwise."""
    if level not in level_range():
        raise ValueError(f"compression_level must be in {level_range()} with {BACKEND}, not {level}")
    lib: Any = _isal_zlib if _isal_zlib is not None else zlib
    return lib.compressobj(level, lib.DEFLATED, _GZIP_WBITS)


def compressor(name: str, level: int) -> Any:
    """A streaming compressor (`compress`, `flush`) for `name` "gzip" at any level 0-9 (ISA-L
    for the levels it has, zlib above them) or "zstd" at 1-19."""
    if name == "zstd":
        if level not in ZSTD_LEVELS:
            raise ValueError(f"a zstd level is 1..19, not {level}")
        # The frame records its size only when known up front: a stream's is not, and need not be.
        return zstandard.ZstdCompressor(level=level, write_content_size=False).compressobj()
    if name != "gzip":
        raise ValueError(f"no compressor for {name!r}")
    if level in level_range():
        return gzip_compressor(level)
    if level not in range(0, 10):
        raise ValueError(f"a gzip level is 0..9, not {level}")
    return zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)


def decompress(name: str, data: bytes) -> bytes:
    """The bytes `compressor(name, ...)` packed, back: what a server does before reading them."""
    if name == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return zlib.decompress(data, _GZIP_WBITS)


@contextlib.contextmanager
def decompressing(raw: BinaryIO, compression: Compression) -> Iterator[BinaryIO]:
    """What `raw` holds, as written before it was compressed: every gzip member and zstd frame
    (parallel compressors write several), or `raw` itself when it is not compressed."""
    if compression is Compression.NONE:
        yield raw
        return
    if compression not in _READERS:
        raise ValueError(f"no decompressor for {compression.value}")
    stream = _Restartable(raw, _READERS[compression])
    try:
        yield stream  # type: ignore[misc]
    finally:
        stream.close()


def _gzip_reader(raw: BinaryIO) -> Any:
    return (_igzip or _gzip).GzipFile(fileobj=raw, mode="rb")


def _zstd_reader(raw: BinaryIO) -> Any:
    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=False)


_READERS = {Compression.GZIP: _gzip_reader, Compression.ZSTD: _zstd_reader}


class _Restartable(io.BufferedIOBase):
    """A decompressing reader that can start again from the top: a bad byte's line number is
    found by reading the file again (parts.py). zstd's reader cannot seek backwards, and older
    python-isal readers of several gzip members seek back wrong, so each restart opens anew.
    A binary stream as `io` knows one, so a text wrapper can read it as lines."""

    def __init__(self, raw: BinaryIO, reader: Callable[[BinaryIO], Any]) -> None:
        super().__init__()
        self._raw = raw
        self._reader = reader
        self._start = raw.tell()
        self._stream = reader(raw)

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._stream.read(-1 if size is None else size)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) != (0, 0):
            raise OSError("a decompressing reader goes back only to its start")
        self._stream.close()
        self._raw.seek(self._start)
        self._stream = self._reader(self._raw)
        return 0

    def close(self) -> None:
        self._stream.close()
        super().close()
