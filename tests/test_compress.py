"""Without python-isal (no wheel for the platform), compression falls back to zlib: same gzip
files, levels 0-9, and loads that work."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

from conftest import table_facts

import snowload_nb as sl
from snowload_nb import compress
from snowload_nb.demo import write_csv

WITHOUT_ISAL = """
import gzip, json, sys
sys.modules["isal"] = None  # as if it had no wheel here: `import isal` raises ImportError
from snowload_nb import compress
data = b"id,name\\n" + b"".join(b"%d,row %d\\n" % (i, i) for i in range(10000))
c = compress.gzip_compressor(9)
packed = c.compress(data) + c.flush()
print(json.dumps({
    "backend": compress.BACKEND,
    "levels": [compress.level_range().start, compress.level_range().stop],
    "round_trip": gzip.decompress(packed) == data,
    "smaller": len(packed) < len(data),
}))
"""


def test_without_isal_the_compressor_is_zlib_writing_gzip():
    done = subprocess.run([sys.executable, "-c", WITHOUT_ISAL], capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"backend": "zlib", "levels": [0, 10], "round_trip": True, "smaller": True}


def test_a_load_compresses_with_zlib_when_isal_is_missing(conn, table, tmp_path, monkeypatch):
    monkeypatch.setattr(compress, "_isal_zlib", None)
    source = write_csv(tmp_path / "zlib.csv", 0, 1, 3_000)

    result = sl.Loader(conn, table, progress="none", compression_level=9).load([str(source.path)])  # isal stops at 3

    assert result.ok and result.rows_loaded == source.rows
    assert 0 < result.files[0].staged_bytes < source.path.stat().st_size
    assert table_facts(conn, table)[0] == source.rows


def test_zlib_output_is_the_same_bytes_for_the_same_input(monkeypatch):
    """No name and a zero mtime in the header: a re-run stages the same file."""
    monkeypatch.setattr(compress, "_isal_zlib", None)
    data = b"a,b\n1,2\n" * 1000
    first, second = compress.gzip_compressor(6), compress.gzip_compressor(6)
    packed = first.compress(data) + first.flush()
    assert packed == second.compress(data) + second.flush()
    assert gzip.decompress(packed) == data
