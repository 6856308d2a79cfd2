"""`LoadJob`: a load running in the background while the notebook stays usable."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Protocol

from .result import LoadResult

_WAKE_INTERVAL = 0.1  # s: how soon a wait notices an interrupt


class _Executable(Protocol):
    def execute(self) -> LoadResult: ...

    def cancel(self) -> None: ...


class LoadJob(Future[LoadResult]):
    """A background load, and a real `concurrent.futures.Future` of its `LoadResult`.

    So it works wherever futures do: `done()`, `running()`, `result(timeout)` and
    `exception(timeout)` (both raise `TimeoutError` when the time passes first),
    `add_done_callback`, `concurrent.futures.wait` / `as_completed`, and
    `await asyncio.wrap_future(job)` in a notebook cell.

    `cancel()` differs from a plain future's in one way, because a load that stops still has a
    result: it asks the running load to stop and returns True, and the job then ends with the
    `LoadResult` of a cancelled load (`result().cancelled`), not with `CancelledError`. On a job
    that has already ended it returns False. Interrupting `result()` (or `wait()`) cancels the
    load too, and, as an interrupted blocking load does, raises KeyboardInterrupt once the load
    has wound down; `result()` then returns the cancelled load's result.

    The job's thread runs in a copy of the starting cell's context, so on ipykernel 7 whatever
    it sends (widget updates, the final display update) belongs to that cell, not to whichever
    cell happens to run later.
    """

    def __init__(self, run: _Executable, on_result: Callable[[LoadResult], None] = lambda r: None) -> None:
        super().__init__()
        self._run = run
        self._on_result = on_result
        self.set_running_or_notify_cancel()  # running from the start: the load has begun
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._main,), name="snowload-job")
        self._thread.start()

    def _main(self) -> None:
        try:
            result = self._run.execute()
            self._on_result(result)
        except BaseException as exc:  # handed to whoever asks for the result, as futures do
            self.set_exception(exc)
        else:
            self.set_result(result)

    def cancel(self) -> bool:
        """Stop the load (nothing new starts, running files stop at their next chunk); False if
        it had already ended. The job still ends with a result: the cancelled load's."""
        if self.done():
            return False
        self._run.cancel()
        return True

    def result(self, timeout: float | None = None) -> LoadResult:
        """The load's result once it ends; `TimeoutError` if `timeout` seconds pass first.

        Re-raises whatever stopped the load from running (a `SnowloadError`). Interrupting the
        wait cancels the load, as interrupting a blocking load does: once the load has wound
        down, KeyboardInterrupt goes on to the caller, and the job holds the cancelled result.
        """
        try:
            return self._result_waking(timeout)
        except KeyboardInterrupt:
            if self.done() and self.exception(0) is not None:
                raise
            self.cancel()
            self._wind_down()
            raise

    def _result_waking(self, timeout: float | None) -> LoadResult:
        """`Future.result`, waiting in short steps: Ctrl-C's signal may land on a worker thread,
        and the calling thread, where Python raises KeyboardInterrupt, only sees it once it wakes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = _WAKE_INTERVAL if deadline is None else max(0.0, min(_WAKE_INTERVAL, deadline - time.monotonic()))
            try:
                return super().result(step)
            except FutureTimeout:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    def _wind_down(self) -> None:
        """Wait for the cancelled load to end; a further interrupt only makes it wait on."""
        while True:
            try:
                self.exception()  # waits for the end; the outcome stays in the job
                return
            except KeyboardInterrupt:
                continue

    def wait(self, timeout: float | None = None) -> LoadResult:
        """An alias of `result(timeout)`, kept for the notebooks that call it."""
        return self.result(timeout)

    def __repr__(self) -> str:
        if not self.done():
            return "<LoadJob running>"
        if self.exception(0) is not None:
            return "<LoadJob failed>"
        return f"<LoadJob {self.result(0).summary()}>"
