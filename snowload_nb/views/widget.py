"""The notebook view: one ipywidgets VBox while the load runs, a static HTML record once it ends.

Built and displayed on the calling thread. Only the refresher thread (and the final draw) sets
widget state, and only when a value changed, so the comm traffic is bounded by the refresh rate
whatever the number of files. When the load ends, the same display is replaced by the record
(text/html and text/plain, no widget MIME type), so the saved notebook reads right where no
widget runs; the widgets are then closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ..env import in_jupyter_kernel
from ..model import PHASES, FileSnapshot, LoadState, Phase, PhaseSnapshot, Snapshot
from . import html, text
from .cell import CellDisplay

MIN_FILE_ROWS = 8
RECENT_FINISHED = 100  # while running, the finished list shows the latest ones only
_BAR_STEPS = 1000  # bar values are rounded to this many steps: no message for invisible change


def _assign(widget: Any, **values: Any) -> None:
    """Set traits that differ, so unchanged values send no comm message."""
    for name, value in values.items():
        if getattr(widget, name) != value:
            setattr(widget, name, value)


def _fraction(value: float) -> float:
    return round(value * _BAR_STEPS) / _BAR_STEPS


class _AggregateRow:
    def __init__(self, phase: Phase) -> None:
        self.label = w.Label(phase.label, layout=w.Layout(width="80px"))
        self.bar = w.FloatProgress(value=0.0, min=0.0, max=1.0, layout=w.Layout(width="40%"))
        self.detail = w.Label("")
        self.box = w.HBox([self.label, self.bar, self.detail])

    def draw(self, phase: PhaseSnapshot, running: bool) -> None:
        _assign(self.bar, value=_fraction(phase.fraction))
        _assign(self.detail, value=text.phase_line(phase, running=running))

    def end(self, phase: PhaseSnapshot, state: LoadState) -> None:
        if phase.files_dropped:
            _assign(self.bar, bar_style="warning" if state is LoadState.CANCELLED else "danger")
        else:
            _assign(self.bar, bar_style="success")


class _FileRow:
    """A reusable line for one file at work; hidden while no file holds it.

    An upload or COPY that reports no bytes hides its bar and shows a turning mark and the
    seconds it has run, instead of a bar stuck at 0%.
    """

    def __init__(self) -> None:
        self.name = w.Label("", layout=w.Layout(width="220px"))
        self.phase = w.Label("", layout=w.Layout(width="80px"))
        self.bar = w.FloatProgress(value=0.0, min=0.0, max=1.0, layout=w.Layout(width="30%"))
        self.detail = w.Label("")
        self.box = w.HBox([self.name, self.phase, self.bar, self.detail], layout=w.Layout(display="none"))

    def show(self, f: FileSnapshot) -> None:
        _assign(self.name, value=f.name, tooltip=f.path)
        _assign(self.phase, value=f.phase.value if f.phase else f.state.value)
        if text.has_byte_progress(f):
            _assign(self.bar, value=_fraction(f.phase_fraction))
            _assign(self.bar.layout, visibility="visible")
            _assign(self.detail, value=text.file_progress(f))
        else:
            _assign(self.bar.layout, visibility="hidden")
            _assign(self.detail, value=f"{text.spinner(f.phase_elapsed)} {text.file_progress(f)}")
        _assign(self.box.layout, display="flex")

    def show_text(self, value: str) -> None:
        """The last row as a note: "… and K more"."""
        _assign(self.name, value=value, tooltip="")
        _assign(self.phase, value="")
        _assign(self.bar.layout, visibility="hidden")
        _assign(self.detail, value="")
        _assign(self.box.layout, display="flex")

    def hide(self) -> None:
        _assign(self.box.layout, display="none")


class WidgetView:
    """Header, what the workers do, three aggregate bars, a pool of file rows, and the finished files."""

    refresh_interval = 0.2

    def __init__(
        self, workers: int, on_cancel: Callable[[], None], background: bool = False, show: bool = True
    ) -> None:
        self._header = w.HTML("")
        self._activity = w.Label("")
        self._cancel = w.Button(
            description="Cancel",
            icon="stop",
            button_style="warning",
            tooltip="Stop this load" if background else "Use the notebook's Interrupt (■) to stop a running cell",
            layout=w.Layout(width="auto"),
        )
        self._cancel.on_click(lambda _: on_cancel())
        self._aggregates = [_AggregateRow(phase) for phase in PHASES]
        self._rows = [_FileRow() for _ in range(max(workers, MIN_FILE_ROWS))]
        self._holder: dict[int, _FileRow] = {}  # file index -> its row
        self._more = w.Label("")
        self._waiting = w.Label("")
        self._finished = w.HTML("")
        self._finished_drawn = -1
        self.box = w.VBox(
            [
                w.HBox([self._header, self._cancel], layout=w.Layout(justify_content="space-between")),
                self._activity,
                *(row.box for row in self._aggregates),
                w.VBox([row.box for row in self._rows]),
                self._more,
                self._waiting,
                self._finished,
            ]
        )
        self.record_html = ""
        self.record_text = ""
        # Outside a kernel (a script forcing progress="widget", a benchmark) the widgets are built
        # and updated but shown nowhere: display() there would print their repr.
        self._cell = CellDisplay(_Live(self)) if show and in_jupyter_kernel() else None

    @property
    def visible_file_rows(self) -> int:
        return sum(1 for row in self._rows if row.box.layout.display != "none")

    @property
    def max_file_rows(self) -> int:
        return len(self._rows)

    def draw(self, snapshot: Snapshot) -> None:
        _assign(self._header, value=html.header(snapshot))
        _assign(self._activity, value=text.activity_line(snapshot))
        for row, phase in zip(self._aggregates, snapshot.phases, strict=True):
            row.draw(phase, running=True)
        self._draw_files(snapshot.active)
        _assign(self._waiting, value=text.waiting_line(snapshot))
        self._draw_recent(snapshot)

    def close(self, snapshot: Snapshot) -> None:
        _assign(self._header, value=html.header(snapshot))
        _assign(self._activity, value="")
        for row, phase in zip(self._aggregates, snapshot.phases, strict=True):
            row.draw(phase, running=False)
            row.end(phase, snapshot.state)
        self._draw_files(())
        _assign(self._waiting, value="")
        _assign(self._cancel.layout, display="none")  # nothing left to cancel
        self.record_html, self.record_text = html.record_parts(snapshot)
        rows = [html.row_of(f) for f in sorted(snapshot.finished, key=lambda f: f.index)]  # in the order given
        _assign(self._finished, value=html.scrollable(html.record_html(rows, title="Results"), max_height_px=320))
        if self._cell is not None:
            self._cell.show_record(self.record_html, self.record_text)
            for widget in self._widgets():  # the record replaced them: free the front end's models
                widget.close()

    def _widgets(self) -> list[w.Widget]:
        found: list[w.Widget] = []
        stack: list[w.Widget] = [self.box]
        while stack:
            widget = stack.pop()
            found.append(widget)
            stack.extend(getattr(widget, "children", ()))
            stack.extend(w for w in (getattr(widget, "layout", None), getattr(widget, "style", None)) if w is not None)
        return found

    def _draw_files(self, active: tuple[FileSnapshot, ...]) -> None:
        limit = len(self._rows)
        shown = active if len(active) <= limit else active[: limit - 1]
        wanted = {f.index: f for f in shown}
        for index in [i for i in self._holder if i not in wanted]:
            self._holder.pop(index).hide()
        free = [row for row in self._rows if row not in self._holder.values()]
        for f in shown:
            row = self._holder.get(f.index)
            if row is None:
                row = self._holder[f.index] = free.pop(0)
            row.show(f)
        _assign(self._more, value=text.more_line(len(active) - len(shown)) if len(shown) < len(active) else "")

    def _draw_recent(self, s: Snapshot) -> None:
        count = len(s.finished)
        if count == self._finished_drawn or count == 0:
            return
        self._finished_drawn = count
        recent = [html.row_of(f) for f in s.finished[-RECENT_FINISHED:]]
        _assign(self._finished, value=html.scrollable(html.table(recent, total=count, title=f"Finished ({count})")))


class _Live:
    """What display() shows while the load runs: the widget, with a text and HTML stand-in for
    front ends that cannot show it."""

    def __init__(self, view: WidgetView) -> None:
        self._view = view

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self._view.box.model_id,
            },
            "text/plain": "snowload_nb: loading…",
            "text/html": html.summary("snowload_nb: loading…", "running"),
        }
