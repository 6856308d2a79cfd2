"""The terminal view, seen on an emulated screen of several sizes: whole figures, one block, no stale lines."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from pty_screen import run_on_screen

from snowload_nb.demo import generate_files
from snowload_nb.model import FileState, Phase, ProgressModel, Wait
from snowload_nb.views.terminal import TerminalView

DRIVER = Path(__file__).parent / "drivers" / "terminal_load.py"
AGGREGATES = ("Compress", "Upload", "Copy")
# An aggregate line holds whole fields only: a figure cut short would not match.
AGGREGATE_LINE = re.compile(
    r"^(Compress|Upload|Copy) +\d+%\|[ ▏▎▍▌▋▊▉█]*\|"
    r"( [\d,]+/[\d,]+ files( · [\d,]+(\.\d+)?( [kMG]?B)?/[\d,]+(\.\d+)? [kMG]?B)?( · [\d,]+\.\d (kB|MB|files)/s)?"
    r"( · ETA \d+:\d\d)?( · [\d,]+ rows)?( · [\d,]+ rows/s)?)?$"
)
# A file's row, or a batch's ("batch 3: 12 files") in place of the small files it loads.
FILE_LINE = re.compile(r"^  (batch \d+: [\d,]+ files|\S+) +(compress|upload|copy) +(\d+%|[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏])")


@pytest.fixture(scope="module")
def many_files(tmp_path_factory):
    return generate_files(tmp_path_factory.mktemp("terminal"), [40_000, 400_000, 0, 2_000_000, 8_000] * 8)


def _is_bar(line: str) -> bool:
    return "%|" in line and line.startswith(AGGREGATES)


@pytest.mark.parametrize(
    ("columns", "lines", "workers", "resize_to"),
    [(80, 24, 3, None), (60, 24, 10, None), (120, 40, 1, None), (120, 40, 4, (70, 24))],
    ids=["80x24", "60x24", "120x40", "120x40-resized-to-70x24"],
)
def test_the_block_fits_the_terminal_and_is_drawn_once(many_files, columns, lines, workers, resize_to):
    slots = min(workers, 8)
    size = [columns, lines]
    problems: list[str] = []
    file_names: set[str] = set()
    most_file_lines = 0
    screens = 0

    def check(screen: list[str], cursor: int) -> tuple[int, int] | None:
        nonlocal most_file_lines, screens
        screens += 1
        width = size[0]
        text = [line.rstrip() for line in screen[:cursor]]  # whole lines: a read may end mid-line
        for label in AGGREGATES:
            found = [n for n, line in enumerate(text) if line.startswith(label + " ")]
            if len(found) > 1:
                problems.append(f"{len(found)} {label} lines on one screen:\n" + "\n".join(text))
        # the block, not the summary printed under it at the end, which wraps as any printed line does
        block = text[: next((n for n, line in enumerate(text) if line.startswith("Done: ")), len(text))]
        for line in block:
            if len(line) >= width:
                problems.append(f"a line as wide as the terminal ({width}): {line!r}")
            if line.startswith(AGGREGATES) and not AGGREGATE_LINE.match(line):
                problems.append(f"aggregate line with a cut or missing figure at {width} columns: {line!r}")
        top = next((n for n, line in enumerate(text) if line.startswith("Compress")), None)
        if top is not None and top + 3 <= len(text):
            for offset, label in enumerate(AGGREGATES):
                if not text[top + offset].startswith(label):
                    problems.append(f"{label} not on line {top + offset}:\n" + "\n".join(text))
            rows = [m.group(1) for line in text[top + 3 :] if (m := FILE_LINE.match(line))]
            most_file_lines = max(most_file_lines, len(rows))
            file_names.update(rows)
        if resize_to and screens == 40:
            size[:] = resize_to
            return resize_to
        return None

    argv = [sys.executable, str(DRIVER), str(workers), *(str(f.path) for f in many_files)]
    final = [line.rstrip() for line in run_on_screen(argv, check, columns=columns, lines=lines)]

    assert problems == []
    assert most_file_lines <= slots
    assert len(file_names) > slots  # lines are handed on from file to file
    # at the end: the three aggregate bars, full, nothing unfinished, and the true row count
    assert [line.split()[0] for line in final if _is_bar(line)] == list(AGGREGATES)
    assert all("100%" in line for line in final if _is_bar(line))
    assert not [line for line in final if FILE_LINE.match(line)]
    rows = sum(f.rows for f in many_files)
    assert any(f"rows_loaded={rows} in_table={rows}" in line for line in final)
    done = [line for line in final if line.startswith("Done: ")]
    assert len(done) == 1 and done[0].startswith(f"Done: {rows:,} rows into T from {len(many_files)} files"), final


def _chunk_load(chunks: int, staged: int, working: int) -> ProgressModel:
    model = ProgressModel("T", workers=4, unit="chunk")
    ids = [model.add_file(f"rows {k * 100 + 1}-{k * 100 + 100}", f"DataFrame[{k}]", 1000) for k in range(chunks)]
    model.start()
    for k in ids[:staged]:
        for phase in (Phase.COMPRESS, Phase.UPLOAD):
            model.begin(k, phase)
            model.complete(k, phase)
        model.wait(k, Wait.STAGED)
    for k in ids[staged : staged + working]:
        model.begin(k, Phase.COMPRESS)
        model.advance(k, Phase.COMPRESS, 300)
    return model


def test_staged_chunks_wait_below_the_rows_being_worked_on():
    model = _chunk_load(chunks=20, staged=6, working=3)
    snap = model.snapshot()
    block = TerminalView(4).lines(snap, 80, 24)
    working = {f.name for f in snap.active}
    assert {f.state for f in snap.active} == {FileState.COMPRESSING} and len(working) == 3
    shown = [line.split(" compress ")[0].strip() for line in block if " compress " in line]
    assert sorted(shown) == sorted(working)
    assert not any(" upload " in line or " copy " in line for line in block)
    assert "  + 6 staged, waiting for the final COPY" in block
    assert block[0].startswith("3 compressing · 6 staged · 11 queued")


def test_more_files_at_work_than_lines_end_with_a_count():
    model = _chunk_load(chunks=20, staged=0, working=12)
    block = TerminalView(8).lines(model.snapshot(), 80, 24)
    rows = [line for line in block if " compress " in line]
    assert len(rows) == 7
    assert block[3 + 1 + 7] == "  … and 5 more"
