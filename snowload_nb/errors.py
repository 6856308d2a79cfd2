"""Turning exceptions into the one or two lines a user reads next to a file name."""

from __future__ import annotations

import re

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


class LoadError(Exception):
    """A load could not start (the stage or table could not be prepared)."""


class ConnectionInUse(LoadError):
    """Another load is using the connection: one connection carries one load at a time."""


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
