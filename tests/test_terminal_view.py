"""The terminal view, seen on an emulated screen: no bar ever shares or overwrites a line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pty_screen import run_on_screen

from snowload_nb.demo import generate_files

DRIVER = Path(__file__).parent / "drivers" / "terminal_load.py"
AGGREGATES = ("Compress", "Upload", "Copy")


@pytest.fixture(scope="module")
def many_files(tmp_path_factory):
    return generate_files(tmp_path_factory.mktemp("terminal"), [40_000, 400_000, 0, 2_000_000, 8_000] * 8)


def _is_bar(line: str) -> bool:
    return "%|" in line


@pytest.mark.parametrize("workers", [1, 2, 3, 10])
def test_bars_stay_on_their_own_lines(many_files, workers):
    slots = min(workers, 8)
    most_bars = 0
    file_lines_used: set[int] = set()
    files_seen: set[str] = set()
    shared_lines: list[str] = []
    wrong_place: list[str] = []

    def check(screen: list[str]) -> None:
        nonlocal most_bars
        bars = [n for n, line in enumerate(screen) if _is_bar(line)]
        most_bars = max(most_bars, len(bars))
        shared_lines.extend(line for line in screen if line.count("%|") > 1)
        top = next((n for n, line in enumerate(screen) if line.startswith("Compress")), None)
        if top is None:
            return
        for n in bars:
            line = screen[n]
            if line.startswith(AGGREGATES):
                if n - top != AGGREGATES.index(line.split()[0]):
                    wrong_place.append(line)
            else:
                file_lines_used.add(n - top)
                files_seen.add(line.split()[0])

    final = run_on_screen([sys.executable, str(DRIVER), str(workers), *(str(f.path) for f in many_files)], check)

    assert shared_lines == []
    assert wrong_place == []
    assert most_bars <= len(AGGREGATES) + slots
    # file bars only ever sit on the pool's lines, right under the aggregates, and the lines are reused
    assert file_lines_used and file_lines_used <= set(range(3, 3 + slots))
    assert len(files_seen) > slots
    # at the end: the three aggregate bars, full, and nothing unfinished
    final_bars = [line for line in final if _is_bar(line)]
    assert [line.split()[0] for line in final_bars] == list(AGGREGATES)
    assert all("100%" in line for line in final_bars)
    rows = sum(f.rows for f in many_files)
    assert any(f"rows_loaded={rows} in_table={rows}" in line for line in final)
    assert any(line.startswith(f"Done: {rows:,} rows into T from {len(many_files)} files") for line in final)
