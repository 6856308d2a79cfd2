"""`import snowload_nb` and `snowload --help` stay cheap: the heavy libraries load at first use."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("snowflake.connector", "pyarrow", "numpy", "pandas", "fakesnow", "ipywidgets", "tqdm")


def imported_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_package_imports_no_heavy_library():
    assert imported_after("import snowload_nb") == []


def test_snowload_help_imports_no_heavy_library():
    code = (
        "import contextlib, io\n"
        "from snowload_nb.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "assert 'serve' in out.getvalue()"
    )
    assert imported_after(code) == []


def test_the_public_names_still_resolve():
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import snowload_nb as sl\n"
            "print(sl.Loader.__name__, sl.LoadResult.__name__, sl.connect_local.__name__, sl.loader.__name__)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert found.stdout.split() == ["Loader", "LoadResult", "connect_local", "snowload_nb.loader"], found.stderr
