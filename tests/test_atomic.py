"""atomic=True: all files or none."""

from __future__ import annotations

from conftest import expected_facts, table_facts

import snowload_nb as sl
from snowload_nb.demo import write_csv


def test_one_bad_file_leaves_the_table_exactly_as_it_was(conn, table, tmp_path):
    before = write_csv(tmp_path / "before.csv", 0, 1, 100)
    sl.Loader(conn, table, progress="none").load([str(before.path)])
    good = [write_csv(tmp_path / f"good_{k}.csv", k + 1, 1000 * (k + 1), 300) for k in range(4)]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,file_no,name,amount,at,note\n9,9,x,1.5,2026-01-01 00:00:00,y\nnot-a-number,9,x,1,2026-01-01,y\n")

    result = sl.Loader(conn, table, workers=3, progress="none", atomic=True).load(
        [*(str(g.path) for g in good[:2]), str(bad), *(str(g.path) for g in good[2:])]
    )

    assert not result.ok and result.rows_loaded == 0
    statuses = {f.path.rsplit("/", 1)[-1]: (f.status, f.error) for f in result.files}
    assert statuses["bad.csv"][0] == "failed" and "not-a-number" in statuses["bad.csv"][1]
    for g in good:
        assert statuses[g.path.name] == ("failed", "rolled back: the load is all or nothing and bad.csv failed")
    assert table_facts(conn, table) == expected_facts([before])

    # nothing was recorded as loaded either: without the bad file, the same files load in full
    again = sl.Loader(conn, table, workers=3, progress="none", atomic=True).load([str(g.path) for g in good])
    assert again.ok and [f.status for f in again.files] == ["loaded"] * 4
    assert table_facts(conn, table) == expected_facts([before, *good])


def test_a_missing_input_means_nothing_is_copied(conn, table, tmp_path):
    good = write_csv(tmp_path / "good.csv", 0, 1, 100)
    result = sl.Loader(conn, table, progress="none", atomic=True).load([str(good.path), str(tmp_path / "gone.csv")])

    assert [(f.status, f.error) for f in result.files] == [
        ("failed", "not loaded: the load is all or nothing and gone.csv failed"),
        ("failed", "no such file"),
    ]
    assert table_facts(conn, table) == (0, 0, 0)


def test_an_atomic_load_of_good_files_loads_them_all(conn, table, mixed_files):
    result = sl.Loader(conn, table, workers=4, progress="none", atomic=True).load([str(f.path) for f in mixed_files])
    assert result.ok
    assert table_facts(conn, table) == expected_facts(mixed_files)
