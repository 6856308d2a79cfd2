"""Which connection each worker uses.

On Snowflake a connection is shareable across threads, each with its own cursor. The embedded
server runs one statement per session at a time, so there (or whenever the caller gives a
factory) every worker gets a session of its own.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from . import sql
from .local import session_factory

Waiting = Callable[[], contextlib.AbstractContextManager[object]]


class SessionPool:
    """Lends a cursor to a worker for the span of one step.

    Sessions of our own are opened one after another on one thread (never from many threads at
    once), in the background, so the first files compress while the later sessions log in; a
    worker that needs a session before one is free waits for it.
    """

    def __init__(self, conn: Any, workers: int, factory: Callable[[], Any] | None = None) -> None:
        self._factory = factory or session_factory(conn)
        self._owned: list[Any] = []
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._opener: threading.Thread | None = None
        if self._factory is None:
            for _ in range(workers):
                self._idle.put(conn)
        else:
            self._opener = threading.Thread(
                target=self._open, args=(self._factory, workers), name="snowload-sessions", daemon=True
            )
            self._opener.start()

    def _open(self, factory: Callable[[], Any], count: int) -> None:
        for _ in range(count):
            try:
                session = factory()
            except Exception as exc:
                if not self._owned:  # nothing to work with: every step fails with the reason
                    self._idle.put(_NoSession(exc))
                return
            self._owned.append(session)
            self._idle.put(session)

    @property
    def exclusive(self) -> bool:
        """Whether each worker has a session of its own, so a transaction is its alone."""
        return self._factory is not None

    @contextlib.contextmanager
    def transaction(self, always: bool = False, waiting: Waiting | None = None) -> Iterator[Any]:
        """A cursor in a transaction, committed if the block succeeds, rolled back if it raises.

        Only where sessions are exclusive, unless `always`: on a shared session BEGIN would take
        in the other workers' statements. (On Snowflake one COPY is atomic anyway; the embedded
        server needs the transaction to load a file's parts all or nothing.) `always` is for
        when no other worker runs any more.
        """
        with self.cursor(waiting) as cursor:
            if not (self.exclusive or always):
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
    def cursor(self, waiting: Waiting | None = None) -> Iterator[Any]:
        """A cursor on an idle session; `waiting()` is entered while none is idle (the progress says so)."""
        try:
            session = self._idle.get_nowait()
        except queue.Empty:
            with waiting() if waiting is not None else contextlib.nullcontext():
                session = self._idle.get()
        if isinstance(session, _NoSession):
            self._idle.put(session)
            raise session.error
        try:
            cursor = session.cursor()
            try:
                yield cursor
            finally:
                cursor.close()
        finally:
            self._idle.put(session)

    def close(self) -> None:
        if self._opener is not None:
            self._opener.join()
        for session in self._owned:
            with contextlib.suppress(Exception):
                session.close()
        self._owned.clear()


class _NoSession:
    """Stands in the queue when no session could be opened, carrying why."""

    def __init__(self, error: Exception) -> None:
        self.error = error
