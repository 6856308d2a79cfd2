"""`snowload demo`: generate a dozen CSV files of mixed sizes and load them into the embedded server.

The generator is also what the tests and benchmarks load, so every number they check is known
in advance: file k holds ids [first_id, first_id + rows), all distinct across files.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

ROW_BYTES = 64  # about what one generated row takes in CSV
# A few kB up to tens of MB, smallest first so the first bars finish quickly.
DEMO_SIZES = (4_000, 16_000, 60_000, 250_000, 1_000_000, 2_500_000, 5_000_000,
              8_000_000, 12_000_000, 16_000_000, 24_000_000, 32_000_000)  # fmt: skip
DEMO_COLUMNS = [("ID", "NUMBER(38,0)"), ("FILE_NO", "NUMBER(38,0)"), ("NAME", "VARCHAR"),
                ("AMOUNT", "FLOAT"), ("AT", "TIMESTAMP_NTZ"), ("NOTE", "VARCHAR")]  # fmt: skip


@dataclass(frozen=True)
class GeneratedFile:
    path: Path
    file_no: int
    first_id: int
    rows: int

    @property
    def id_sum(self) -> int:
        return self.rows * self.first_id + self.rows * (self.rows - 1) // 2


def write_csv(path: Path, file_no: int, first_id: int, rows: int, seed: int = 0) -> GeneratedFile:
    """A CSV with a header and awkward values: commas, doubled quotes and newlines inside fields."""
    # Imported here: whoever only needs DEMO_COLUMNS should not pay for numpy and pyarrow.csv.
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed + file_no)
    ids = np.arange(first_id, first_id + rows, dtype=np.int64)
    words = np.array(["alpha", "beta, gamma", 'say "hi"', "multi\nline", "plain", "ünïcødé"])
    table = pa.table(
        {
            "id": ids,
            "file_no": np.full(rows, file_no, dtype=np.int64),
            "name": words[rng.integers(0, len(words), rows)],
            "amount": np.round(rng.random(rows) * 1000, 2),
            "at": pa.array(
                np.datetime64("2026-01-01T00:00:00") + rng.integers(0, 86_400 * 365, rows).astype("timedelta64[s]")
            ),
            "note": np.where(rng.random(rows) < 0.1, None, words[rng.integers(0, len(words), rows)]),
        }
    )
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
    return GeneratedFile(path, file_no, first_id, rows)


def generate_files(folder: Path, sizes: Sequence[int] = DEMO_SIZES, prefix: str = "events") -> list[GeneratedFile]:
    """One file per size (approximate bytes); a size of 0 gives a header-only file."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    first_id = 1
    for file_no, size in enumerate(sizes):
        rows = size // ROW_BYTES
        files.append(write_csv(folder / f"{prefix}_{file_no:02d}.csv", file_no, first_id, rows))
        first_id += rows
    return files


def run_demo(files: int = len(DEMO_SIZES), workers: int = 4, progress: str = "auto", out: TextIO | None = None) -> int:
    """Generate, load with live progress, and check every file's rows in the table. 0 if all match."""
    from . import sql
    from .env import resolve_progress
    from .loader import Loader
    from .local import connect_local

    out = out or sys.stdout
    sizes = [DEMO_SIZES[i % len(DEMO_SIZES)] for i in range(files)]
    with tempfile.TemporaryDirectory(prefix="snowload-demo-") as folder:
        generated = generate_files(Path(folder), sizes)
        total = sum(g.path.stat().st_size for g in generated)
        out.write(f"Generated {files} CSV files ({total / 1e6:,.1f} MB) in {folder}\n")
        out.flush()
        conn = connect_local()
        table = sql.QualifiedName.parse("DEMO_EVENTS")
        conn.cursor().execute(sql.create_table(table, DEMO_COLUMNS))
        result = Loader(conn, str(table), workers=workers, progress=progress).load([str(g.path) for g in generated])
        counts = dict(conn.cursor().execute(sql.rows_per_file(table)).fetchall())
    out.write(f"\n{'file':<16} {'generated':>10} {'in table':>10}  check\n")
    mismatches = 0
    for g in generated:
        found = int(counts.get(g.file_no, 0))
        ok = found == g.rows
        mismatches += not ok
        out.write(f"{g.path.name:<16} {g.rows:>10,} {found:>10,}  {'ok' if ok else 'MISMATCH'}\n")
    verdict = "every file's rows are in the table" if not mismatches else f"{mismatches} files do not match"
    if resolve_progress(progress) == "none":  # otherwise the progress view has printed it
        out.write(f"\n{result.summary()}")
    out.write(f"\n{verdict}.\n")
    return 0 if result.ok and not mismatches else 1
