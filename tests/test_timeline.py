"""result.timeline(): an SVG picture of a real load, one row per file with its phases in time order."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import snowload_nb as sl
from snowload_nb.demo import generate_files

SVG = "{http://www.w3.org/2000/svg}"


def test_the_timeline_draws_every_file_and_its_phases(conn, table, tmp_path):
    files = generate_files(tmp_path, [30_000, 400_000, 2_000_000, 5_000])
    missing = str(tmp_path / "missing.csv")
    result = sl.Loader(conn, table, workers=2, progress="none").load([*(str(f.path) for f in files), missing])
    timeline = result.timeline()

    svg = timeline.to_svg()
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag == f"{SVG}svg"
    rows = root.findall(f"{SVG}g[@class='file']")
    names = [row.find(f"{SVG}text").text for row in rows]
    assert names == [f.path.name for f in files] + ["missing.csv"]  # in the order given
    for f, row in zip(files, rows, strict=False):
        spans = row.findall(f"{SVG}rect")
        kinds = [rect.get("class").split()[1] for rect in spans]
        assert {"compress", "upload", "copy"} <= set(kinds), (f.path.name, kinds)
        starts = [float(rect.get("x")) for rect in spans]
        assert starts == sorted(starts)  # in time order
        for rect, kind in zip(spans, kinds, strict=True):
            title = rect.find(f"{SVG}title").text
            assert re.fullmatch(rf"{re.escape(f.path.name)} · {kind} · \d+\.\d\d s", title), title
    assert rows[-1].findall(f"{SVG}rect") == []  # the missing file never ran
    assert {p.get("class") for p in root.iter(f"{SVG}polyline")} == {
        "throughput compress",
        "throughput upload",
        "throughput copy",
    }

    assert timeline._repr_html_() == svg
    timeline.save(tmp_path / "load.svg")
    assert (tmp_path / "load.svg").read_text(encoding="utf-8") == svg
