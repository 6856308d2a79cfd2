"""snowload_nb: load local files and DataFrames into Snowflake, fast, with live progress.

import snowload_nb as sl
conn = sl.connect_local()                  # or any snowflake.connector connection
result = sl.Loader(conn, table="EVENTS", workers=4).load(["data/*.csv"])
"""

from .errors import LoadError
from .loader import Loader
from .local import connect_local
from .result import FileResult, LoadResult

__all__ = ["FileResult", "LoadError", "LoadResult", "Loader", "connect_local"]
__version__ = "0.1.0"
