"""snowload_nb: load local files and DataFrames into Snowflake, fast, with live progress.

import snowload_nb as sl
conn = sl.connect_local()                  # or any snowflake.connector connection
result = sl.Loader(conn, table="EVENTS", workers=4).load(["data/*.csv"])
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import (
        ConnectionInUse,
        EmbeddedServerError,
        FolderInUse,
        FrameError,
        LoadError,
        LoadFailed,
        SnowloadError,
    )
    from .job import LoadJob
    from .loader import Loader
    from .local import connect_local
    from .result import FileResult, FileStatus, LoadResult

__all__ = [
    "ConnectionInUse",
    "EmbeddedServerError",
    "FileResult",
    "FileStatus",
    "FolderInUse",
    "FrameError",
    "LoadError",
    "LoadFailed",
    "LoadJob",
    "LoadResult",
    "Loader",
    "SnowloadError",
    "connect_local",
]

# Where each public name lives. They are imported on first use: the connector, pyarrow and
# numpy cost about a second, which `import snowload_nb` and `snowload --help` should not pay.
_HOMES = {
    "ConnectionInUse": ".errors",
    "EmbeddedServerError": ".errors",
    "FileResult": ".result",
    "FileStatus": ".result",
    "FolderInUse": ".errors",
    "FrameError": ".errors",
    "LoadError": ".errors",
    "LoadFailed": ".errors",
    "LoadJob": ".job",
    "LoadResult": ".result",
    "Loader": ".loader",
    "SnowloadError": ".errors",
    "connect_local": ".local",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:  # a submodule, as `sl.loader` was once importing the package loaded them all
        try:
            return import_module(f".{name}", __name__)
        except ModuleNotFoundError:
            raise AttributeError(f"module 'snowload_nb' has no attribute {name!r}") from None
    value = getattr(import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext snowload_nb` registers the `%snowload` line magic."""
    from .magic import load_ipython_extension as register

    register(ipython)


__version__ = "0.1.0"
