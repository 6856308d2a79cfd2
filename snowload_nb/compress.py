"""Streaming gzip compressors (the chunking lives in parts.py).

python-isal (Intel's ISA-L) compresses several times faster than zlib at similar ratios; both
release the GIL, so worker threads compress in parallel. The gzip header carries no name and a
zero mtime, so the same input always gives the same bytes (and the same staged file).
"""

from __future__ import annotations

import zlib
from typing import Any

try:
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - exercised where isal has no wheel
    _isal_zlib = None

BACKEND = "isal" if _isal_zlib is not None else "zlib"
DEFAULT_LEVEL = 1
CHUNK_SIZE = 1 << 20
_GZIP_WBITS = 31  # 16 + 15: a gzip wrapper around a full window


def level_range() -> range:
    return range(0, 4) if _isal_zlib is not None else range(0, 10)


def gzip_compressor(level: int) -> Any:
    """A streaming gzip compressor: isal where available, zlib otherwise."""
    if level not in level_range():
        raise ValueError(f"compression_level must be in {level_range()} with {BACKEND}, not {level}")
    lib: Any = _isal_zlib if _isal_zlib is not None else zlib
    return lib.compressobj(level, lib.DEFLATED, _GZIP_WBITS)


def compressor(level: int) -> Any:
    """A streaming gzip compressor for any level 0-9: ISA-L for the levels it has, zlib above
    them (auto compression's zlib 6, where its ratio pays on a slow link)."""
    if level in level_range():
        return gzip_compressor(level)
    if level not in range(0, 10):
        raise ValueError(f"a gzip level is 0..9, not {level}")
    return zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
