"""From what the user typed (paths, globs, folders) to the list of files to load.

Problems with an input (nothing there, a glob that matches nothing) are returned beside the
files rather than raised, so one mistyped path never stops the others from loading.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .sql import FileFormat

_SUFFIX_FORMATS = {
    ".csv": FileFormat.CSV,
    ".parquet": FileFormat.PARQUET,
    ".pq": FileFormat.PARQUET,
}
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class SourceFile:
    """A local file to load, with the facts that decide its staged name."""

    path: Path  # absolute
    given: str  # as the user named it, for messages
    size: int
    mtime_ns: int
    format: FileFormat

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def key(self) -> str:
        """Deterministic and unique per file version: same path, size and mtime, same key.

        It names the file's folder on the stage, so a re-run stages the same names and COPY's
        load history skips what was loaded; a file changed since loads again.
        """
        fingerprint = f"{self.path}\0{self.size}\0{self.mtime_ns}".encode()
        return hashlib.blake2b(fingerprint, digest_size=10).hexdigest()

    @property
    def staged_name(self) -> str:
        """A name safe anywhere (SQL, URLs, every file system), still recognisable."""
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", self.path.name).strip("._") or "file"
        return stem[:80]


@dataclass(frozen=True)
class InputProblem:
    """An input that names no loadable file, and why."""

    given: str
    reason: str


def expand(inputs: Iterable[str | os.PathLike[str]]) -> list[SourceFile | InputProblem]:
    """Files to load, in the order given (globs and folders sorted), each once, and the misses."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    entries: list[SourceFile | InputProblem] = []
    seen: set[Path] = set()
    for item in inputs:
        given = os.fspath(item)
        for candidate, problem in _candidates(given):
            if problem is not None:
                entries.append(InputProblem(candidate, problem))
                continue
            path = Path(candidate).expanduser().resolve()
            if path in seen:
                continue
            seen.add(path)
            entries.append(_describe(path, candidate))
    return entries


def detect_format(path: Path) -> FileFormat | None:
    return _SUFFIX_FORMATS.get(path.suffix.lower())


def _candidates(given: str) -> list[tuple[str, str | None]]:
    expanded = os.path.expanduser(given)
    if _GLOB_CHARS.search(given) and not os.path.exists(expanded):
        matches = sorted(m for m in glob.glob(expanded, recursive=True) if os.path.isfile(m))
        if not matches:
            return [(given, "no files match this pattern")]
        return [(m, None) for m in matches]
    if os.path.isdir(expanded):
        inside = sorted(
            os.path.join(expanded, name)
            for name in os.listdir(expanded)
            if detect_format(Path(name)) is not None and os.path.isfile(os.path.join(expanded, name))
        )
        if not inside:
            return [(given, "is a folder with no .csv or .parquet files in it")]
        return [(m, None) for m in inside]
    return [(given, None)]


def _describe(path: Path, given: str) -> SourceFile | InputProblem:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return InputProblem(given, "no such file")
    except OSError as exc:
        return InputProblem(given, f"cannot be read: {exc.strerror or exc}")
    if not path.is_file():
        return InputProblem(given, "is not a regular file")
    file_format = detect_format(path)
    if file_format is None:
        suffix = path.suffix or "(no extension)"
        return InputProblem(given, f"unknown file type {suffix!r}: snowload_nb loads .csv and .parquet files")
    if stat.st_size == 0:
        return InputProblem(given, "is empty (not even a header row)")
    return SourceFile(path, given, stat.st_size, stat.st_mtime_ns, file_format)
