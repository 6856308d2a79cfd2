"""snowload_nb: load local files and DataFrames into Snowflake, fast, with live progress.

import snowload_nb as sl
conn = sl.connect_local()                  # or any snowflake.connector connection
result = sl.Loader(conn, table="EVENTS", workers=4).load(["data/*.csv"])
"""

from typing import Any

from .errors import ConnectionInUse, LoadError
from .frames import FrameError
from .job import LoadJob
from .loader import Loader
from .local import connect_local
from .result import FileResult, LoadResult

__all__ = [
    "ConnectionInUse",
    "FileResult",
    "FrameError",
    "LoadError",
    "LoadJob",
    "LoadResult",
    "Loader",
    "connect_local",
]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext snowload_nb` registers the `%snowload` line magic."""
    from .magic import load_ipython_extension as register

    register(ipython)


__version__ = "0.1.0"
