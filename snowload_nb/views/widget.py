"""The notebook view: one ipywidgets VBox, built and displayed on the calling thread.

Only the refresher thread (and the final draw) sets widget state, and only when a value
changed, so the comm traffic is bounded by the refresh rate whatever the number of files.
Nothing here prints or calls display() after construction except the final update of the
same display, which carries the text/plain and text/html record of the outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ..env import in_jupyter_kernel
from ..model import PHASES, FileSnapshot, FileState, LoadState, Phase, PhaseSnapshot, Snapshot
from . import html, text

MIN_FILE_ROWS = 8
RECENT_FINISHED = 100  # while running, the finished list shows the latest ones only
_BAR_STEPS = 1000  # bar values are rounded to this many steps: no message for invisible change

_STATE_COLOURS = {
    LoadState.PENDING: "#1565c0",
    LoadState.RUNNING: "#1565c0",
    LoadState.DONE: "#2e7d32",
    LoadState.FAILED: "#c62828",
    LoadState.CANCELLED: "#ef6c00",
}


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
    """A reusable line for one active file; hidden while no file holds it."""

    def __init__(self) -> None:
        self.name = w.Label("", layout=w.Layout(width="220px"))
        self.phase = w.Label("", layout=w.Layout(width="80px"))
        self.bar = w.FloatProgress(value=0.0, min=0.0, max=1.0, layout=w.Layout(width="30%"))
        self.detail = w.Label("")
        self.box = w.HBox([self.name, self.phase, self.bar, self.detail], layout=w.Layout(display="none"))

    def show(self, f: FileSnapshot) -> None:
        _assign(self.name, value=f.name, tooltip=f.path)
        _assign(self.phase, value=f.phase.value if f.phase else f.state.value)
        _assign(self.bar, value=_fraction(f.phase_fraction))
        _assign(self.detail, value=text.file_progress(f))
        _assign(self.box.layout, display="flex")

    def hide(self) -> None:
        _assign(self.box.layout, display="none")


class WidgetView:
    """Header, three aggregate bars, a pool of file rows and the list of finished files."""

    refresh_interval = 0.2

    def __init__(
        self, workers: int, on_cancel: Callable[[], None], background: bool = False, show: bool = True
    ) -> None:
        self._header = w.HTML("")
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
        self._finished = w.HTML("")
        self._finished_drawn = -1
        self.box = w.VBox(
            [
                w.HBox([self._header, self._cancel], layout=w.Layout(justify_content="space-between")),
                *(row.box for row in self._aggregates),
                w.VBox([row.box for row in self._rows]),
                self._finished,
            ]
        )
        self._fallback_text = "snowload_nb: loading…"
        self._fallback_html = html.summary(self._fallback_text, "running")
        # Outside a kernel (a script forcing progress="widget", a benchmark) the widgets are built
        # and updated but shown nowhere: display() there would print their repr.
        self._cell = _CellDisplay(_Display(self)) if show and in_jupyter_kernel() else None

    @property
    def visible_file_rows(self) -> int:
        return sum(1 for row in self._rows if row.box.layout.display != "none")

    @property
    def max_file_rows(self) -> int:
        return len(self._rows)

    def draw(self, snapshot: Snapshot) -> None:
        self._draw_header(snapshot)
        for row, phase in zip(self._aggregates, snapshot.phases, strict=True):
            row.draw(phase, running=True)
        self._draw_files(snapshot.active)
        self._draw_recent(snapshot)

    def close(self, snapshot: Snapshot) -> None:
        self._draw_header(snapshot)
        for row, phase in zip(self._aggregates, snapshot.phases, strict=True):
            row.draw(phase, running=False)
            row.end(phase, snapshot.state)
        self._draw_files(())
        _assign(self._cancel, disabled=True)
        rows = [_row(f) for f in snapshot.finished]
        summary = text.summary_line(snapshot)
        _assign(self._finished, value=html.scrollable(html.table(rows, title="Results"), max_height_px=320))
        self._fallback_text = summary + "\n" + html.plain_table(rows[-html.MAX_ROWS :])
        self._fallback_html = html.summary(summary, snapshot.state.value) + html.table(rows)
        if self._cell is not None:
            self._cell.update(_Display(self))

    def _draw_header(self, s: Snapshot) -> None:
        colour = _STATE_COLOURS[s.state]
        value = (
            f"<b>{html.escape(s.table)}</b> · {text.plural(s.files_total, s.unit)} · {text.size(s.bytes_total)} · "
            f"{text.plural(s.workers, 'worker')} · {text.duration(s.elapsed)} · "
            f"<b style='color:{colour}'>{s.state.value}</b>"
        )
        _assign(self._header, value=value)

    def _draw_files(self, active: tuple[FileSnapshot, ...]) -> None:
        shown = {f.index: f for f in active[: len(self._rows)]}
        for index in [i for i in self._holder if i not in shown]:
            self._holder.pop(index).hide()
        free = [row for row in self._rows if row not in self._holder.values()]
        for f in shown.values():
            row = self._holder.get(f.index)
            if row is None:
                row = self._holder[f.index] = free.pop(0)
            row.show(f)

    def _draw_recent(self, s: Snapshot) -> None:
        count = len(s.finished)
        if count == self._finished_drawn or count == 0:
            return
        self._finished_drawn = count
        recent = [_row(f) for f in s.finished[-RECENT_FINISHED:]]
        _assign(self._finished, value=html.scrollable(html.table(recent, total=count, title=f"Finished ({count})")))


class _CellDisplay:
    """A display in the cell that made it, updatable from any thread and still landing there.

    ipykernel 7 keeps the cell's parent header per context, ipykernel 6 only globally: a plain
    update from a background job would be filed under whichever cell runs at that moment. So the
    parent is read here, on the calling thread, and the update is sent with it explicitly.
    """

    def __init__(self, obj: Any) -> None:
        from IPython import get_ipython
        from IPython.display import display

        self._handle = display(obj, display_id=True)
        shell = get_ipython()
        self._publisher = getattr(shell, "display_pub", None)
        self._parent = dict(getattr(self._publisher, "parent_header", None) or {})

    def update(self, obj: Any) -> None:
        publisher = self._publisher
        session = getattr(publisher, "session", None)
        if self._handle is None:
            return
        if session is None or not self._parent:
            self._handle.update(obj)
            return
        transient = {"display_id": self._handle.display_id}
        content = {"data": obj._repr_mimebundle_(), "metadata": {}, "transient": transient}
        message = session.msg("update_display_data", content, parent=self._parent)
        session.send(publisher.pub_socket, message, ident=publisher.topic)  # type: ignore[union-attr]


class _Display:
    """What display() shows: the live widget, with text and HTML records for where no widget runs."""

    def __init__(self, view: WidgetView) -> None:
        self._view = view

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self._view.box.model_id,
            },
            "text/plain": self._view._fallback_text,
            "text/html": self._view._fallback_html,
        }


def _row(f: FileSnapshot) -> html.Row:
    status = text.status_word(f.state)
    error = None if f.state is FileState.SKIPPED else f.error
    return html.Row(f.name, status, f.rows, f.elapsed, error)
