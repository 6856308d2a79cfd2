"""The one thread that draws while a load runs.

It pulls a snapshot at the view's interval and hands it to the view; workers never draw. If a
view fails, drawing stops and the load goes on: progress is never worth a lost load.
"""

from __future__ import annotations

import contextvars
import logging
import threading

from ..model import ProgressModel
from . import View

log = logging.getLogger(__name__)


class Refresher:
    def __init__(self, model: ProgressModel, view: View) -> None:
        self._model = model
        self._view = view
        self._stop = threading.Event()
        # In a copy of the starting context: on ipykernel 7 that is what ties the messages this
        # thread sends to the cell that started the load.
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run,), name="snowload-refresher", daemon=True)

    def start(self) -> Refresher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        # A first draw at once: a load that ends within one interval still shows how it began
        # (the log's first line names the load before its end changes the title).
        while True:
            try:
                self._view.draw(self._model.snapshot())
            except Exception:
                log.exception("the progress view failed; the load goes on without it")
                return
            if self._stop.wait(self._view.refresh_interval):
                return
