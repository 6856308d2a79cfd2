"""Two small uploads that tell auto compression the link's rate before any file's codec is chosen.

Without them, every worker picks its first file's codec before any PUT has ended, so a load of
a few files is staged entirely at the default, however slow or fast the link. Two PUTs of
incompressible bytes of different sizes separate a PUT's fixed cost (round trips, the server's
bookkeeping) from its bytes' time, which is all a codec can change. They cost two round trips
and a quarter of a megabyte, and are removed from the stage at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from . import sql
from .errors import describe
from .sql import Compression, QualifiedName, StagePath

logger = logging.getLogger("snowload_nb")

SIZES = (16_384, 262_144)  # bytes: different enough that their times' difference is the link's
PREFIX = "probe_"  # the probe's folder on the stage: probe_<attempt>/


def probe_link(
    cursor: Callable[[], contextlib.AbstractContextManager[Any]],
    stage: QualifiedName,
    attempt: str,
    workdir: Path,
    timed: Callable[[int], contextlib.AbstractContextManager[None]],
) -> None:
    """PUT each of `SIZES` random bytes to `@stage/probe_<attempt>/`, each timed by `timed`,
    then remove them, here and on the stage. A failure teaches nothing and stops nothing: the
    load's own PUTs then measure the link, and meet the failure themselves if it lasts."""
    folder = StagePath(stage, PREFIX + attempt)
    written: list[Path] = []
    try:
        with cursor() as session:
            try:
                for size in SIZES:
                    local = workdir / f"{PREFIX}{size}.bin"
                    local.write_bytes(os.urandom(size))
                    written.append(local)
                    with timed(size):
                        session.execute(sql.put(PurePosixPath(local), folder, Compression.NONE))
            finally:
                session.execute(sql.remove(folder))
    except Exception as exc:
        logger.debug("the link probe failed: %s", describe(exc))
    finally:
        for local in written:
            local.unlink(missing_ok=True)
