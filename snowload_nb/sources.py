"""From what the user typed (paths, globs, folders) to the list of files to load.

Problems with an input (nothing there, a glob that matches nothing) are returned beside the
files rather than raised, so one mistyped path never stops the others from loading.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .sql import Compression, FileFormat

# What a file name's ending says about its contents; compressed CSV is staged as it is.
_SUFFIXES = {
    ".csv": (FileFormat.CSV, Compression.NONE),
    ".csv.gz": (FileFormat.CSV, Compression.GZIP),
    ".csv.zst": (FileFormat.CSV, Compression.ZSTD),
    ".parquet": (FileFormat.PARQUET, Compression.NONE),
    ".pq": (FileFormat.PARQUET, Compression.NONE),
}
KNOWN_SUFFIXES = ", ".join(_SUFFIXES)
_STAGED_SUFFIXES = {(f, c): suffix for suffix, (f, c) in reversed(_SUFFIXES.items())}
_GLOB_CHARS = re.compile(r"[*?\[]")
_FRAMES = ("pandas", "polars", "pyarrow")


@dataclass(frozen=True)
class SourceFile:
    """A local file to load, with the facts that decide its staged name."""

    path: Path  # absolute
    given: str  # as the user named it, for messages
    size: int
    mtime_ns: int
    format: FileFormat
    compression: Compression  # as found on disk: NONE means snowload may compress it

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
    def stem(self) -> str:
        """The name without its data suffix, made safe anywhere (SQL, URLs, any file system)."""
        name = self.path.name[: len(self.path.name) - len(_suffix_of(self.path.name) or "")]
        return (re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file")[:80]

    @property
    def staged_name(self) -> str:
        """The file's name on the stage when it is staged as it is."""
        return self.stem + (_suffix_of(self.path.name) or _STAGED_SUFFIXES[self.format, self.compression])


@dataclass(frozen=True)
class InputProblem:
    """An input that names no loadable file, and why."""

    given: str
    reason: str


ACCEPTED_INPUTS = "a path, a str, or an iterable of them (files, globs and folders)"


def check_inputs(inputs: object, caller: str = "load()") -> list[str]:
    """The inputs as strings, or a TypeError that names what is accepted.

    Checked in full before anything else happens: a wrong type is a programming error, refused
    before a table is created or a file staged, not a bad file among good ones.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    elif isinstance(inputs, (bytes, bytearray, memoryview)) or not isinstance(inputs, Iterable):
        raise TypeError(f"{caller} takes {ACCEPTED_INPUTS}; got {_kind(inputs)}")
    elif type(inputs).__name__ in ("DataFrame", "Table") and type(inputs).__module__.split(".")[0] in _FRAMES:
        raise TypeError(f"{caller} takes {ACCEPTED_INPUTS}; got {_kind(inputs)}: use load_dataframe() for frames")
    given: list[str] = []
    for item in inputs:
        text = os.fspath(item) if isinstance(item, (str, os.PathLike)) else None
        if not isinstance(text, str):
            raise TypeError(f"{caller} takes {ACCEPTED_INPUTS}; got {_kind(item)} among the paths")
        given.append(text)
    return given


def _kind(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:59] + '…'}"


def expand(
    inputs: Iterable[str | os.PathLike[str]] | str | os.PathLike[str], file_format: FileFormat | None = None
) -> list[SourceFile | InputProblem]:
    """Files to load, in the order given (globs and folders sorted), each once, and the misses.

    `file_format` reads every file as that format whatever its name (a .txt that is CSV). An input
    that cannot be looked at (a symlink loop, a folder it may not list) is a miss, never a raise:
    one such path must not stop the others from loading.
    """
    entries: list[SourceFile | InputProblem] = []
    seen: set[Path] = set()
    for given in check_inputs(inputs):
        try:
            candidates = _candidates(given)
        except (OSError, ValueError) as exc:
            entries.append(InputProblem(given, _unreadable(exc)))
            continue
        for candidate, problem in candidates:
            if problem is not None:
                entries.append(InputProblem(candidate, problem))
                continue
            try:
                path = Path(candidate).expanduser().resolve()
            except (OSError, RuntimeError, ValueError) as exc:  # RuntimeError: a symlink loop
                entries.append(InputProblem(candidate, _unreadable(exc)))
                continue
            if path in seen:
                continue
            seen.add(path)
            entries.append(_describe(path, candidate, file_format))
    return entries


def _unreadable(exc: BaseException) -> str:
    """Why a path cannot even be looked at, in words rather than an exception's repr."""
    if isinstance(exc, RuntimeError) or (isinstance(exc, OSError) and exc.errno == errno.ELOOP):
        return "is a symbolic link loop: it points back at itself"
    if isinstance(exc, OSError):
        return f"cannot be read: {(exc.strerror or str(exc)).lower()}"
    return f"is not a usable path: {exc}"


def detect_format(path: Path) -> tuple[FileFormat, Compression] | None:
    suffix = _suffix_of(path.name)
    return _SUFFIXES[suffix] if suffix else None


def _compression_of(name: str) -> Compression:
    lowered = name.lower()
    if lowered.endswith(".gz"):
        return Compression.GZIP
    if lowered.endswith(".zst"):
        return Compression.ZSTD
    return Compression.NONE


def _suffix_of(name: str) -> str | None:
    lowered = name.lower()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            return suffix
    return None


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
            return [(given, f"is a folder with no data files in it ({KNOWN_SUFFIXES})")]
        return [(m, None) for m in inside]
    return [(given, None)]


def _describe(path: Path, given: str, file_format: FileFormat | None) -> SourceFile | InputProblem:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return InputProblem(given, "no such file")
    except OSError as exc:
        return InputProblem(given, _unreadable(exc))
    if not path.is_file():
        return InputProblem(given, "is not a regular file")
    detected = detect_format(path)
    if file_format is not None:
        compression = detected[1] if detected else _compression_of(path.name)
        detected = (file_format, Compression.NONE if file_format is FileFormat.PARQUET else compression)
    if detected is None:
        suffix = "".join(path.suffixes[-2:]) or "(no extension)"
        return InputProblem(given, f"unknown file type {suffix!r}: snowload_nb loads {KNOWN_SUFFIXES} files")
    if stat.st_size == 0:
        return InputProblem(given, "is empty (not even a header row)")
    try:  # permissions, as the operating system applies them to this process
        open(path, "rb").close()
    except OSError as exc:
        return InputProblem(given, f"cannot be read: {(exc.strerror or str(exc)).lower()}")
    return SourceFile(path, given, stat.st_size, stat.st_mtime_ns, *detected)
