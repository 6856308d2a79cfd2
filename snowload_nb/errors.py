"""Every exception snowload_nb defines, and the one or two lines a user reads for a failure.

The public ones share one base, `SnowloadError` (httpx's shape), so a script can catch
everything this package raises about a load with one `except`; bad arguments stay
`ValueError`/`TypeError`, and Ctrl-C stays `KeyboardInterrupt`. The internal ones, further
down, steer control flow between the package's own modules and never reach a user.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .result import FileResult, LoadResult

__all__ = [
    "ConnectionInUse",
    "EmbeddedServerError",
    "Fix",
    "FolderInUse",
    "FrameError",
    "LoadError",
    "LoadFailed",
    "SnowloadError",
]


class SnowloadError(Exception):
    """The base of every error snowload_nb raises to a user."""


FIX = "{fix}"  # where a LoadError's message says what would make the load work


@dataclass(frozen=True)
class Fix:
    """A Loader option that would make a failed load work: `Fix("create_table", True, "to …")`.

    Each front end words it its own way: the message of the error says `create_table=True`,
    `snowload load` says `--create-table`.
    """

    option: str  # a keyword argument of Loader
    value: object
    effect: str  # what passing it does, as the end of a sentence

    def python(self) -> str:
        return f"pass {self.option}={self.value!r} {self.effect}"


class LoadError(SnowloadError):
    """A load could not start (the stage or table could not be prepared).

    `fix`, when there is one, is the option that would make it work; `worded` says the message
    with the fix in a front end's own words.
    """

    def __init__(self, message: str, fix: Fix | None = None) -> None:
        self.fix = fix
        self._message = message
        super().__init__(self.worded(Fix.python))

    def worded(self, word: Callable[[Fix], str]) -> str:
        if self.fix is None:
            return self._message
        return self._message.replace(FIX, word(self.fix), 1)


class ConnectionInUse(LoadError):
    """Another load is using the connection: one connection carries one load at a time."""


class FrameError(SnowloadError, ValueError):
    """A frame that cannot be loaded as it is: no columns, bad or duplicate names, an unsupported
    type or value. Always raised before a table is created or anything staged. Also a
    ValueError, as it was before the tree existed."""


class EmbeddedServerError(SnowloadError, RuntimeError):
    """The embedded server could not be started or reached (a RuntimeError too, as before)."""


class FolderInUse(EmbeddedServerError):
    """Another process serves the same `local_db` folder."""


class LoadFailed(SnowloadError):
    """`LoadResult.raise_for_status()`: a load ended with files failed or cancelled.

    `failed` holds those files' results and `result` the whole `LoadResult`.
    """

    def __init__(self, result: LoadResult) -> None:
        self.result = result
        self.failed: list[FileResult] = [f for f in result.files if not f.status.ok]
        listed = "; ".join(f"{f.path}: {f.status.word}" + (f" ({f.error})" if f.error else "") for f in self.failed)
        super().__init__(f"{result.summary()}" + (f" — {listed}" if listed else ""))


# Internal control flow: raised and caught inside the package, never shown to a user.


class Cancelled(Exception):
    """Internal: the load was cancelled between two chunks."""


class Rejected(Exception):
    """Internal: the server refused a file's COPY; raised inside a transaction to roll it back."""

    def __init__(self, outcome: Any, item: Any) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome
        self.item = item


class SourceChanged(RuntimeError):
    """Internal: the file on disk is not the one whose bytes were staged."""

    def __init__(self) -> None:
        super().__init__("changed while loading: load it again (nothing of it was loaded)")


class ServerGone(RuntimeError):
    """Internal: a step not tried because an earlier one found the server unreachable."""


class LockBusy(Exception):
    """Internal: another transaction holds a lock slot this COPY needs; try again once it ends."""


class GaveUp(Exception):
    """Internal: raised inside the connector's retry loop once the load stopped waiting."""


class IllegalTransition(RuntimeError):
    """Internal: a model mutator was called out of order, a bug in the caller, never bad input."""


class Refused(ValueError):
    """Internal: a file refused before anything is sent; its reason shows beside its name."""


class NotCsvText(ValueError):
    """Internal: the file is not UTF-8 text: binary data, or text in another encoding."""


class UnsupportedType(ValueError):
    """Internal: a column whose type has no Snowflake counterpart we can load into."""


# Where the embedded server's (DuckDB's) messages stop being about the data and start
# being advice about DuckDB's own API or a dump of its reader settings.
_NOISE_STARTS = (
    "\nColumn ",
    "\nPossible solutions",
    "\nPossible fixes",
    "\nThe search space used was",
    "\n  file = ",
    "\nThis type was auto-detected",
)
_ERRNO_PREFIX = re.compile(r"^\d{6}(?: \(\w{5}\))?: ")
MAX_LENGTH = 500


def describe(exc: BaseException) -> str:
    """A short, secret-free description of why a step failed."""
    message = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
    message = _ERRNO_PREFIX.sub("", str(message))
    for marker in _NOISE_STARTS:
        cut = message.find(marker)
        if cut > 0:
            message = message[:cut]
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    text = " · ".join(lines) if lines else type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror + (f": {exc.filename}" if exc.filename else "")
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1] + "…"
