"""Which connection each worker uses.

On Snowflake a connection is shareable across threads, each with its own cursor. The embedded
server runs one statement per session at a time, so there (or whenever the caller gives a
factory) every worker gets a session of its own.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from . import sql
from .errors import ConnectionInUse
from .local import give_up, session_factory

_in_use: set[int] = set()
_in_use_lock = threading.Lock()


@contextlib.contextmanager
def exclusive_use(conn: Any) -> Iterator[None]:
    """Hold `conn` for one load; a second load on it fails at once, saying what to do instead.

    Two loads on one connection would interleave their statements and transactions; on the
    embedded server they fail at random with "connection is busy".
    """
    with _in_use_lock:
        if id(conn) in _in_use:
            raise ConnectionInUse(
                "this connection is in use by another load: give each load at once its own connection "
                "(connect_local() again, or snowflake.connector.connect(...)), or pass connect= to open "
                "sessions per load"
            )
        _in_use.add(id(conn))
    try:
        yield
    finally:
        with _in_use_lock:
            _in_use.discard(id(conn))


Waiting = Callable[[], contextlib.AbstractContextManager[object]]


class SessionPool:
    """Lends a cursor to a worker for the span of one step.

    With a factory (the embedded server, or `connect=`), each worker gets a session of its own,
    opened the first time it needs one, by that worker, so sessions log in in parallel and no
    more are opened than there are workers with work. Without one, every worker shares `conn`
    (Snowflake's connections take a cursor per thread) and transactions take turns on it.
    """

    def __init__(self, conn: Any, workers: int, factory: Callable[[], Any] | None = None) -> None:
        self._factory = factory or session_factory(conn)
        self._owned: list[Any] = []
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._serial = threading.Lock()  # one transaction at a time on a shared session
        self._can_open = workers
        self._active: dict[int, tuple[Any, float]] = {}  # cursors running a step, since when
        self._committing = 0  # COMMITs sent and not yet answered
        if self._factory is None:
            for _ in range(workers):
                self._idle.put(conn)

    @property
    def exclusive(self) -> bool:
        """Whether each worker has a session of its own, so a transaction is its alone."""
        return self._factory is not None

    def _take(self, waiting: Waiting | None) -> Any:
        """An idle session, or a new one while fewer are open than workers; else wait for one,
        inside `waiting()` (the progress says so)."""
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            may_open = self._factory is not None and self._can_open > 0
            if may_open:
                self._can_open -= 1
        if not may_open:
            with waiting() if waiting is not None else contextlib.nullcontext():
                return self._idle.get()
        assert self._factory is not None
        try:
            session = self._factory()
        except BaseException:
            with self._lock:
                self._can_open += 1  # the next step that needs one tries again
            raise
        with self._lock:
            self._owned.append(session)
        return session

    @contextlib.contextmanager
    def transaction(self, waiting: Waiting | None = None) -> Iterator[Any]:
        """A cursor in a transaction, committed if the block succeeds, rolled back if it raises."""
        with self._serial if not self.exclusive else contextlib.nullcontext(), self.cursor(waiting) as cursor:
            cursor.execute(sql.BEGIN)
            try:
                yield cursor
            except BaseException:
                with contextlib.suppress(Exception):
                    cursor.execute(sql.ROLLBACK)
                raise
            with self._lock:
                self._committing += 1
            try:
                cursor.execute(sql.COMMIT)
            finally:
                with self._lock:
                    self._committing -= 1

    @property
    def committing(self) -> bool:
        """Whether a COMMIT is on its way: until it answers, nobody knows whether it took effect."""
        return self._committing > 0

    @contextlib.contextmanager
    def cursor(self, waiting: Waiting | None = None) -> Iterator[Any]:
        session = self._take(waiting)
        try:
            cursor = session.cursor()
            with self._lock:
                self._active[id(cursor)] = (cursor, time.monotonic())
            try:
                yield cursor
            finally:
                with self._lock:
                    self._active.pop(id(cursor), None)
                cursor.close()
        finally:
            self._idle.put(session)

    def busy_for(self) -> float:
        """How long the longest-running step has waited on the server, in seconds."""
        with self._lock:
            oldest = min((since for _, since in self._active.values()), default=None)
        return 0.0 if oldest is None else time.monotonic() - oldest

    def abandon(self) -> None:
        """Close the cursors of steps still waiting on the server: the load no longer waits for
        them, and a closed cursor's query-cancel timer sends nothing (against a dead server it
        would print the connector's traceback)."""
        with self._lock:
            active = [cursor for cursor, _ in self._active.values()]
            owned = list(self._owned)
        for session in owned:
            give_up(session)
        for cursor in active:
            with contextlib.suppress(Exception):
                cursor.close()

    def close(self) -> None:
        with self._lock:
            owned, self._owned = self._owned, []
        for session in owned:
            with contextlib.suppress(Exception):
                session.close()
