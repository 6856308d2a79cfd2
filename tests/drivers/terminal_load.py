"""Runs a load with the terminal view, for tests that watch it through a pseudo-terminal.

usage: terminal_load.py WORKERS FILE...
"""

import sys

import snowload_nb as sl
from snowload_nb import sql
from snowload_nb.demo import DEMO_COLUMNS

conn = sl.connect_local()
conn.cursor().execute(sql.create_table(sql.QualifiedName.parse("T"), DEMO_COLUMNS))
result = sl.Loader(conn, "T", workers=int(sys.argv[1]), progress="tqdm").load(sys.argv[2:])
(count,) = conn.cursor().execute('SELECT COUNT(*) FROM "T"').fetchone()
print(f"RESULT rows_loaded={result.rows_loaded} in_table={count}")
