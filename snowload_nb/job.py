"""`LoadJob`: a load running in the background while the notebook stays usable."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Protocol

from .result import LoadResult


class _Executable(Protocol):
    def execute(self) -> LoadResult: ...

    def cancel(self) -> None: ...


class LoadJob:
    """Handle on a background load: `cancel()`, `done`, `wait()` and `result()`.

    The job's thread runs in a copy of the starting cell's context, so on ipykernel 7 whatever
    it sends (widget updates, the final display update) belongs to that cell, not to whichever
    cell happens to run later.
    """

    def __init__(self, run: _Executable, on_result: Callable[[LoadResult], None] = lambda r: None) -> None:
        self._run = run
        self._on_result = on_result
        self._result: LoadResult | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._main,), name="snowload-job")
        self._thread.start()

    def _main(self) -> None:
        try:
            self._result = self._run.execute()
            self._on_result(self._result)
        except BaseException as exc:  # handed to whoever asks for the result
            self._error = exc
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> None:
        """Stop the load: nothing new starts, running files stop at their next chunk."""
        self._run.cancel()

    def wait(self, timeout: float | None = None) -> LoadResult | None:
        """The result once the load ended, or None if `timeout` seconds passed first.

        Interrupting the wait cancels the load, as interrupting a blocking load does.
        """
        try:
            finished = self._done.wait(timeout)
        except KeyboardInterrupt:
            self.cancel()
            self._done.wait()
            finished = True
        if not finished:
            return None
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result

    def result(self) -> LoadResult:
        """Block until the load ends and return its result."""
        result = self.wait()
        assert result is not None
        return result

    def __repr__(self) -> str:
        if not self.done:
            return "<LoadJob running>"
        return f"<LoadJob {self._result.summary() if self._result else 'failed'}>"
