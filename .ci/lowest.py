"""Print pyproject.toml's dependencies pinned to their lower bounds, one per line, for pip.

The "lowest" environment installs exactly these: the declared range is the tested range.
"""

import re
import sys
from pathlib import Path

text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
try:
    import tomllib

    requirements = tomllib.loads(text)["project"]["dependencies"]
except ImportError:  # Python 3.10: the list is simple enough to read without a TOML parser
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M)
    requirements = re.findall(r'"([^"]+)"', block[1] if block else "")
for requirement in requirements:
    match = re.fullmatch(r"([A-Za-z0-9_.\[\]-]+)\s*>=\s*([0-9][0-9.]*)\s*(,.*)?", requirement)
    if match is None:
        sys.exit(f"no lower bound to pin in {requirement!r}")
    print(f"{match[1]}=={match[2]}")
