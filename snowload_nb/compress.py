"""Streaming gzip: a chunk at a time, so memory stays flat whatever the file size.

python-isal (Intel's ISA-L) compresses several times faster than zlib at similar ratios; both
release the GIL, so worker threads compress in parallel. The gzip header carries no name and a
zero mtime, so the same input always gives the same bytes (and the same staged file).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

try:
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - exercised where isal has no wheel
    _isal_zlib = None

BACKEND = "isal" if _isal_zlib is not None else "zlib"
DEFAULT_LEVEL = 1
CHUNK_SIZE = 1 << 20
_GZIP_WBITS = 31  # 16 + 15: a gzip wrapper around a full window


class Cancelled(Exception):
    """The load was cancelled between two chunks."""


def level_range() -> range:
    return range(0, 4) if _isal_zlib is not None else range(0, 10)


def _compressor(level: int) -> Any:
    if level not in level_range():
        raise ValueError(f"compression_level must be in {level_range()} with {BACKEND}, not {level}")
    lib: Any = _isal_zlib if _isal_zlib is not None else zlib
    return lib.compressobj(level, lib.DEFLATED, _GZIP_WBITS)


def gzip_file(
    source: BinaryIO,
    destination: Path,
    *,
    level: int = DEFAULT_LEVEL,
    on_chunk: Callable[[int], None] = lambda n: None,
    cancelled: Callable[[], bool] = lambda: False,
) -> int:
    """Compress all of `source` into `destination`; return the bytes written.

    `on_chunk` hears how many source bytes each chunk held; `cancelled` is asked before each
    chunk and stops the work with `Cancelled`.
    """
    compressor = _compressor(level)
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    written = 0
    with open(destination, "wb") as out:
        while True:
            if cancelled():
                raise Cancelled
            n = source.readinto(view)
            if not n:
                break
            written += out.write(compressor.compress(view[:n]))
            on_chunk(n)
        written += out.write(compressor.flush())
    return written
