"""Names: no table name can become more SQL than a name; awkward file names load exactly."""

from __future__ import annotations

import os
from pathlib import PurePosixPath

import sqlglot
from conftest import expected_facts, table_facts
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

import snowload_nb as sl
from snowload_nb import sql
from snowload_nb.demo import DEMO_COLUMNS, write_csv
from snowload_nb.sql import Compression, FileFormat, QualifiedName, StagePath

NASTY = ['"', "'", ";", " ", ".", "--", "/*", "*/", "$$", "\\", "%", "\n", "DROP TABLE x", "é", "🙂", "\t", "`", "()"]
names = (
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(min_size=1, max_size=6)), min_size=1, max_size=6)
    .map("".join)
    .filter(lambda text: text.strip() and "\x00" not in text)
)


def only_statement(text: str) -> exp.Expression:
    statements = [s for s in sqlglot.parse(text, read="snowflake") if s is not None]
    assert len(statements) == 1, text
    return statements[0]


def table_parts(table: exp.Table) -> tuple[str, ...]:
    return tuple(part for part in (table.catalog, table.db, table.name) if part)


@settings(max_examples=300, deadline=None)
@given(names)
def test_every_statement_is_one_statement_of_its_kind_naming_exactly_the_table(name):
    table = QualifiedName.parse(name)
    stage = table.sibling(sql.STAGE_NAME)
    target = StagePath(stage, "0123abcd")

    create = only_statement(sql.create_table(table, DEMO_COLUMNS))
    assert isinstance(create, exp.Create)
    assert table_parts(create.find(exp.Table)) == table.parts

    probe = only_statement(sql.probe_table(table))
    assert isinstance(probe, exp.Select)
    assert table_parts(probe.find(exp.Table)) == table.parts

    copy = only_statement(sql.copy_into(table, target, FileFormat.CSV, Compression.GZIP))
    assert isinstance(copy, exp.Copy)
    assert table_parts(copy.this) == table.parts

    assert isinstance(only_statement(sql.create_stage(stage)), exp.Create)
    assert isinstance(
        only_statement(sql.put(PurePosixPath("/tmp/snowload-x/k/part.0001.csv.gz"), target, Compression.GZIP)), exp.Put
    )


def test_hostile_table_names_are_created_and_loaded_as_names(conn, tmp_path):
    data = write_csv(tmp_path / "rows.csv", 0, 1, 20)
    conn.cursor().execute('CREATE TABLE IF NOT EXISTS "VICTIM" (ID INT)')
    # (A single quote in a name is covered above; the embedded server itself cannot create such a table.)
    for name in ['x"; DROP TABLE "VICTIM"; --', "my table", "a.b c", "Mixed Case", "semi;colon", "ünï"]:
        result = sl.Loader(conn, name, progress="none", create_table=True).load([str(data.path)])
        assert result.ok, (name, result.files)
        (count,) = conn.cursor().execute(f"SELECT COUNT(*) FROM {QualifiedName.parse(name).sql}").fetchone()
        assert count == data.rows
    assert conn.cursor().execute('SELECT COUNT(*) FROM "VICTIM"').fetchone() == (0,)  # still there


def test_file_names_with_awkward_characters_load_exactly(conn, table, tmp_path):
    names = ["with space.csv", "single'quote.csv", 'double"quote.csv', "semi;colon.csv", "per%cent.csv",
             "dol$lar.csv", "back\\slash.csv", "ünïcødé ñame.csv", "日本語.csv"]  # fmt: skip
    files = [write_csv(tmp_path / name, k, 1 + 100 * k, 50) for k, name in enumerate(names)]

    result = sl.Loader(conn, table, workers=4, progress="none").load([str(f.path) for f in files])

    assert [(os.path.basename(f.path), f.status, f.rows_loaded) for f in result.files] == [
        (name, "loaded", 50) for name in names
    ]
    assert table_facts(conn, table) == expected_facts(files)


def test_same_file_name_in_two_folders_never_collide_on_the_stage(conn, table, tmp_path):
    first = write_csv((tmp_path / "jan").mkdir() or tmp_path / "jan" / "events.csv", 0, 1, 40)
    second = write_csv((tmp_path / "feb").mkdir() or tmp_path / "feb" / "events.csv", 1, 1000, 60)

    result = sl.Loader(conn, table, workers=2, progress="none").load([str(first.path), str(second.path)])

    assert [(f.status, f.rows_loaded) for f in result.files] == [("loaded", 40), ("loaded", 60)]
    assert table_facts(conn, table) == expected_facts([first, second])
