"""Bad input: each bad file fails alone with its reason; the others load; none of it reaches the table."""

from __future__ import annotations

import html
import os
import shutil

import pytest
from conftest import expected_facts, load_without_file_powers, table_facts

import snowload_nb as sl
from snowload_nb.demo import write_csv

HEADER = "id,file_no,name,amount,at,note\n"
ROW = "{id},0,name,1.5,2026-01-02 03:04:05,note\n"


@pytest.fixture
def good(tmp_path):
    return write_csv(tmp_path / "good.csv", 0, 1, 500)


def load(conn, table, paths, **options):
    options = {"workers": 3, "progress": "none", **options}
    return sl.Loader(conn, table, **options).load([str(p) for p in paths])


def outcome(result, name):
    (match,) = [f for f in result.files if os.path.basename(f.path) == name or f.path.endswith(name)]
    return match.status, match.error


BAD_FILES = {
    "empty.csv": (b"", "is empty (not even a header row)"),
    "garbage.csv": (bytes(range(256)) * 40, "line 1: a NUL byte, so this is binary data, not CSV text"),
    "latin1.csv": (
        (HEADER + ROW.format(id=900) + "901,0,caf\xe9,1.5,2026-01-02 03:04:05,x\n").encode("latin-1"),
        "line 3: bytes that are not UTF-8 (0xe9 at byte",
    ),
    "wrong_type.csv": (
        (HEADER + ROW.format(id=900) + ROW.format(id="not-a-number")).encode(),
        "Line: 3",
    ),
    "too_few_fields.csv": (
        (HEADER + ROW.format(id=900) + "901,0,name\n").encode(),
        "line 3: 3 fields where the header has 6",
    ),
    "too_many_fields.csv": (
        (HEADER + ROW.format(id=900) + ROW.format(id=901).replace("note\n", "note,extra\n")).encode(),
        "line 3: 7 fields where the header has 6",
    ),
    "open_quote.csv": ((HEADER + ROW.format(id=900) + '901,0,"never closed,1.5,x,y\n').encode(), "line 3:"),
    "notes.txt": (b"just some text\n", "unknown file type '.txt'"),
}


def test_each_bad_file_fails_alone_with_its_reason(conn, table, tmp_path, good):
    for name, (content, _) in BAD_FILES.items():
        (tmp_path / name).write_bytes(content)
    inputs = [
        good.path,
        *(tmp_path / name for name in BAD_FILES),
        tmp_path / "missing.csv",
        tmp_path / "no_*_match.csv",
    ]

    result = load(conn, table, inputs)

    assert outcome(result, "good.csv") == ("loaded", None)
    for name, (_, reason) in BAD_FILES.items():
        status, error = outcome(result, name)
        assert status == "failed", name
        assert reason in error, (name, error)
    assert outcome(result, "missing.csv") == ("failed", "no such file")
    assert outcome(result, "no_*_match.csv") == ("failed", "no files match this pattern")
    assert table_facts(conn, table) == expected_facts([good])  # nothing of any bad file


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ("30001,0,caf\xe9,1.5,2026-01-02 03:04:05,x\n", "line 30002: bytes that are not UTF-8 (0xe9 at byte"),
        ("30001,0,na\0me,1.5,2026-01-02 03:04:05,x\n", "line 30002: a NUL byte, so this is binary data"),
    ],
    ids=["latin-1", "nul"],
)
def test_a_bad_byte_deep_in_a_file_staged_as_it_is_fails_it_by_its_line(conn, table, tmp_path, good, bad_row, reason):
    """Too big to share a batch and small enough for one part: its text is checked, not copied."""
    rows = "".join(ROW.format(id=i) for i in range(30_000))
    bad = tmp_path / "deep.csv"
    bad.write_bytes((HEADER + rows + bad_row + ROW.format(id=30_002)).encode("latin-1"))
    assert bad.stat().st_size > 1_000_000

    result = load(conn, table, [good.path, bad], compression="none")

    assert outcome(result, "good.csv") == ("loaded", None)
    status, error = outcome(result, "deep.csv")
    assert status == "failed" and reason in error, error
    assert table_facts(conn, table) == expected_facts([good])


