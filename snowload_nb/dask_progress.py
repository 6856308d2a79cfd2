"""The workers' Dask events, as calls on the notebook's progress model: one partition, one row.

Events arrive on the Dask client's thread, and the task's result by its future, in no promised
order; a partition Dask runs again (its worker was lost) reports its steps a second time. So each
partition only moves forward: a step is applied once, and a step at or behind where the partition
already is changes nothing. Only this process touches the model; the refresher thread draws it.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from .dask_worker import CONVERT, CONVERTED, PART, STAGED, UPLOAD, Staged
from .errors import IllegalTransition
from .model import Phase, ProgressModel, Wait

# How far along a step puts a partition; an upload of chunk n is UPLOAD + n.
_LEVEL = {CONVERT: 1, CONVERTED: 2, UPLOAD: 3}
_STAGED_LEVEL = 1 << 30


class PartitionProgress:
    """Moves each partition's row forward as its worker reports, and counts the busy workers."""

    def __init__(self, model: ProgressModel, indices: dict[int, int]) -> None:
        self._model = model
        self._indices = indices  # partition number -> the model's row
        self._level: dict[int, int] = dict.fromkeys(indices, 0)
        self._sized: set[int] = set()
        self._busy: dict[int, str] = {}  # partition -> the worker reporting it
        self._lock = threading.Lock()

    def on_event(self, event: Any) -> None:
        """A `Client.subscribe_topic` handler: `event` is (time, message)."""
        _, message = event
        try:
            partition = int(message["partition"])
            step = str(message["step"])
        except (KeyError, TypeError, ValueError):
            return
        if partition not in self._indices:
            return
        level = _STAGED_LEVEL if step == STAGED else _LEVEL.get(step, _LEVEL[UPLOAD] + int(message.get("number", 0)))
        with self._lock:
            if level <= self._level[partition]:
                return
            self._level[partition] = level
            if step == STAGED:
                self._busy.pop(partition, None)
            else:
                self._busy[partition] = str(message.get("worker", ""))
            self._model.workers_busy(len(set(self._busy.values())))
            with contextlib.suppress(IllegalTransition):  # the load ended it meanwhile
                self._apply(partition, step, int(message.get("bytes", 0)), int(message.get("staged", 0)))

    def _apply(self, partition: int, step: str, nbytes: int, staged: int = 0) -> None:
        i, model = self._indices[partition], self._model
        if step == CONVERT:
            model.begin(i, Phase.COMPRESS)
        elif step == CONVERTED:
            self._converted(partition, nbytes)
        elif step == UPLOAD:
            model.begin(i, Phase.UPLOAD)
        elif step == PART:  # `nbytes`: its share of the chunks' Parquet; `staged`: what went up
            model.begin(i, Phase.UPLOAD)
            model.staged(i, staged or nbytes)
            model.advance(i, Phase.UPLOAD, nbytes)
        elif step == STAGED:
            model.complete(i, Phase.UPLOAD)
            model.wait(i, Wait.STAGED)

    def _converted(self, partition: int, nbytes: int) -> None:
        i, model = self._indices[partition], self._model
        model.begin(i, Phase.COMPRESS)
        if partition not in self._sized:  # from here the row counts its Parquet bytes
            self._sized.add(partition)
            model.resize(i, max(nbytes, 1))
        model.advance(i, Phase.COMPRESS, nbytes)
        model.complete(i, Phase.COMPRESS)

    def staged(self, result: Staged) -> None:
        """The task's result: whatever of its steps has not arrived as events is applied now."""
        partition = result.index
        with self._lock:
            self._busy.pop(partition, None)
            self._model.workers_busy(len(set(self._busy.values())))
            level = self._level[partition]
            self._level[partition] = _STAGED_LEVEL
            with contextlib.suppress(IllegalTransition):
                if level < _LEVEL[CONVERTED]:
                    self._converted(partition, result.nbytes)
                if result.already_loaded or not result.parts:
                    return
                i = self._indices[partition]
                if level < _LEVEL[UPLOAD]:
                    self._model.begin(i, Phase.UPLOAD)
                if level < _STAGED_LEVEL:
                    self._model.advance(i, Phase.UPLOAD, result.nbytes)
                    self._model.complete(i, Phase.UPLOAD)
                    self._model.wait(i, Wait.STAGED)

    def ended(self, partition: int) -> None:
        """The partition ended without being staged (failed or cancelled): its worker is no longer busy."""
        with self._lock:
            self._busy.pop(partition, None)
            self._level[partition] = _STAGED_LEVEL
            self._model.workers_busy(len(set(self._busy.values())))
