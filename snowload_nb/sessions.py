"""Which connection each worker uses.

On Snowflake a connection is shareable across threads, each with its own cursor. The embedded
server runs one statement per session at a time, so there (or whenever the caller gives a
factory) every worker gets a session of its own, opened one after another up front.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable, Iterator
from typing import Any

from . import sql
from .local import session_factory


class SessionPool:
    """Lends a cursor to a worker for the span of one step."""

    def __init__(self, conn: Any, workers: int, factory: Callable[[], Any] | None = None) -> None:
        self._owned: list[Any] = []
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        factory = factory or session_factory(conn)
        try:
            for _ in range(workers):
                if factory is None:
                    self._idle.put(conn)
                else:
                    session = factory()
                    self._owned.append(session)
                    self._idle.put(session)
        except BaseException:
            self.close()
            raise

    @property
    def exclusive(self) -> bool:
        """Whether each worker has a session of its own, so a transaction is its alone."""
        return bool(self._owned)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor in a transaction, committed if the block succeeds, rolled back if it raises.

        Only where sessions are exclusive: on a shared session BEGIN would take in the other
        workers' statements. (On Snowflake one COPY is atomic anyway; the embedded server needs
        the transaction to load a file's parts all or nothing.)
        """
        with self.cursor() as cursor:
            if not self.exclusive:
                yield cursor
                return
            cursor.execute(sql.BEGIN)
            try:
                yield cursor
            except BaseException:
                with contextlib.suppress(Exception):
                    cursor.execute(sql.ROLLBACK)
                raise
            cursor.execute(sql.COMMIT)

    @contextlib.contextmanager
    def cursor(self) -> Iterator[Any]:
        session = self._idle.get()
        try:
            cursor = session.cursor()
            try:
                yield cursor
            finally:
                cursor.close()
        finally:
            self._idle.put(session)

    def close(self) -> None:
        for session in self._owned:
            with contextlib.suppress(Exception):
                session.close()
        self._owned.clear()