@pytest.mark.parametrize("progress", ["log", "tqdm", "widget"])
def test_the_wrong_type_error_names_the_value_and_the_line_in_every_view(
    conn, table, tmp_path, good, capsys, monkeypatch, progress
):
    import snowload_nb.loader as loader_module

    views = []
    make_view = loader_module.make_view
    monkeypatch.setattr(loader_module, "make_view", lambda *a, **k: views.append(make_view(*a, **k)) or views[-1])
    bad = tmp_path / "wrong_type.csv"
    bad.write_text(HEADER + ROW.format(id=900) + ROW.format(id="not-a-number"))

    result = load(conn, table, [good.path, bad], progress=progress)

    error = outcome(result, "wrong_type.csv")[1]
    assert "Line: 3" in error and "not-a-number" in error
    shown = capsys.readouterr().err if progress != "widget" else views[0]._finished.value
    assert "wrong_type.csv" in shown
    assert (error if progress != "widget" else html.escape(error)) in shown


def test_a_header_only_csv_loads_its_zero_rows(conn, table, tmp_path, good):
    header_only = tmp_path / "header_only.csv"
    header_only.write_text(HEADER)
    result = load(conn, table, [good.path, header_only])
    assert [(f.status, f.rows_loaded) for f in result.files] == [("loaded", good.rows), ("loaded", 0)]
    assert table_facts(conn, table) == expected_facts([good])


def test_a_folder_means_the_data_files_directly_in_it(conn, table, tmp_path):
    folder = tmp_path / "folder"
    (folder / "nested").mkdir(parents=True)
    a = write_csv(folder / "a.csv", 0, 1, 10)
    b = write_csv(folder / "b.csv", 1, 11, 10)
    write_csv(folder / "nested" / "c.csv", 2, 21, 10)  # not loaded: folders are not recursive
    (folder / "readme.md").write_text("not data")
    empty = tmp_path / "empty_folder"
    empty.mkdir()

    result = load(conn, table, [folder, empty])

    assert sorted((os.path.basename(f.path), f.status) for f in result.files) == [
        ("a.csv", "loaded"), ("b.csv", "loaded"), ("empty_folder", "failed"),
    ]  # fmt: skip
    assert "is a folder with no data files in it" in outcome(result, "empty_folder")[1]
    assert table_facts(conn, table) == expected_facts([a, b])


def test_format_reads_any_name_as_that_format(conn, table, tmp_path):
    data = write_csv(tmp_path / "data.csv", 0, 1, 50)
    renamed = tmp_path / "export.txt"
    shutil.copy(data.path, renamed)
    result = load(conn, table, [renamed], format="csv")
    assert [f.status for f in result.files] == ["loaded"]
    assert table_facts(conn, table) == expected_facts([data])


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("workers", 0, "workers must be an integer >= 1"),
        ("progress", "fancy", "progress must be one of"),
        ("format", "xml", "format must be one of auto, csv, parquet; got 'xml'"),
        ("compression", "brotli", "compression must be one of auto, gzip, zstd, none"),
        ("compression_level", 42, "compression_level must be in"),
        ("part_size_mb", 0, "part_size_mb must be a positive number"),
        ("retries", -1, "retries must be an integer >= 0"),
    ],
)
def test_invalid_options_are_refused_before_any_work(conn, tmp_path, option, value, message, private_tmp):
    with pytest.raises(ValueError, match=message):
        sl.Loader(conn, "NEVER_CREATED", **{option: value})
    assert list(private_tmp.iterdir()) == []


def test_a_file_this_process_may_not_read_fails_with_permission_denied(tmp_path, good):
    locked = tmp_path / "locked.csv"
    locked.write_text(HEADER + ROW.format(id=900))
    locked.chmod(0)
    tmp_path.chmod(0o755)
    report = load_without_file_powers([str(locked), str(good.path)])
    assert report == {"files": [["failed", "cannot be read: permission denied"], ["loaded", None]], "rows": good.rows}
