"""A second look at a CSV that COPY rejected without saying where.

The embedded server reports a row with the wrong number of fields only as "table has N columns
but M values were supplied". Reading the file with the csv module (only after such a failure)
finds the line and says what is wrong with it, as Snowflake's own error would; `copy_errors`
decides when.
"""

from __future__ import annotations

import csv
from pathlib import Path


def wrong_field_count(path: Path, expected: int | None = None) -> str | None:
    """'line L: F fields where the header has H', for the first such row; None if every row fits."""
    with open(path, newline="", encoding="utf-8", errors="replace") as stream:
        reader = csv.reader(stream, strict=True)
        line = 0
        try:
            header = next(reader, None)
            if header is None:
                return None
            width = expected if expected is not None else len(header)
            if expected is not None and len(header) != expected:
                return f"line 1: the header has {len(header)} fields where the table has {expected} columns"
            line = reader.line_num
            for row in reader:
                if row and len(row) != width:
                    return f"line {line + 1}: {len(row)} fields where the header has {width}"
                line = reader.line_num
        except csv.Error as exc:  # quoting the reader cannot follow, e.g. a quote that never closes
            return f"line {line + 1}: {exc}"
    return None
